import type { GreenlightConfig, ServiceConfig } from '../config/greenlight-schema.ts';
import type { CommsDeps } from './comms-ports.ts';
import type { FlagProvider } from './flag-ports.ts';
import type {
  AuditLog,
  ChangeLog,
  Clock,
  Deployer,
  Directory,
  FaultyVersions,
  GateRunner,
  IdGenerator,
  Locks,
  MetricsSource,
  Notifier,
  ReleaseTelemetry,
  SlotProbe,
  StateStore,
  StepCommandRunner,
  StepScheduler,
  TrafficSwitcher,
} from './ports.ts';

export interface AppLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/** Everything the use cases need, built once by the composition root. */
export interface AppDeps {
  readonly config: GreenlightConfig;
  readonly store: StateStore;
  readonly scheduler: StepScheduler;
  readonly notifier: Notifier;
  readonly traffic: TrafficSwitcher;
  readonly probe: SlotProbe;
  readonly deployer: Deployer;
  /** Runs `steps` commands; without it, a release with steps fails at its first step. */
  readonly stepRunner?: StepCommandRunner;
  readonly directory: Directory;
  readonly locks: Locks;
  readonly audit: AuditLog;
  readonly faulty: FaultyVersions;
  readonly gates: GateRunner;
  /**
   * The gates a `--dry-run` runs: results reused for `dryRunGateCacheSeconds` (see
   * reused-gate-results.ts). Without it, dry runs use `gates`.
   */
  readonly dryRunGates?: GateRunner;
  readonly metrics: MetricsSource;
  /** Release notes for services with `changes.git`; without it, no notes are read. */
  readonly changes?: ChangeLog;
  readonly telemetry: ReleaseTelemetry;
  /** Stakeholder notices, Alertmanager silences and webhooks (`comms`); without it, none. */
  readonly comms?: CommsDeps;
  /** Feature flags (`flagProviders`); without it, services have no flags to change. */
  readonly flags?: FlagProvider;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  readonly log: AppLog;
  /** How long to wait for a deployed slot to be healthy and report its version. */
  readonly readyTimeoutMs?: number;
  /** Pause between probe rounds; tests shorten it. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** True once the process is stopping: work cut short by the stop must run again elsewhere. */
  readonly isStopping?: () => boolean;
}

export function serviceConfig(deps: Uses<'config'>, service: string): ServiceConfig {
  const config = deps.config.services[service];
  if (config === undefined) throw new Error(`unknown service ${service}`);
  return config;
}

export const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Appends to the audit trail; a failure to audit is logged, never turned into a user error. */
export async function audit(
  deps: Uses<'audit' | 'clock' | 'log'>,
  entry: Omit<import('./ports.ts').AuditEntry, 'at'>,
): Promise<void> {
  try {
    await deps.audit.append({ at: deps.clock.now().toISOString(), ...entry });
  } catch (error) {
    deps.log.error({ err: error, entry }, 'could not write the audit trail');
  }
}

/**
 * The ports a use case uses, named in its signature: a test passes exactly these (no cast to the
 * whole bag), and a reader sees what a use case can touch without reading its body.
 */
export type Uses<K extends keyof AppDeps> = Pick<AppDeps, K>;

/** What reading, adopting and changing a service's state takes (service-access.ts). */
export type ServicePorts =
  | 'audit'
  | 'clock'
  | 'config'
  | 'log'
  | 'notifier'
  | 'probe'
  | 'store'
  | 'traffic';

/** What applying a release event and carrying out its effects takes (release-runner.ts). */
export type EventPorts = ServicePorts | 'scheduler' | 'telemetry';
