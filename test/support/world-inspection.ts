import { readFileSync } from 'node:fs';
import {
  bumpAndRequestRelease,
  eventually,
  type ReleaseWorld,
  trafficSplit,
} from '../../testkit/release-world.ts';
import type { EmulatedMessage } from '../../testkit/slack-emulator.ts';

/** What integration tests read off a running world: Redis records, traffic, processes, Slack. */

/** The marker every private refusal carries. */
export const REFUSED = ':no_entry:';

export const front = (w: ReleaseWorld) => w.haproxy.frontendUrl('api');

export const api = (w: ReleaseWorld) => {
  const service = w.services.api;
  if (service === undefined) throw new Error('the world has no api service');
  return service;
};

export const textOf = (m: EmulatedMessage | undefined) =>
  m === undefined ? '' : `${m.text}\n${JSON.stringify(m.blocks)}`;

export const channelText = (w: ReleaseWorld, channel: string) =>
  w.slack.messages(channel).map(textOf).join('\n');

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The alerts channel's "Production restored after a rollback" (mentioning `also`), once the
 * outbox has posted it: the release's record can say rolled back before the alert is out.
 */
export const restoredAlert = (w: ReleaseWorld, also = '', timeoutMs = 30_000) =>
  eventually(
    () =>
      w.slack
        .messages('C0ALERTS')
        .find(
          (m) =>
            textOf(m).includes('Production restored after a rollback') && textOf(m).includes(also),
        ),
    (m) => m !== undefined,
    timeoutMs,
  );

export const releaseKey = (w: ReleaseWorld, id: string) => `{${w.redis.keyPrefix}}:release:${id}`;
export const serviceKey = (w: ReleaseWorld) => `{${w.redis.keyPrefix}}:service:api`;

/** A release's record as Greenlight stored it in Redis. */
export async function releaseRecord(
  w: ReleaseWorld,
  id: string,
): Promise<{ state: string; [key: string]: unknown } | null> {
  const json = await w.redis.redis.hget(releaseKey(w, id), 'json');
  return json === null ? null : JSON.parse(json);
}

export async function serviceRecord(w: ReleaseWorld): Promise<Record<string, unknown> | null> {
  const json = await w.redis.redis.hget(serviceKey(w), 'json');
  return json === null ? null : JSON.parse(json);
}

export const releaseState = async (w: ReleaseWorld, id: string) =>
  (await releaseRecord(w, id))?.state ?? 'missing';

/** Waits until the release is in `state` (read from Redis). */
export const releaseReaches = (w: ReleaseWorld, id: string, state: string, timeoutMs = 20_000) =>
  eventually(
    () => releaseState(w, id),
    (s) => s === state,
    timeoutMs,
  );

/** Waits until HAProxy's frontend sends every request to `slot`. */
export const trafficAllOn = (w: ReleaseWorld, slot: 'blue' | 'green', timeoutMs = 20_000) =>
  eventually(
    () => trafficSplit(front(w)),
    (split) => split[slot] === 10,
    timeoutMs,
    200,
  );

/** `/bump api`, `/release api`, the lead's approval: 2.4.1 goes live on green. */
export async function releaseToGreen(w: ReleaseWorld): Promise<string> {
  const { id } = await bumpAndRequestRelease(w, '2.4.1');
  await w.click('U0LEAD', 'release_approve', id);
  await trafficAllOn(w, 'green');
  await releaseReaches(w, id, 'released');
  return id;
}

/** Whether a process runs: signal 0 reaches it and it is not a zombie (exited, not reaped). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** A pid is the test deploy script of a world this test process started (pids get reused). */
export function isThisFilesDeploy(pid: number): boolean {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return (
      cmdline.includes('deploy-slot.mjs') &&
      cmdline.includes(`greenlight-deploy-mode-${process.pid}-`)
    );
  } catch {
    return false;
  }
}

/** Pids of the deploy runs (`<release id> <version> <pid>` lines). */
export const pidsOf = (runs: string[]) => runs.map((line) => Number(line.split(' ')[2]));
