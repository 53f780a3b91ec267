import type { Slot } from '../../domain/slots.ts';
import { type ServicePorts, serviceConfig, type Uses } from '../app-deps.ts';
import { silentInstances } from '../fleet-traffic.ts';
import type { DeployOutcome, Lease } from '../ports.ts';
import { desiredNow } from '../reconciler.ts';
import { waitUntilReady } from './slot-readiness.ts';

export type SlotDeployOutcome =
  | { ok: true }
  | { ok: false; reason: string; outputTail?: string; cancelled?: boolean };

const deployLock = (service: string, slot: Slot) => `deploy-${service}-${slot}`;
const DEPLOY_LOCK_TTL_MS = 10_000;
const WATCH_MS = 500;

type DeployDeps = Uses<
  ServicePorts | 'deployer' | 'isStopping' | 'locks' | 'readyTimeoutMs' | 'sleep'
>;

interface DeployRequest {
  service: string;
  slot: Slot;
  version: string;
  id: string;
  stillWanted: () => Promise<boolean>;
}

/**
 * Deploys `version` onto `slot` and waits until it is ready. The one way Greenlight deploys:
 * - never onto a slot that serves, or should serve, traffic (PRODUCTION is never touched);
 * - one deploy per slot at a time, across processes (a lock renewed while the deploy runs; a
 *   crashed holder's process group dies with it and the lock expires within seconds);
 * - cancelled at once, process group and all, as soon as `stillWanted` says no (a /rollback
 *   preempted the /bump or /sync that started it).
 */
export async function deployOntoSlot(
  deps: DeployDeps,
  request: DeployRequest,
): Promise<SlotDeployOutcome> {
  const refusal = await servesTraffic(deps, request.service, request.slot);
  if (refusal !== undefined) return { ok: false, reason: refusal };
  return withSlotDeployLock(deps, request.service, request.slot, async () => {
    // Checked again once the lock is ours: the deploy before this one may have ended by
    // sending users to the slot.
    const serving = await servesTraffic(deps, request.service, request.slot);
    if (serving !== undefined) return { ok: false, reason: serving };
    return deployHoldingLock(deps, request);
  });
}

/**
 * Holds the slot's deploy lock around `fn`: no other deploy starts on the slot meanwhile. A
 * rollback holds it from its deploy until users are on the slot, so a second run of it cannot
 * deploy there after they are.
 */
export function withSlotDeployLock<T>(
  deps: Uses<'config' | 'locks'>,
  service: string,
  slot: Slot,
  fn: (lease: Lease) => Promise<T>,
): Promise<T> {
  const waitMs = serviceConfig(deps, service).deploy.timeoutSeconds * 1000 + 30_000;
  return deps.locks.withLock(deployLock(service, slot), DEPLOY_LOCK_TTL_MS, fn, { waitMs });
}

/** The deploy itself; the caller holds the slot's deploy lock and has checked it serves no one. */
export async function deployHoldingLock(
  deps: DeployDeps,
  request: DeployRequest,
): Promise<SlotDeployOutcome> {
  const { service, slot, version } = request;
  if (!(await request.stillWanted()))
    return { ok: false, reason: 'no longer wanted', cancelled: true };
  const abort = new AbortController();
  const watch = setInterval(() => {
    request
      .stillWanted()
      .then((wanted) => {
        if (!wanted) abort.abort();
      })
      .catch(() => undefined);
  }, WATCH_MS);
  try {
    const deployed: DeployOutcome = await deps.deployer.deploy({
      service,
      version,
      slot,
      releaseId: request.id,
      signal: abort.signal,
    });
    if (abort.signal.aborted) return { ok: false, reason: 'cancelled', cancelled: true };
    if (!deployed.ok && deps.isStopping?.()) {
      // Killed because Greenlight is stopping, not because the deploy failed: the step is
      // left unfinished so another worker (or this one, restarted) runs it again.
      throw new Error(`Greenlight stopped during the deploy of ${version} to ${slot}`);
    }
    if (!deployed.ok)
      return { ok: false, reason: deployed.reason, outputTail: deployed.outputTail };
    const ready = await waitUntilReady(deps, service, slot, version);
    if (abort.signal.aborted) return { ok: false, reason: 'cancelled', cancelled: true };
    return ready.ok ? { ok: true } : { ok: false, reason: ready.reason };
  } finally {
    clearInterval(watch);
  }
}

/** Why `slot` must not be deployed now, or undefined when it is safe. */
export async function servesTraffic(
  deps: Uses<ServicePorts>,
  service: string,
  slot: Slot,
): Promise<string | undefined> {
  const { state, desired } = await desiredNow(deps, service);
  if (state.production === slot || desired.weights[slot] > 0) {
    return `${slot} is PRODUCTION (or should take traffic): Greenlight never deploys onto it`;
  }
  try {
    const actual = await deps.traffic.inspect(service);
    if (actual.weights[slot] > 0)
      return `${slot} takes ${actual.weights[slot]} % of traffic right now: Greenlight never deploys onto a serving slot`;
    // A load balancer that does not answer may be sending users there (a reload puts it back).
    const silent = silentInstances(actual).map((i) => `${i.name} (${i.region})`);
    if (silent.length > 0)
      return `${silent.join(', ')} did not answer, so Greenlight cannot tell whether users reach ${slot} through ${silent.length === 1 ? 'it' : 'them'}: it never deploys onto a slot that may serve; it can once ${silent.length === 1 ? 'it answers' : 'they answer'}`;
  } catch {
    // The proxy cannot be read: what Greenlight set (desired, above) is the best knowledge.
  }
  return undefined;
}
