import { readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';

/**
 * Reads `.env` from the working directory into `env`, as `.env.example` promises: variables
 * already set in the real environment win, so a deployment can always override the file.
 * Returns the names it set (never their values: the file holds secrets).
 */
export function loadDotEnv(env: NodeJS.ProcessEnv, path = '.env'): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  const set: string[] = [];
  for (const [name, value] of Object.entries(parseEnv(text))) {
    if (env[name] !== undefined) continue;
    env[name] = value;
    set.push(name);
  }
  return set;
}
