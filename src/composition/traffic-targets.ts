import type { HaproxyFleet } from '../adapters/haproxy/haproxy-fleet-switcher.ts';
import { HaproxyRuntimeApi } from '../adapters/haproxy/haproxy-runtime-api.ts';
import {
  type HaproxyServiceTraffic,
  HaproxyTrafficSwitcher,
} from '../adapters/haproxy/haproxy-traffic-switcher.ts';
import type { CommandTraffic } from '../adapters/traffic/command-traffic-switcher.ts';
import type { GreenlightConfig } from '../config/greenlight-schema.ts';

/** HAProxy targets (one instance or a fleet) and command drivers, by service. */
export function trafficTargets(config: GreenlightConfig): {
  haproxy: Map<string, HaproxyServiceTraffic>;
  fleets: Map<string, HaproxyFleet>;
  commands: Map<string, CommandTraffic>;
} {
  const haproxy = new Map<string, HaproxyServiceTraffic>();
  const fleets = new Map<string, HaproxyFleet>();
  const commands = new Map<string, CommandTraffic>();
  for (const [name, service] of Object.entries(config.services)) {
    if ('haproxy' in service.traffic) {
      const { runtimeApi, instances, backend, servers, timeoutMs, audienceMaps } =
        service.traffic.haproxy;
      const target = (address: string) => ({
        api: new HaproxyRuntimeApi(address, timeoutMs),
        backend,
        servers,
        ...(audienceMaps ? { maps: audienceMaps } : {}),
      });
      if (instances === undefined) haproxy.set(name, target(runtimeApi ?? ''));
      else
        fleets.set(name, {
          order: service.traffic.haproxy.order,
          regionSoakMs: service.traffic.haproxy.regionSoakSeconds * 1000,
          instances: instances.map((i) => ({
            name: i.name,
            region: i.region,
            switcher: new HaproxyTrafficSwitcher(new Map([[name, target(i.runtimeApi)]])),
          })),
        });
    } else {
      commands.set(name, service.traffic.command);
    }
  }
  return { haproxy, fleets, commands };
}
