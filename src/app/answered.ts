import { defaultSleep, type Uses } from './app-deps.ts';

/**
 * A read that decides whether traffic moves, tried up to three times half a second apart: a slot
 * or proxy that did not answer (a starved process, a reload) says nothing about what is live.
 */
export async function answered<T>(
  deps: Uses<'sleep'>,
  read: () => Promise<T>,
  ok: (value: T) => boolean,
): Promise<T> {
  let value = await read();
  for (let attempt = 1; attempt < 3 && !ok(value); attempt += 1) {
    await (deps.sleep ?? defaultSleep)(500);
    value = await read();
  }
  return value;
}
