import { z } from 'zod';
import { slackPrincipal } from './schema-values.ts';

/**
 * One checklist item: `text` (shown beside its box; a checkbox label holds 75 characters, and
 * Greenlight adds a few), `required` (pre-release: Approve waits for it; post-release: named as
 * required when tracking ends unticked), `owner` (users or user groups mentioned beside a
 * post-release item, who may tick it). A bare string is an item with the defaults.
 */
const checklistItemSchema = z.union([
  z.string().trim().min(1).max(60),
  z.strictObject({
    text: z.string().trim().min(1).max(60),
    required: z.boolean().default(true),
    owner: z
      .union([slackPrincipal, z.array(slackPrincipal).min(1)])
      .transform((o) => (typeof o === 'string' ? [o] : o))
      .optional(),
  }),
]);

const itemsSchema = z
  .array(checklistItemSchema)
  .max(30)
  .transform((items) =>
    items.map((item) => (typeof item === 'string' ? { text: item, required: true } : item)),
  );

/**
 * `checklists: { pre, post }` per service, or per release type under `releaseTypes.<type>`; a
 * list left out falls back to the service's, then to the built-in skeleton; `[]` means none.
 */
export const checklistsSchema = z.strictObject({
  pre: itemsSchema.optional(),
  post: itemsSchema.optional(),
});
