import { bootstrapState, type Operation, type ServiceState } from '../domain/service-state.ts';
import { type AppDeps, serviceConfig } from './app-deps.ts';
import { ReleaseError } from './release-error.ts';

/** The service as Redis knows it, or its bootstrap state from greenlight.yml (revision 0). */
export async function currentState(deps: AppDeps, service: string): Promise<ServiceState> {
  const stored = await deps.store.getService(service);
  if (stored !== null) return stored;
  const { bootstrap } = serviceConfig(deps, service);
  return bootstrapState(service, bootstrap.production, bootstrap.version, deps.clock.now());
}

function describeOperation(op: Operation): string {
  switch (op.kind) {
    case 'bump':
      return `a /bump to ${op.version}`;
    case 'sync':
      return `a /sync to ${op.version}`;
    case 'release':
      return `a release of ${op.version}`;
    case 'rollback':
      return `a rollback of ${op.version}`;
  }
}

/** The refusal for a command against a busy service: what runs, who started it, since when. */
export function busyError(service: string, op: Operation): ReleaseError {
  return new ReleaseError(
    'release_in_progress',
    `${service} is busy: ${describeOperation(op)} started by <@${op.by}> at ${op.startedAt.slice(11, 16)} UTC is still running.`,
    `Wait for it to finish (see /release status ${service})${op.kind === 'release' ? `, or stop it with /rollback ${service}` : ''}.`,
  );
}

/** Writes a new service state; on a lost race, re-reads and reports what won. */
export async function commitService(
  deps: AppDeps,
  before: ServiceState,
  next: ServiceState,
): Promise<void> {
  if (await deps.store.commit({ service: { next, expected: before.revision } })) return;
  const now = await currentState(deps, before.service);
  if (now.operation !== null) throw busyError(before.service, now.operation);
  throw new ReleaseError(
    'release_in_progress',
    `${before.service} changed while Greenlight was answering.`,
    'Nothing was done; run the command again.',
  );
}
