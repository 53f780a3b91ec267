import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';

/** Every metric Greenlight exports on /metrics; one registry per process, no globals. */
export interface Metrics {
  readonly registry: Registry;
  readonly commands: Counter<'command' | 'outcome'>;
  readonly info: Gauge<'version' | 'role'>;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'greenlight_' });
  return {
    registry,
    commands: new Counter({
      name: 'greenlight_commands_total',
      help: 'Slash commands received, by command and outcome (answered, refused, failed).',
      labelNames: ['command', 'outcome'],
      registers: [registry],
    }),
    info: new Gauge({
      name: 'greenlight_info',
      help: 'Always 1; labels carry the running version and process role.',
      labelNames: ['version', 'role'],
      registers: [registry],
    }),
  };
}
