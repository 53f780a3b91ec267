import { defaultSleep, type ServicePorts, type Uses } from './app-deps.ts';
import { type Lease, LockLostError, MoveUndoneError, PartialMoveError } from './ports.ts';
import { driveTraffic } from './reconciler.ts';

/**
 * Pauses before trying a move again: an HAProxy reload refuses connections for a few hundred
 * milliseconds, and neither a release nor a rollback should fail because one happened just then.
 */
const MOVE_RETRY_PAUSES_MS = [500, 1500] as const;

/**
 * `driveTraffic` for a step, tried twice more when the proxy could not be moved or a load
 * balancer of a fleet could not be read (the step is about to say something of every one: "New
 * PRODUCTION", "Rolled back", "safe to deploy"), while
 * `stillWanted` says the step's decision stands (one that came meanwhile, a /rollback or an abort,
 * is followed by its own step or the reconciler). Not tried again: a lost lock, and a fleet's move
 * that reached users and was undone (they would go forward and back once more). With
 * `keepPartial`, a move back that missed some load balancers is returned, not tried again: the
 * others are where they should be, and the control loop reaches the rest as they answer.
 * Throws the last error.
 */
export async function driveWithRetries(
  deps: Uses<ServicePorts | 'sleep'>,
  service: string,
  lease: Lease,
  options: { stillWanted: () => Promise<boolean>; keepPartial?: boolean },
): Promise<PartialMoveError | undefined> {
  for (let attempt = 0; ; attempt += 1) {
    try {
      await driveTraffic(deps, service, lease, { unreadIsMissed: true });
      return undefined;
    } catch (error) {
      if (options.keepPartial && error instanceof PartialMoveError) return error;
      const pause = MOVE_RETRY_PAUSES_MS[attempt];
      if (pause === undefined || error instanceof LockLostError || error instanceof MoveUndoneError)
        throw error;
      deps.log.warn(
        { service, err: error, retryInMs: pause },
        'traffic could not be moved; trying again',
      );
      await (deps.sleep ?? defaultSleep)(pause);
      if (!(await options.stillWanted())) throw error;
    }
  }
}
