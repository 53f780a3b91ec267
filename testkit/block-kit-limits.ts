/**
 * Slack's documented Block Kit limits. The emulator checks every message against them, because
 * real Slack answers `invalid_blocks` (or truncates) where a test would otherwise pass.
 */
export const LIMITS = {
  blocksPerMessage: 50,
  sectionText: 3000,
  sectionFields: 10,
  fieldText: 2000,
  headerText: 150,
  contextElements: 10,
  actionsElements: 25,
  buttonText: 75,
  buttonValue: 2000,
  actionId: 255,
  blockId: 255,
  messageText: 40000,
  checkboxOptions: 10,
  optionText: 75,
  optionValue: 150,
  optionDescription: 75,
} as const;

type Json = Record<string, unknown>;

const textOf = (value: unknown): string =>
  typeof value === 'object' && value !== null && typeof (value as Json).text === 'string'
    ? ((value as Json).text as string)
    : '';

function checkElement(element: Json, where: string, problems: string[]): void {
  if (typeof element.action_id === 'string' && element.action_id.length > LIMITS.actionId) {
    problems.push(`${where}.action_id longer than ${LIMITS.actionId}`);
  }
  if (element.type === 'checkboxes') checkCheckboxes(element, where, problems);
  if (element.type === 'button') {
    if (textOf(element.text).length > LIMITS.buttonText) {
      problems.push(`${where}.text longer than ${LIMITS.buttonText}`);
    }
    if (typeof element.value === 'string' && element.value.length > LIMITS.buttonValue) {
      problems.push(`${where}.value longer than ${LIMITS.buttonValue}`);
    }
  }
}

/** Options within their limits, and initial options that exactly match some of them. */
function checkCheckboxes(element: Json, where: string, problems: string[]): void {
  const options = Array.isArray(element.options) ? (element.options as Json[]) : [];
  if (options.length === 0 || options.length > LIMITS.checkboxOptions)
    problems.push(`${where} has ${options.length} options (1 to ${LIMITS.checkboxOptions})`);
  options.forEach((o, k) => {
    if (textOf(o.text).length > LIMITS.optionText)
      problems.push(`${where}.options[${k}].text longer than ${LIMITS.optionText}`);
    if (typeof o.value !== 'string' || o.value.length > LIMITS.optionValue)
      problems.push(`${where}.options[${k}].value missing or longer than ${LIMITS.optionValue}`);
    const description = o.description as Json | undefined;
    if (description !== undefined && description.type !== 'plain_text')
      problems.push(`${where}.options[${k}].description must be plain_text`);
    if (textOf(description).length > LIMITS.optionDescription)
      problems.push(`${where}.options[${k}].description longer than ${LIMITS.optionDescription}`);
  });
  const initial = Array.isArray(element.initial_options) ? (element.initial_options as Json[]) : [];
  initial.forEach((o, k) => {
    if (!options.some((option) => JSON.stringify(option) === JSON.stringify(o)))
      problems.push(`${where}.initial_options[${k}] does not exactly match an option`);
  });
}

/** Returns a description of every limit a message breaks; empty when Slack would accept it. */
export function blockKitViolations(message: { text?: unknown; blocks?: unknown }): string[] {
  const problems: string[] = [];
  const text = typeof message.text === 'string' ? message.text : '';
  const blocks = Array.isArray(message.blocks) ? (message.blocks as Json[]) : [];
  if (text.length > LIMITS.messageText) problems.push(`text longer than ${LIMITS.messageText}`);
  if (blocks.length > 0 && text.trim() === '') {
    problems.push(
      'blocks without a plain text fallback (notifications and screen readers need it)',
    );
  }
  if (blocks.length > LIMITS.blocksPerMessage) {
    problems.push(`${blocks.length} blocks (limit ${LIMITS.blocksPerMessage})`);
  }
  blocks.forEach((block, i) => {
    const where = `blocks[${i}]`;
    if (typeof block.block_id === 'string' && block.block_id.length > LIMITS.blockId) {
      problems.push(`${where}.block_id longer than ${LIMITS.blockId}`);
    }
    switch (block.type) {
      case 'header':
        if (textOf(block.text).length > LIMITS.headerText)
          problems.push(`${where} header longer than ${LIMITS.headerText}`);
        break;
      case 'section': {
        if (textOf(block.text).length > LIMITS.sectionText)
          problems.push(`${where} section text longer than ${LIMITS.sectionText}`);
        const fields = Array.isArray(block.fields) ? (block.fields as Json[]) : [];
        if (fields.length > LIMITS.sectionFields)
          problems.push(`${where} has ${fields.length} fields (limit ${LIMITS.sectionFields})`);
        fields.forEach((f, j) => {
          if (textOf(f).length > LIMITS.fieldText)
            problems.push(`${where}.fields[${j}] longer than ${LIMITS.fieldText}`);
        });
        if (block.text === undefined && fields.length === 0)
          problems.push(`${where} section needs text or fields`);
        if (typeof block.accessory === 'object' && block.accessory !== null) {
          checkElement(block.accessory as Json, `${where}.accessory`, problems);
        }
        break;
      }
      case 'context': {
        const elements = Array.isArray(block.elements) ? block.elements : [];
        if (elements.length > LIMITS.contextElements)
          problems.push(
            `${where} has ${elements.length} context elements (limit ${LIMITS.contextElements})`,
          );
        break;
      }
      case 'actions': {
        const elements = Array.isArray(block.elements) ? (block.elements as Json[]) : [];
        if (elements.length > LIMITS.actionsElements)
          problems.push(
            `${where} has ${elements.length} elements (limit ${LIMITS.actionsElements})`,
          );
        elements.forEach((e, j) => {
          checkElement(e, `${where}.elements[${j}]`, problems);
        });
        break;
      }
      case 'divider':
      case 'rich_text':
      case 'image':
      case 'input':
        break;
      default:
        problems.push(`${where} has unknown block type ${JSON.stringify(block.type)}`);
    }
  });
  return problems;
}
