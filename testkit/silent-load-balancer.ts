import type { TrafficSwitcher } from '../src/app/ports.ts';

/**
 * `traffic` behind two load balancers: lb1 (eu) reads as `traffic` does; lb2 (us) does not
 * answer its Runtime API on the reads `silent` picks (counted from 1; all of them by default),
 * and otherwise reads as lb1. Moves go to `traffic`, as a fleet's reach the instances that answer.
 */
export function withSilentLb2(
  traffic: TrafficSwitcher,
  silent: (read: number) => boolean = () => true,
): TrafficSwitcher {
  let reads = 0;
  return {
    ...traffic,
    inspect: async (service) => {
      reads += 1;
      const lb1 = await traffic.inspect(service);
      return {
        ...lb1,
        instances: [
          { name: 'lb1', region: 'eu', state: lb1 },
          silent(reads)
            ? { name: 'lb2', region: 'us', error: 'Runtime API: timeout' }
            : { name: 'lb2', region: 'us', state: lb1 },
        ],
      };
    },
  };
}
