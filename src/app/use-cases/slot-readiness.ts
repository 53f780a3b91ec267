import type { Slot } from '../../domain/slots.ts';
import { defaultSleep, serviceConfig, type Uses } from '../app-deps.ts';

/**
 * Waits until a slot passes its health probe `successes` times in a row and reports `version`.
 * Resolves with the reason it gave up otherwise (the last failure seen).
 */
export async function waitUntilReady(
  deps: Uses<'config' | 'probe' | 'readyTimeoutMs' | 'sleep'>,
  service: string,
  slot: Slot,
  version: string,
): Promise<{ ok: true } | { ok: false; reason: string }> {
  const { health } = serviceConfig(deps, service);
  const sleep = deps.sleep ?? defaultSleep;
  const deadline = Date.now() + (deps.readyTimeoutMs ?? health.readyTimeoutSeconds * 1000);
  let streak = 0;
  let lastProblem = 'no probe ran';
  while (Date.now() < deadline) {
    const probe = await deps.probe.health(service, slot);
    if (probe.ok) {
      const reported = await deps.probe.version(service, slot);
      if (!reported.ok) {
        streak = 0;
        lastProblem = reported.reason;
      } else if (reported.version !== version) {
        streak = 0;
        lastProblem = `it reports version ${reported.version}, expected ${version}`;
      } else {
        streak += 1;
        if (streak >= health.successes) return { ok: true };
      }
    } else {
      streak = 0;
      lastProblem = probe.reason;
    }
    await sleep(health.intervalMs);
  }
  return { ok: false, reason: `not healthy in time: ${lastProblem}` };
}
