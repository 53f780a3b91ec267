import { describe, expect, it } from 'vitest';
import type { Answer } from '../../../src/app/answer.ts';
import type { AppDeps } from '../../../src/app/app-deps.ts';
import type { CommandRequest } from '../../../src/app/command-requests.ts';
import { dispatchCommand } from '../../../src/app/dispatch-command.ts';
import type { GateResult } from '../../../src/app/ports.ts';
import { ReleaseError } from '../../../src/app/release-error.ts';
import { ReusedGateResults } from '../../../src/app/reused-gate-results.ts';
import { apiConfig } from '../../../testkit/api-config.ts';
import { apiWorld, IDLE } from '../../../testkit/api-world.ts';
import { serviceRecord } from '../../../testkit/release-fixtures.ts';

const NOW = new Date('2026-11-24T10:00:00.000Z'); // a Tuesday, no freeze
const AT = NOW.toISOString();
const yaml = (extra: string) =>
  apiConfig({
    api: `    gates:
      - { name: smoke, type: http, url: "http://127.0.0.1:9/smoke" }
${extra}`,
  });

/** A world with api 2.4.1 healthy on STANDBY and nothing running; counts gate runs. */
function world(extra = '', clockMs = () => NOW.getTime()) {
  const w = apiWorld(yaml(extra), NOW, IDLE);
  const runs: string[] = [];
  const gates = {
    run: async (service: string, context: { version: string }): Promise<GateResult[]> => {
      runs.push(`${service} ${context.version}`);
      return [{ name: 'smoke', ok: false, blocking: true, detail: 'answered 503' }];
    },
  };
  const deps: AppDeps = {
    ...w.deps,
    gates,
    dryRunGates: new ReusedGateResults(
      gates,
      (service) => (w.deps.config.services[service]?.dryRunGateCacheSeconds ?? 0) * 1000,
      clockMs,
    ),
  };
  return { ...w, deps, runs };
}

const dryRelease: CommandRequest = { kind: 'release', service: 'api', dryRun: true };
const context = (user: string) => ({
  command: 'release' as const,
  userId: user,
  channelId: 'C0RELEASES',
  text: 'api --dry-run',
});

async function answer(p: Promise<Answer>): Promise<string> {
  try {
    const a = await p;
    return [a.message, ...(a.details ?? [])].join('\n');
  } catch (error) {
    if (error instanceof ReleaseError) return `refused: ${error.code}: ${error.message}`;
    throw error;
  }
}

describe('/release --dry-run and the gates', () => {
  it('runs the gates once and reuses their result while it is younger than the configured age', async () => {
    let clock = NOW.getTime();
    const w = world('    dryRunGateCacheSeconds: 60\n', () => clock);
    const first = await answer(dispatchCommand(w.deps, dryRelease, context('U0DEV1')));
    expect(first).toContain('Would be refused: Pre-release gates failed');
    expect(first).toContain('smoke: answered 503');
    clock += 30_000;
    const second = await answer(dispatchCommand(w.deps, dryRelease, context('U0DEV1')));
    expect(second).toContain('smoke: answered 503 (checked 30 s ago)');
    expect(w.runs).toEqual(['api 2.4.1']);
    clock += 30_000;
    await answer(dispatchCommand(w.deps, dryRelease, context('U0DEV1')));
    expect(w.runs).toEqual(['api 2.4.1', 'api 2.4.1']);
  });

  it('shares one run between dry runs that arrive together', async () => {
    const w = world();
    await Promise.all(
      Array.from({ length: 20 }, () => dispatchCommand(w.deps, dryRelease, context('U0DEV1'))),
    );
    expect(w.runs).toHaveLength(1);
  });

  it('runs them on every dry run with dryRunGateCacheSeconds: 0, and always on a real /release', async () => {
    const w = world('    dryRunGateCacheSeconds: 0\n');
    await answer(dispatchCommand(w.deps, dryRelease, context('U0DEV1')));
    await answer(dispatchCommand(w.deps, dryRelease, context('U0DEV1')));
    expect(w.runs).toHaveLength(2);
    const cached = world();
    await answer(dispatchCommand(cached.deps, dryRelease, context('U0DEV1')));
    const real = await answer(
      dispatchCommand(cached.deps, { ...dryRelease, dryRun: false }, context('U0DEV1')),
    );
    expect(real).toContain('refused: not_available: Pre-release gates failed');
    expect(cached.runs).toHaveLength(2);
  });

  it('never runs a gate while the service is busy', async () => {
    const w = world();
    w.services.set(
      'api',
      serviceRecord(AT, {
        operation: { id: 'op-1', kind: 'bump', by: 'U0DEV2', startedAt: AT, version: '2.4.2' },
      }),
    );
    expect(await answer(dispatchCommand(w.deps, dryRelease, context('U0DEV1')))).toContain(
      'Would be refused: api is busy',
    );
    expect(w.runs).toEqual([]);
  });

  it('never runs a gate when there is nothing to release', async () => {
    const w = world();
    w.services.set(
      'api',
      serviceRecord(AT, {
        operation: null,
        slots: {
          blue: { version: '2.4.0', health: 'healthy', updatedAt: AT },
          green: { version: '2.4.0', health: 'healthy', updatedAt: AT },
        },
      }),
    );
    expect(await answer(dispatchCommand(w.deps, dryRelease, context('U0DEV1')))).toContain(
      'Would be refused: Nothing to release',
    );
    expect(w.runs).toEqual([]);
  });

  it('obeys operators: someone outside them gets the normal refusal and no gate runs', async () => {
    const w = world('    operators: { release: [U0DEV1] }\n');
    expect(await answer(dispatchCommand(w.deps, dryRelease, context('U0DEV2')))).toBe(
      'refused: not_allowed: You are not allowed to run /release on api.',
    );
    expect(w.runs).toEqual([]);
    await answer(dispatchCommand(w.deps, dryRelease, context('U0DEV1')));
    expect(w.runs).toHaveLength(1);
  });

  it('says in the plan how long dry runs reuse gate results', async () => {
    const plan = await answer(dispatchCommand(world().deps, dryRelease, context('U0DEV1')));
    expect(plan).toContain('A dry run reuses their results for 60 s; /release runs them afresh.');
  });
});
