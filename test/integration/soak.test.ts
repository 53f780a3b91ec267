import { randomInt } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mulberry32, SoakDriver } from '../support/soak-driver.ts';
import { SoakOracle, type Violation } from '../support/soak-oracle.ts';
import { SoakState } from '../support/soak-state.ts';
import { startSoakWorld } from '../support/soak-world.ts';

/**
 * A randomized, seeded, model-based soak of the release controller, against real Redis,
 * HAProxy and Greenlight processes. Each step picks an action weighted by what the stored state
 * allows (the workflow: bump, release, approve with the right role, reject, sync, rollback,
 * promote/pause/resume/abort a canary) or a disturbance (a duplicate or stale request, a worker
 * or web process SIGKILLed, Redis restarted, HAProxy reloaded, a queued step deleted). Every
 * GREENLIGHT_SOAK_CHECK_EVERY steps the system settles and every invariant is checked.
 *
 *   GREENLIGHT_SOAK_SEED=123 GREENLIGHT_SOAK_STEPS=400 npx vitest run test/integration/soak.test.ts
 *
 * The seed fixes the choices; real processes fix the timing, so a seed replays the same
 * sequence of actions, not always the same interleaving.
 */

const envInt = (name: string, fallback: number) => {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a whole number`);
  return value;
};

const SEED = envInt('GREENLIGHT_SOAK_SEED', randomInt(1, 2 ** 31));
const STEPS = envInt('GREENLIGHT_SOAK_STEPS', 200);
const CHECK_EVERY = Math.max(1, envInt('GREENLIGHT_SOAK_CHECK_EVERY', 10));
/** 1: record every violation and finish the run (to survey a core) instead of stopping. */
const KEEP_GOING = process.env.GREENLIGHT_SOAK_KEEP_GOING === '1';

describe('soak: seeded random interleavings of commands, clicks and faults', () => {
  it(
    `keeps every release invariant (seed ${SEED}, ${STEPS} steps)`,
    async () => {
      console.log(
        `soak: GREENLIGHT_SOAK_SEED=${SEED} GREENLIGHT_SOAK_STEPS=${STEPS} (check every ${CHECK_EVERY})`,
      );
      const started = Date.now();
      const world = await startSoakWorld();
      const state = new SoakState(world.client, world.keyPrefix);
      const driver = new SoakDriver(world, state, mulberry32(SEED));
      const oracle = new SoakOracle(world, state, driver.chaos);
      const found: (Violation & { step: number })[] = [];
      const settles = { count: 0, unsettled: 0, ms: 0 };
      const trace = (line: string) => {
        driver.log.push(line);
        if (process.env.GREENLIGHT_SOAK_VERBOSE === '1') console.log(line);
      };
      let failure: string | undefined;
      try {
        if (!world.deadlinesConfigured) {
          oracle.stats.notes.push(
            'this core refuses the `deadlines` config keys: ran without them (deadlines measured against the soak timings anyway)',
          );
        }
        for (let step = 1; step <= STEPS; step += 1) {
          await driver.runStep(step);
          if (step % CHECK_EVERY !== 0 && step !== STEPS) continue;
          const settled = await driver.settle();
          settles.count += 1;
          settles.ms += settled.ms;
          if (!settled.settled) {
            settles.unsettled += 1;
            oracle.stats.notes.push(
              `step ${step}: not settled after ${settled.ms} ms (${settled.why})`,
            );
          }
          trace(
            `      -- settle ${settled.settled ? 'ok' : `NOT settled (${settled.why})`} in ${settled.ms} ms; checking invariants`,
          );
          const violations = [
            ...(await oracle.checkAll(driver.staleClicks, driver.hostileClicks)),
            ...(await driver.checkAnswers()),
          ];
          for (const v of violations) {
            if (!found.some((f) => f.invariant === v.invariant && f.detail === v.detail)) {
              found.push({ ...v, step });
              trace(`      !! ${v.invariant}: ${v.detail}`);
            }
          }
          if (violations.length > 0 && !KEEP_GOING) break;
        }
      } catch (error) {
        failure = `the soak itself failed: ${(error as Error).stack ?? String(error)}`;
      } finally {
        const seconds = ((Date.now() - started) / 1000).toFixed(0);
        const kinds = Object.entries(driver.counts)
          .sort((a, b) => b[1] - a[1])
          .map(([k, n]) => `${k} ${n}`)
          .join(', ');
        const byInvariant = [...new Set(found.map((f) => f.invariant))]
          .map((inv) => `${inv} ×${found.filter((f) => f.invariant === inv).length}`)
          .join('; ');
        console.log(
          `soak: seed ${SEED}, ${Object.values(driver.counts).reduce((a, b) => a + b, 0)} steps in ${seconds} s; ` +
            `actions: ${kinds}; requests ${driver.requests.length}; ` +
            `invariant checks ${oracle.stats.checks} (settles ${settles.count}, ${settles.unsettled} not settled, ${(settles.ms / 1000).toFixed(0)} s settling); ` +
            `served samples ${oracle.stats.servedSamples} (${oracle.stats.excusedSamples} excused after reloads); ` +
            `deploys ${oracle.stats.deploys}; stale clicks ${driver.staleClicks.length}; hostile clicks ${driver.hostileClicks.length}; ` +
            `'traffic set' entries ${oracle.stats.trafficSetEntries} (${oracle.stats.repairs} repairs after reloads, ${oracle.stats.auditGaps} gaps); ` +
            `violations: ${found.length === 0 ? 'none' : byInvariant}`,
        );
        if (oracle.stats.unapprovedAfterReport > 0)
          oracle.stats.notes.push(
            `${oracle.stats.unapprovedAfterReport} more request(s) answered by an unapproved version after it was first reported`,
          );
        for (const note of oracle.stats.notes) console.log(`soak note: ${note}`);
        if (found.length > 0 || failure !== undefined) {
          const logPath = join(tmpdir(), `greenlight-soak-${SEED}-${Date.now()}.log`);
          await writeFile(
            logPath,
            [
              `seed ${SEED}, steps ${STEPS}`,
              ...driver.log,
              '',
              '---- chaos ----',
              ...driver.chaos.map(
                (c) => `${new Date(c.start).toISOString()} ${c.kind}: ${c.detail}`,
              ),
              '',
              '---- deploy runs ----',
              ...(await world.deployRuns().catch(() => [])).map((r) => JSON.stringify(r)),
              '',
              '---- Greenlight output (tail) ----',
              ...world.logTail(3000),
            ].join('\n'),
          ).catch(() => undefined);
          failure = [
            failure ?? '',
            `soak failed: reproduce with GREENLIGHT_SOAK_SEED=${SEED} GREENLIGHT_SOAK_STEPS=${STEPS}`,
            ...found.map((f) => `  [step ${f.step}] ${f.invariant}: ${f.detail}`),
            `step log (last 60 of ${driver.log.length}; full log and process output in ${logPath}):`,
            ...driver.log.slice(-60),
          ]
            .filter(Boolean)
            .join('\n');
        }
        await world.close();
      }
      // Thrown rather than compared, so the report (seed, violations, step log) prints once.
      if (failure !== undefined) throw new Error(failure);
      expect(found).toEqual([]);
    },
    STEPS * 4000 + 180_000,
  );
});
