import { checklistStatusLine } from '../../domain/checklist.ts';
import { releaseDeadline } from '../../domain/deadlines.ts';
import { awaitingRedeploy, desiredTraffic } from '../../domain/desired-traffic.ts';
import { awaitsApproval, awaitsWord, currentStep } from '../../domain/pre-switch-steps.ts';
import { ACTIVE_STATES, missingRoles, type Release } from '../../domain/release.ts';
import { type ServiceState, standbyOf } from '../../domain/service-state.ts';
import type { Slot } from '../../domain/slots.ts';
import type { Answer } from '../answer.ts';
import { type ServicePorts, serviceConfig, type Uses } from '../app-deps.ts';
import { deadlineRules } from '../deadline-rules.ts';
import { instanceLines } from '../fleet-traffic.ts';
import { ringLines } from '../ring-traffic.ts';
import { currentState } from '../service-access.ts';

async function slotLine(
  deps: Uses<'config' | 'probe'>,
  service: string,
  slot: Slot,
  role: string,
  recorded: string,
): Promise<string> {
  const health = await deps.probe.health(service, slot);
  const url = serviceConfig(deps, service).slots[slot].url;
  return `${role}: ${slot} ${recorded} · ${health.ok ? 'healthy' : `unhealthy (${health.reason})`} · ${url}`;
}

async function serviceLines(deps: Uses<ServicePorts>, service: string): Promise<string[]> {
  const state = await currentState(deps, service);
  const standby = standbyOf(state);
  const lines = [`*${service}*`];
  const production = state.slots[state.production];
  const stand = state.slots[standby];
  lines.push(
    await slotLine(
      deps,
      service,
      state.production,
      'PRODUCTION',
      production.version ?? 'unknown version',
    ),
  );
  const standbyRecorded =
    stand.health === 'failed'
      ? `last deploy failed (${stand.note ?? 'no detail'})`
      : stand.health === 'deploying'
        ? `deploying (was ${stand.version ?? 'unknown'})`
        : (stand.version ??
          // Marked so when it stopped answering what was recorded (a rollback redeploys it).
          (stand.note ? `version unknown (${stand.note})` : 'no version yet'));
  lines.push(await slotLine(deps, service, standby, 'STANDBY', standbyRecorded));
  const release = state.lastReleaseId ? await deps.store.getRelease(state.lastReleaseId) : null;
  try {
    const traffic = await deps.traffic.inspect(service);
    // A canary's split is what the release wants, not drift: compare with the control loop's aim.
    const desired = desiredTraffic(state, release);
    const wanted = (Object.keys(desired.weights) as Slot[]).filter((s) => desired.weights[s] > 0);
    const drift =
      traffic.serving.length !== wanted.length || wanted.some((s) => !traffic.serving.includes(s));
    lines.push(
      `HAProxy: traffic to ${traffic.serving.join(' + ') || 'no slot'}; up: ${traffic.up.join(', ') || 'none'}${drift ? ` (drift: ${desired.because})` : ''}`,
      ...instanceLines(traffic),
    );
  } catch (error) {
    lines.push(`HAProxy: unreachable (${(error as Error).message})`);
  }
  if (state.operation !== null) {
    lines.push(
      `Running: ${state.operation.kind} ${state.operation.version ?? ''} by <@${state.operation.by}> since ${state.operation.startedAt.slice(11, 16)} UTC`,
    );
  }
  if (release !== null) {
    const waiting = whereItStands(deps, release, state);
    lines.push(
      `${ACTIVE_STATES.includes(release.state) ? 'Release under way' : 'Last release'}: ${release.fromVersion} → ${release.version} (${release.type}) ${release.state.replace('_', ' ')}${waiting}`,
      ...(await ringLines(deps, release)),
    );
    const checklist = checklistStatusLine(release);
    if (checklist !== undefined) lines.push(checklist);
  }
  return lines;
}

/** `/release status [service]`: both slots with live health, HAProxy's view, what is running. */
export async function releaseStatus(
  deps: Uses<ServicePorts>,
  request: { service?: string },
): Promise<Answer> {
  const services = request.service ? [request.service] : Object.keys(deps.config.services).sort();
  const blocks = await Promise.all(services.map((service) => serviceLines(deps, service)));
  return {
    message: request.service
      ? `Status of ${request.service}`
      : `Status of ${services.length} services`,
    details: blocks.map((lines) => lines.join('\n')),
  };
}

/** What a release waits for, or where its rollback is; empty when its state says it all. */
function whereItStands(
  deps: Uses<'clock' | 'config'>,
  release: Release,
  state: ServiceState,
): string {
  if (release.state === 'awaiting_approval')
    return `, waiting for ${missingRoles(release).join(' and ')}`;
  if (release.state === 'rolling_back') return rollbackWords(deps, release, state);
  const step = release.state === 'running_steps' ? currentStep(release) : undefined;
  if (step === undefined) return '';
  if (awaitsWord(step))
    return `: step ${step.name} was cut off while it ran; waiting for ${step.approverRole} (not the requester) to say whether it completed`;
  if (awaitsApproval(step))
    return `: step ${step.name} waiting for its approval from ${step.approverRole} (not the requester)`;
  return `: step ${step.name} ${step.startedAt ? 'running' : 'about to run'}`;
}

/** Where a rollback is: under way, or failed and when it is tried again. */
function rollbackWords(
  deps: Uses<'clock' | 'config'>,
  release: Release,
  state: ServiceState,
): string {
  // The old slot no longer runs the last good version: the rollback deploys it there first.
  const redeploying = release.fromSlot !== state.production && awaitingRedeploy(state, release);
  if (release.failure === undefined)
    return redeploying
      ? `: under way, deploying ${release.fromVersion} onto ${release.fromSlot} first (users stay on ${state.production})`
      : ': under way';
  const retry = releaseDeadline(release, deadlineRules(serviceConfig(deps, release.service)));
  const when =
    retry === undefined || retry.at <= deps.clock.now().getTime()
      ? ' shortly'
      : ` at ${new Date(retry.at).toISOString().slice(11, 16)} UTC`;
  return `: failed (${release.failure}); Greenlight tries it again${when}, or now with /rollback ${release.service} <reason>`;
}
