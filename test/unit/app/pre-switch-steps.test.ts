import { describe, expect, it } from 'vitest';
import { type Lease, LockBusyError, type PreSwitchStepRequest } from '../../../src/app/ports.ts';
import { ReleaseError } from '../../../src/app/release-error.ts';
import { runEvent } from '../../../src/app/release-runner.ts';
import { sweepService } from '../../../src/app/sweeper.ts';
import {
  approveStep,
  resolveInterruptedStep,
  runPreSwitchStep,
} from '../../../src/app/use-cases/pre-switch-steps.ts';
import { releaseStatus } from '../../../src/app/use-cases/release-status.ts';
import { requestRollback } from '../../../src/app/use-cases/rollback.ts';
import { parseConfig } from '../../../src/config/load-config.ts';
import type { PreSwitchStep } from '../../../src/domain/pre-switch-steps.ts';
import type { Release } from '../../../src/domain/release.ts';
import { apiConfig } from '../../../testkit/api-config.ts';
import { memoryWorld } from '../../../testkit/memory-deps.ts';
import { releaseRecord, serviceRecord } from '../../../testkit/release-fixtures.ts';

const START = Date.parse('2026-11-24T10:00:00.000Z');
const at = (minutes: number) => new Date(START + minutes * 60_000);
const RUNBOOK = 'https://runbooks.example.com/migrate';
const CONFIG = (steps = '', top = '') =>
  apiConfig({
    top,
    roles: '{ lead: [U0LEAD], team: [U0DEV2], security: [U0SEC], cto: [U0CTO], dba: [U0DBA] }',
    api: `    approvalTtlMinutes: 60
    deadlines: { switchMinutes: 5 }
${steps}`,
  });
const STEPS = `    steps:
      migrate: { command: ["./migrate.sh"], reversible: false, compensation: "${RUNBOOK}", approverRole: dba, owner: U0OWNER }
`;

const migrate: PreSwitchStep = {
  name: 'migrate',
  label: 'Run migrate (cannot be undone)',
  reversible: false,
  approverRole: 'dba',
  compensation: RUNBOOK,
  owner: 'U0OWNER',
  timeoutSeconds: 600,
  readyAt: at(0).toISOString(),
};

const refusedCode = async (run: () => Promise<unknown>) =>
  run().then(
    () => 'accepted',
    (error: unknown) => (error instanceof ReleaseError ? error.code : 'threw'),
  );

function setUp(minutesLater: number, step: Partial<PreSwitchStep>, top = '') {
  const w = memoryWorld(CONFIG(STEPS, top), at(minutesLater));
  const iso = at(0).toISOString();
  const release = releaseRecord(iso, {
    state: 'running_steps',
    approvals: [{ role: 'lead', user: 'U0LEAD', at: iso }],
    steps: [{ ...migrate, ...step }],
    revision: 4,
  });
  w.releases.set(release.id, release);
  w.services.set('api', serviceRecord(iso, { revision: 7 }));
  const runs: PreSwitchStepRequest[] = [];
  const deps = {
    ...w.deps,
    stepRunner: {
      run: async (request: PreSwitchStepRequest) => {
        runs.push(request);
        return { ok: true as const };
      },
    },
  };
  return { w, deps, runs, release: () => w.releases.get('rel-1') as Release };
}

describe('running a pre-switch step', () => {
  it('records started before running, then finished, and moves on to the switch', async () => {
    const { deps, runs, release, w } = setUp(1, { approvedBy: 'U0DBA' });
    await runPreSwitchStep(deps, { releaseId: 'rel-1', index: 0 });
    expect(runs).toEqual([
      { service: 'api', step: 'migrate', version: '2.4.1', slot: 'green', releaseId: 'rel-1' },
    ]);
    expect(release().state).toBe('switching');
    expect(release().timeline.map((t) => t.what)).toEqual([
      'step migrate started (cannot be undone)',
      'step migrate done; every step is done, switching traffic',
    ]);
    expect(w.jobs).toEqual([{ step: 'switch', releaseId: 'rel-1', revision: 6 }]);
  });

  it('does not run an irreversible step found started and never finished: it waits for its role to say whether it completed', async () => {
    const { deps, runs, release, w } = setUp(3, {
      approvedBy: 'U0DBA',
      startedAt: at(1).toISOString(),
    });
    await runPreSwitchStep(deps, { releaseId: 'rel-1', index: 0 });
    expect(runs).toEqual([]);
    expect(release().state).toBe('running_steps');
    expect(release().steps?.[0]?.interruptedAt).toBe(at(3).toISOString());
    expect(release().timeline.at(-1)?.what).toContain('was cut off while it ran');
    expect(release().timeline.at(-1)?.what).toContain(
      'someone in dba must check whether it completed',
    );
    // A re-delivery of its job (or the sweeper) runs nothing while it waits.
    await runPreSwitchStep(deps, { releaseId: 'rel-1', index: 0 });
    w.jobState = () => 'missing';
    await sweepService(deps, 'api');
    expect(runs).toEqual([]);
    expect(w.jobs).toEqual([]);
    expect(release().state).toBe('running_steps');
  });

  it('runs a reversible step found started and never finished again', async () => {
    const { deps, runs, release } = setUp(3, {
      reversible: true,
      approverRole: undefined,
      startedAt: at(1).toISOString(),
    });
    await runPreSwitchStep(deps, { releaseId: 'rel-1', index: 0 });
    expect(runs).toHaveLength(1);
    expect(release().state).toBe('switching');
  });

  it('does nothing for a step that still waits for its approval, or a job for another step', async () => {
    const { deps, runs, release } = setUp(1, {});
    await runPreSwitchStep(deps, { releaseId: 'rel-1', index: 0 });
    await runPreSwitchStep(deps, { releaseId: 'rel-1', index: 1 });
    expect(runs).toEqual([]);
    expect(release().revision).toBe(4);
  });

  it('a failing command fails the release with its reason and output, traffic untouched', async () => {
    const { w, release } = setUp(1, { approvedBy: 'U0DBA' });
    const deps = {
      ...w.deps,
      stepRunner: {
        run: async () => ({
          ok: false as const,
          reason: 'step migrate exited with code 2',
          outputTail: 'applying 0042\nERROR: column exists',
        }),
      },
    };
    await runPreSwitchStep(deps, { releaseId: 'rel-1', index: 0 });
    expect(release().state).toBe('failed');
    expect(release().failure).toContain('exited with code 2');
    expect(release().failure).toContain('ERROR: column exists');
    expect(w.weights).toEqual({ blue: 100, green: 0 });
    expect(w.services.get('api')?.operation).toBeNull();
  });
});

describe('approving an irreversible step', () => {
  it('counts only a member of its role who did not request the release, and enqueues the step', async () => {
    const { deps, w, release } = setUp(1, {});
    w.releases.set('rel-1', { ...release(), requester: 'U0DBA' });
    expect(await refusedCode(() => approveStep(deps, { releaseId: 'rel-1', user: 'U0DBA' }))).toBe(
      'not_allowed',
    );
    expect(await refusedCode(() => approveStep(deps, { releaseId: 'rel-1', user: 'U0LEAD' }))).toBe(
      'not_allowed',
    );
    expect(w.jobs).toEqual([]);
    w.releases.set('rel-1', { ...release(), requester: 'U0DEV1' });
    const answer = await approveStep(deps, { releaseId: 'rel-1', user: 'U0DBA' });
    expect(answer.message).toContain('You approved migrate');
    expect(w.jobs).toEqual([
      {
        step: 'pre_switch',
        releaseId: 'rel-1',
        index: 0,
        attempt: Date.parse(at(1).toISOString()),
      },
    ]);
  });

  it('is refused while the calendar is closed: nothing irreversible runs before a switch that could not', async () => {
    const { deps, w, release } = setUp(1, {}, 'blockedDays: [tue]');
    expect(await refusedCode(() => approveStep(deps, { releaseId: 'rel-1', user: 'U0DBA' }))).toBe(
      'frozen',
    );
    expect(release().steps?.[0]?.approvedBy).toBeUndefined();
    expect(w.jobs).toEqual([]);
  });
});

describe('the sweeper and pre-switch steps', () => {
  it('reminds half-way through a step approval, then fails the release at the deadline', async () => {
    const half = setUp(31, {});
    await sweepService(half.deps, 'api');
    expect(half.release().state).toBe('running_steps');
    expect(half.w.posts.filter((p) => p.includes('needs approval to run migrate'))).toHaveLength(1);

    const late = setUp(61, {});
    await sweepService(late.deps, 'api');
    expect(late.release().state).toBe('failed');
    expect(late.release().failure).toContain('nobody approved migrate within 60 min');
  });

  it('enqueues a lost step job again, named by the step and when it became ready', async () => {
    const { deps, w } = setUp(1, { approvedBy: 'U0DBA' });
    w.jobState = () => 'missing';
    await sweepService(deps, 'api');
    expect(w.jobs).toContainEqual({
      step: 'pre_switch',
      releaseId: 'rel-1',
      index: 0,
      attempt: START,
    });
  });

  it('a step that never finishes fails the release after its timeout and switchMinutes', async () => {
    const { deps, release } = setUp(16, { approvedBy: 'U0DBA', startedAt: at(0).toISOString() });
    await sweepService(deps, 'api');
    expect(release().state).toBe('failed');
    expect(release().failure).toContain('did not finish within its timeout (600 s)');
  });
});

describe('steps in greenlight.yml', () => {
  const problems = (steps: string) => {
    try {
      parseConfig(CONFIG(steps));
      return '';
    } catch (error) {
      return (error as Error).message;
    }
  };

  it('requires a compensation runbook and an approver role for an irreversible step', () => {
    const text = problems(`    steps:
      migrate: { command: ["./migrate.sh"], reversible: false }
`);
    expect(text).toContain('services.api.steps.migrate.compensation');
    expect(text).toContain('services.api.steps.migrate.approverRole');
  });

  it('refuses an approver role that is not defined', () => {
    expect(
      problems(`    steps:
      migrate: { command: ["./migrate.sh"], reversible: false, compensation: "${RUNBOOK}", approverRole: dbas }
`),
    ).toContain('unknown role "dbas"');
  });

  it('accepts reversible steps without either, keeping declared order', () => {
    const config = parseConfig(
      CONFIG(`    steps:
      warm: { command: ["./warm.sh"] }
      migrate: { command: ["./migrate.sh"], reversible: false, compensation: "${RUNBOOK}", approverRole: dba }
`),
    );
    expect(Object.keys(config.services.api?.steps ?? {})).toEqual(['warm', 'migrate']);
  });
});

describe('pre-switch steps under attack (review)', () => {
  const refusedCode = async (run: () => Promise<unknown>) =>
    run().then(
      () => 'accepted',
      (error: unknown) => (error instanceof ReleaseError ? error.code : 'threw'),
    );

  it('refuses an Approve-step click after the step approval deadline, even before the sweeper ran', async () => {
    const { deps, w, release, runs } = setUp(61, {});
    expect(await refusedCode(() => approveStep(deps, { releaseId: 'rel-1', user: 'U0DBA' }))).toBe(
      'not_available',
    );
    expect(w.jobs.filter((j) => j.step === 'pre_switch')).toEqual([]);
    expect(runs).toEqual([]);
    expect(release().steps?.[0]?.approvedBy).toBeUndefined();
    expect(release().state).toBe('failed');
    expect(release().failure).toContain('nobody approved migrate within 60 min');
  });

  it('refuses to approve the step once the release approvals expired (approvalTtlMinutes) while it waited', async () => {
    // The lead approved at 10:00; the step became ready at 10:40 (a slow second approval or an
    // earlier step), so its own wait (60 min) is not over at 11:10, but the lead's approval is.
    const { deps, w, release } = setUp(70, { readyAt: at(40).toISOString() });
    expect(await refusedCode(() => approveStep(deps, { releaseId: 'rel-1', user: 'U0DBA' }))).toBe(
      'not_available',
    );
    expect(w.jobs.filter((j) => j.step === 'pre_switch')).toEqual([]);
    expect(w.weights).toEqual({ blue: 100, green: 0 });
    expect(release().state).toBe('failed');
    expect(release().failure).toContain('approvals expired');
    expect(release().failure).toContain('approvalTtlMinutes');
  });

  it('the sweeper fails a step still waiting when the release approvals expire, not later', async () => {
    const early = setUp(59, { readyAt: at(40).toISOString() });
    await sweepService(early.deps, 'api');
    expect(early.release().state).toBe('running_steps');
    const expired = setUp(61, { readyAt: at(40).toISOString() });
    await sweepService(expired.deps, 'api');
    expect(expired.release().state).toBe('failed');
    expect(expired.release().failure).toContain('approvals expired');
  });

  it('a restart that kills a reversible step leaves it to run again instead of failing the release', async () => {
    const { w, release } = setUp(1, { reversible: true, approverRole: undefined });
    let stopping = true;
    const runs: string[] = [];
    const deps = {
      ...w.deps,
      isStopping: () => stopping,
      stepRunner: {
        run: async () => {
          runs.push('run');
          return stopping
            ? { ok: false as const, reason: 'step migrate was killed by SIGKILL', outputTail: '' }
            : { ok: true as const };
        },
      },
    };
    await expect(runPreSwitchStep(deps, { releaseId: 'rel-1', index: 0 })).rejects.toThrow(
      /stopped/,
    );
    expect(release().state).toBe('running_steps');
    stopping = false;
    await runPreSwitchStep(deps, { releaseId: 'rel-1', index: 0 });
    expect(runs).toEqual(['run', 'run']);
    expect(release().state).toBe('switching');
  });

  it('a restart that kills an irreversible step: it is not run again, and waits for a person', async () => {
    const { w, release } = setUp(1, { approvedBy: 'U0DBA' });
    let stopping = true;
    let runs = 0;
    const deps = {
      ...w.deps,
      isStopping: () => stopping,
      stepRunner: {
        run: async () => {
          runs += 1;
          return {
            ok: false as const,
            reason: 'step migrate was killed by SIGKILL',
            outputTail: '',
          };
        },
      },
    };
    await expect(runPreSwitchStep(deps, { releaseId: 'rel-1', index: 0 })).rejects.toThrow();
    stopping = false;
    await runPreSwitchStep(deps, { releaseId: 'rel-1', index: 0 });
    expect(runs).toBe(1);
    expect(release().state).toBe('running_steps');
    expect(release().steps?.[0]?.interruptedAt).toBeDefined();
  });

  it('/rollback while an irreversible step runs answers that the data layer needs the runbook and the step goes on', async () => {
    const { deps, release } = setUp(5, { approvedBy: 'U0DBA', startedAt: at(1).toISOString() });
    const answer = await requestRollback(deps, {
      service: 'api',
      by: 'U0LEAD',
      reason: 'wrong build',
    });
    expect(release().state).toBe('cancelled');
    const said = `${answer.message} ${answer.hint}`;
    expect(said).toContain(RUNBOOK);
    expect(said).toContain('<@U0OWNER>');
    expect(said).toContain('migrate is still running');
  });

  it('/rollback before any irreversible step started says nothing about the data layer', async () => {
    const { deps } = setUp(5, {});
    const answer = await requestRollback(deps, { service: 'api', by: 'U0LEAD', reason: 'no' });
    expect(`${answer.message} ${answer.hint}`).not.toContain(RUNBOOK);
    expect(`${answer.message} ${answer.hint}`).toContain('no traffic had moved');
  });

  it('a step that ends after the release was cancelled says so in the thread, with the runbook', async () => {
    const { w, release } = setUp(5, { approvedBy: 'U0DBA' });
    const deps = {
      ...w.deps,
      stepRunner: {
        run: async () => {
          // The on-call cancels while the migration runs; it completes anyway.
          await requestRollback(w.deps, { service: 'api', by: 'U0LEAD', reason: 'pager' });
          return { ok: true as const };
        },
      },
    };
    await runPreSwitchStep(deps, { releaseId: 'rel-1', index: 0 });
    expect(release().state).toBe('cancelled');
    const late = w.posts.filter((p) => p.includes('after the release was cancelled'));
    expect(late).toHaveLength(1);
    expect(late[0]).toContain('migrate finished');
    expect(late[0]).toContain(RUNBOOK);
  });

  it('a new release of the service does not run its step while a cancelled release’s step still runs', async () => {
    const { w, release } = setUp(5, { approvedBy: 'U0DBA' });
    // Mutual exclusion as Redis gives it: a held name refuses a second holder.
    const held = new Set<string>();
    const locks = {
      withLock: async <T>(name: string, _ttl: number, fn: (lease: Lease) => Promise<T>) => {
        if (held.has(name)) throw new LockBusyError(name, 1000);
        held.add(name);
        try {
          return await fn({ assertHeld: () => undefined });
        } finally {
          held.delete(name);
        }
      },
    };
    const running: string[] = [];
    let overlapped = false;
    const deps = {
      ...w.deps,
      locks,
      stepRunner: {
        run: async (request: PreSwitchStepRequest) => {
          if (running.length > 0) overlapped = true;
          running.push(request.releaseId);
          if (request.releaseId === 'rel-1') {
            await requestRollback(w.deps, { service: 'api', by: 'U0LEAD', reason: 'pager' });
            w.releases.set('rel-2', {
              ...release(),
              id: 'rel-2',
              state: 'running_steps',
              steps: [{ ...migrate, approvedBy: 'U0DBA' }],
            });
            await runPreSwitchStep(deps, { releaseId: 'rel-2', index: 0 }).catch(() => undefined);
          }
          running.pop();
          return { ok: true as const };
        },
      },
    };
    await runPreSwitchStep(deps, { releaseId: 'rel-1', index: 0 });
    expect(overlapped).toBe(false);
    expect(w.releases.get('rel-2')?.steps?.[0]?.startedAt).toBeUndefined();
  });

  it('/release status during steps names the step and who or what it waits for', async () => {
    const waiting = setUp(5, {});
    waiting.w.services.set('api', {
      ...(waiting.w.services.get('api') as ReturnType<typeof serviceRecord>),
      lastReleaseId: 'rel-1',
    });
    const asked = (await releaseStatus(waiting.deps, { service: 'api' })).details?.join('\n');
    expect(asked).toContain('running steps');
    expect(asked).toMatch(/migrate[^\n]*approval[^\n]*dba/);

    const running = setUp(5, { approvedBy: 'U0DBA', startedAt: at(1).toISOString() });
    running.w.services.set('api', {
      ...(running.w.services.get('api') as ReturnType<typeof serviceRecord>),
      lastReleaseId: 'rel-1',
    });
    const told = (await releaseStatus(running.deps, { service: 'api' })).details?.join('\n');
    expect(told).toMatch(/step migrate[^\n]*running/);
  });

  it('a step job that gave up before starting fails the release saying what may hold it', async () => {
    const { deps, w, release } = setUp(3, { approvedBy: 'U0DBA' });
    w.jobState = () => 'failed';
    await sweepService(deps, 'api');
    expect(release().state).toBe('failed');
    expect(release().failure).toContain('gave up');
    expect(release().failure).toContain('an earlier release of api may still be running');
  });
});

describe('the word on an irreversible step that was cut off while it ran', () => {
  const cutOff = (minutesLater: number, top = '') =>
    setUp(
      minutesLater,
      {
        approvedBy: 'U0DBA',
        startedAt: at(1).toISOString(),
        interruptedAt: at(2).toISOString(),
        readyAt: at(2).toISOString(),
      },
      top,
    );

  it('"it completed" from its role: the release goes on to the switch without running it again', async () => {
    const { deps, w, release, runs } = cutOff(3);
    const answer = await resolveInterruptedStep(deps, {
      releaseId: 'rel-1',
      user: 'U0DBA',
      completed: true,
    });
    expect(answer.message).toContain('You checked that migrate completed');
    expect(release().state).toBe('switching');
    expect(release().steps?.[0]?.finishedAt).toBe(at(3).toISOString());
    expect(release().timeline.at(-1)).toMatchObject({
      who: 'U0DBA',
      what: 'checked that step migrate completed; every step is done, switching traffic',
    });
    expect(w.jobs).toEqual([{ step: 'switch', releaseId: 'rel-1', revision: 5 }]);
    expect(runs).toEqual([]);
  });

  it('"it did not complete": the release fails before traffic moves, naming the runbook', async () => {
    const { deps, release, runs, w } = cutOff(3);
    const answer = await resolveInterruptedStep(deps, {
      releaseId: 'rel-1',
      user: 'U0DBA',
      completed: false,
    });
    expect(answer.message).toContain('did not complete');
    expect(answer.message).toContain(RUNBOOK);
    expect(release().state).toBe('failed');
    expect(release().failure).toContain('<@U0DBA> checked that it did not complete');
    expect(release().failure).toContain(RUNBOOK);
    expect(release().failure).toContain('PRODUCTION stays on blue');
    expect(runs).toEqual([]);
    expect(w.jobs.filter((j) => j.step === 'switch')).toEqual([]);
  });

  it('only its role decides, never the requester; a second word finds nothing to decide', async () => {
    const { deps, w, release } = cutOff(3);
    for (const user of ['U0LEAD', 'U0DEV1']) {
      expect(
        await refusedCode(() =>
          resolveInterruptedStep(deps, { releaseId: 'rel-1', user, completed: true }),
        ),
      ).toBe('not_allowed');
    }
    w.releases.set('rel-1', { ...release(), requester: 'U0DBA' });
    expect(
      await refusedCode(() =>
        resolveInterruptedStep(deps, { releaseId: 'rel-1', user: 'U0DBA', completed: true }),
      ),
    ).toBe('not_allowed');
    expect(release().state).toBe('running_steps');
    w.releases.set('rel-1', { ...release(), requester: 'U0DEV1' });
    await resolveInterruptedStep(deps, { releaseId: 'rel-1', user: 'U0DBA', completed: false });
    expect(
      await refusedCode(() =>
        resolveInterruptedStep(deps, { releaseId: 'rel-1', user: 'U0DBA', completed: true }),
      ),
    ).toBe('stale');
    expect(release().state).toBe('failed');
  });

  it('the sweeper reminds half-way, then fails the release at the deadline; a late word changes nothing else', async () => {
    const half = cutOff(33);
    await sweepService(half.deps, 'api');
    expect(half.release().state).toBe('running_steps');
    expect(half.w.posts.filter((p) => p.includes('to say whether migrate completed'))).toHaveLength(
      1,
    );

    // The deadline counts from when it was found cut off (minute 2), not from its first approval.
    const late = cutOff(61);
    await sweepService(late.deps, 'api');
    expect(late.release().state).toBe('failed');
    expect(late.release().failure).toContain('the release approvals expired');

    const lateClick = cutOff(61);
    expect(
      await refusedCode(() =>
        resolveInterruptedStep(lateClick.deps, {
          releaseId: 'rel-1',
          user: 'U0DBA',
          completed: true,
        }),
      ),
    ).toBe('not_available');
    expect(lateClick.release().state).toBe('failed');
    expect(lateClick.w.jobs.filter((j) => j.step === 'switch')).toEqual([]);
  });

  it('while the calendar is closed: "completed" is refused when the switch would follow, not when the next step waits for its own approval', async () => {
    const last = cutOff(3, 'blockedDays: [tue]');
    expect(
      await refusedCode(() =>
        resolveInterruptedStep(last.deps, { releaseId: 'rel-1', user: 'U0DBA', completed: true }),
      ),
    ).toBe('frozen');
    expect(last.release().state).toBe('running_steps');
    // "It did not complete" moves no traffic: taken whatever the calendar says.
    await resolveInterruptedStep(last.deps, {
      releaseId: 'rel-1',
      user: 'U0DBA',
      completed: false,
    });
    expect(last.release().state).toBe('failed');

    const twoSteps = cutOff(3, 'blockedDays: [tue]');
    const first = twoSteps.release();
    twoSteps.w.releases.set('rel-1', {
      ...first,
      steps: [...(first.steps ?? []), { ...migrate, name: 'backfill', readyAt: undefined }],
    });
    await resolveInterruptedStep(twoSteps.deps, {
      releaseId: 'rel-1',
      user: 'U0DBA',
      completed: true,
    });
    expect(twoSteps.release().state).toBe('running_steps');
    expect(twoSteps.release().steps?.map((s) => [s.name, s.finishedAt !== undefined])).toEqual([
      ['migrate', true],
      ['backfill', false],
    ]);
    expect(twoSteps.w.jobs).toEqual([]);
    expect(twoSteps.runs).toEqual([]);
  });

  it('/release status says who it waits for and what to decide', async () => {
    const { deps } = cutOff(3);
    const status = (await releaseStatus(deps, { service: 'api' })).details?.join('\n');
    expect(status).toContain(
      'step migrate was cut off while it ran; waiting for dba (not the requester) to say whether it completed',
    );
  });
});

describe('the run thought cut off reports after all (review)', () => {
  it('a finish from the run found cut off (its lock lost) moves the release on instead of asking a person', async () => {
    // Interleaving: worker A runs migrate; Redis loses A's step lock (a failover, or a blip
    // longer than its 10 s expiry), the job is re-delivered to B, which finds the step started and
    // never finished and records it as cut off; then A's command exits 0.
    const { w, release } = setUp(3, { approvedBy: 'U0DBA' });
    const deps = {
      ...w.deps,
      stepRunner: {
        run: async () => {
          await runEvent(w.deps, 'rel-1', { type: 'step_interrupted', index: 0 });
          return { ok: true as const };
        },
      },
    };
    await runPreSwitchStep(deps, { releaseId: 'rel-1', index: 0 });
    // Greenlight knows it completed: nobody is asked to guess, and nothing says it was cancelled.
    expect(release().state).toBe('switching');
    expect(release().steps?.[0]?.finishedAt).toBeDefined();
    expect(w.posts.filter((p) => p.includes('after the release was cancelled'))).toEqual([]);
  });
});

describe('/rollback while a cut-off step waits for the word (review)', () => {
  it('does not say the step is still running and the thread will say how it ends', async () => {
    // Interleaving: Greenlight restarts mid-migration, the re-delivered job records it cut off,
    // and the on-call runs /rollback instead of answering the card. Nothing runs the step any
    // more, so no thread message will ever say how it ended: the answer must say to check it.
    const { w, release } = setUp(3, {
      approvedBy: 'U0DBA',
      startedAt: at(1).toISOString(),
      interruptedAt: at(2).toISOString(),
      readyAt: at(2).toISOString(),
    });
    const answer = await requestRollback(w.deps, { service: 'api', by: 'U0LEAD', reason: 'no' });
    expect(release().state).toBe('cancelled');
    const said = `${answer.message} ${answer.hint}`;
    expect(said).not.toContain('still running');
    expect(said).toContain('migrate was cut off while it ran');
    expect(said).toContain(RUNBOOK);
  });
});
