import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { ConfigError, keysOf, problemsFromZod } from './config-error.ts';
import { type GreenlightConfig, greenlightConfigSchema } from './greenlight-schema.ts';

const KNOWN_KEYS = keysOf(greenlightConfigSchema);

/** Parses and validates greenlight.yml text; every YAML and schema problem is reported at once. */
export function parseConfig(text: string, source = 'greenlight.yml'): GreenlightConfig {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      source,
      doc.errors.map((error) => {
        const at = error.linePos?.[0];
        // The first line says what is wrong; the excerpt with its caret shows where.
        const [first, ...rest] = error.message.split('\n');
        const excerpt = rest.filter((line) => line.trim() !== '').map((line) => `    ${line}`);
        return {
          path: at ? `${source}:${at.line}:${at.col}` : source,
          message: [first ?? error.message, ...excerpt].join('\n'),
        };
      }),
    );
  }
  const input: unknown = doc.toJS();
  const result = greenlightConfigSchema.safeParse(input);
  if (!result.success) {
    throw new ConfigError(
      source,
      problemsFromZod(result.error.issues, input, () => false, KNOWN_KEYS),
    );
  }
  return result.data;
}

export async function loadConfig(path: string): Promise<GreenlightConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const reason =
      (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : String(error);
    throw new ConfigError(path, [
      { path, message: `${reason}; set GREENLIGHT_CONFIG or copy greenlight.example.yml` },
    ]);
  }
  return parseConfig(text, path);
}
