import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { ConfigError, problemsFromZod } from './config-error.ts';
import { type GreenlightConfig, greenlightConfigSchema } from './greenlight-schema.ts';

/** Parses and validates greenlight.yml text; every YAML and schema problem is reported at once. */
export function parseConfig(text: string, source = 'greenlight.yml'): GreenlightConfig {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      source,
      doc.errors.map((error) => {
        const at = error.linePos?.[0];
        return {
          path: at ? `${source}:${at.line}:${at.col}` : source,
          message: error.message.split('\n')[0] ?? error.message,
        };
      }),
    );
  }
  const input: unknown = doc.toJS();
  const result = greenlightConfigSchema.safeParse(input);
  if (!result.success) {
    throw new ConfigError(source, problemsFromZod(result.error.issues, input));
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
