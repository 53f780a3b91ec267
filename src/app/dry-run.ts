import type { Release } from '../domain/release.ts';
import type { ServiceState } from '../domain/service-state.ts';
import type { Answer } from './answer.ts';
import type { AppDeps } from './app-deps.ts';
import type { Notifier, StateStore, StepScheduler, TrafficSwitcher } from './ports.ts';
import { ReleaseError } from './release-error.ts';

/** What a rehearsed command would have changed and asked for. */
export interface Rehearsal {
  readonly outcome: { ok: true; answer: Answer } | { ok: false; refusal: ReleaseError };
  /** Services and releases as the command would have written them. */
  readonly services: ReadonlyMap<string, ServiceState>;
  readonly releases: ReadonlyMap<string, Release>;
  /** Steps, schedules and messages it would have enqueued, in words. */
  readonly actions: readonly string[];
}

/**
 * The same dependencies with every effect recorded instead of performed: writes go to an
 * overlay that later reads see, jobs and messages are listed, traffic and deploys cannot move.
 * Reads (Redis, the proxy, slot probes, Slack user groups, gates) stay real, so the command
 * decides on the same facts it would decide on for real; gate results may be reused for
 * `dryRunGateCacheSeconds` (`dryRunGates`).
 */
function recordingDeps(deps: AppDeps): { deps: AppDeps; rehearsal: Omit<Rehearsal, 'outcome'> } {
  const services = new Map<string, ServiceState>();
  const releases = new Map<string, Release>();
  const actions: string[] = [];
  const store: StateStore = {
    getService: async (name) => services.get(name) ?? deps.store.getService(name),
    getRelease: async (id) => releases.get(id) ?? deps.store.getRelease(id),
    listReleases: (name, limit) => deps.store.listReleases(name, limit),
    commit: async (writes) => {
      if (writes.service) services.set(writes.service.next.service, writes.service.next);
      if (writes.release) releases.set(writes.release.next.id, writes.release.next);
      return true;
    },
  };
  const scheduler: StepScheduler = {
    enqueue: async (job) => {
      actions.push(`enqueue the ${job.step} step`);
    },
    jobState: async () => 'missing',
    startProgress: async () => {
      actions.push('start progress updates');
    },
    stopProgress: async () => undefined,
    startAnalysis: async () => {
      actions.push('start the analysis');
    },
    stopAnalysis: async () => undefined,
  };
  const notifier = new Proxy({} as Notifier, {
    get:
      (_target, method: string) =>
      async (...args: unknown[]) => {
        if (method === 'releaseNote' && typeof args[2] === 'string') actions.push(args[2]);
        else actions.push(`post ${method}`);
      },
  });
  const refuse = () => {
    throw new Error('a dry run never moves traffic');
  };
  const traffic: TrafficSwitcher = {
    inspect: (service) => deps.traffic.inspect(service),
    switchTo: refuse,
    split: refuse,
  };
  return {
    deps: {
      ...deps,
      store,
      scheduler,
      notifier,
      traffic,
      deployer: {
        deploy: async () => {
          throw new Error('a dry run never deploys');
        },
      },
      audit: { append: async () => undefined, read: (options) => deps.audit.read(options) },
      faulty: {
        get: (service, version) => deps.faulty.get(service, version),
        mark: async () => undefined,
        unmark: (service, version) => deps.faulty.get(service, version),
      },
      telemetry: { releaseEnded: () => {}, rollbackStarted: () => {}, approved: () => {} },
      // Gates run last in /release, after every refusal (busy, calendar, faulty, STANDBY, proxy),
      // so a plan that would be refused anyway never reaches them; and a recent result is reused.
      gates: deps.dryRunGates ?? deps.gates,
    },
    rehearsal: { services, releases, actions },
  };
}

/** Runs the real command against recording adapters: its answer or refusal is the verdict. */
export async function rehearse(
  deps: AppDeps,
  command: (deps: AppDeps) => Promise<Answer>,
): Promise<Rehearsal> {
  const recording = recordingDeps(deps);
  try {
    const answer = await command(recording.deps);
    return { ...recording.rehearsal, outcome: { ok: true, answer } };
  } catch (error) {
    if (error instanceof ReleaseError)
      return { ...recording.rehearsal, outcome: { ok: false, refusal: error } };
    throw error;
  }
}
