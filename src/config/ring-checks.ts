import type { z } from 'zod';
import type { serviceSchema } from './services-schema.ts';

type Service = z.infer<typeof serviceSchema>;

/** Where `rings` need more than their own shape: the strategy, and HAProxy's map files. */
export function ringProblems(service: Service): { path: (string | number)[]; message: string }[] {
  const rings = service.rings;
  if (rings === undefined) return [];
  const problems: { path: (string | number)[]; message: string }[] = [];
  if (service.strategy !== 'canary')
    problems.push({
      path: ['strategy'],
      message: 'rings walk a release ring by ring: set strategy: canary',
    });
  const maps = 'haproxy' in service.traffic ? service.traffic.haproxy.audienceMaps : undefined;
  const names = { header: new Set<string>(), cookie: new Set<string>() };
  for (const [name, ring] of Object.entries(rings)) {
    const match = ring.match;
    if (match === undefined) continue;
    const kind = 'header' in match ? 'header' : 'cookie' in match ? 'cookie' : 'source';
    if ('header' in match) names.header.add(match.header.toLowerCase());
    if ('cookie' in match) names.cookie.add(match.cookie);
    if (maps?.[kind] === undefined)
      problems.push({
        path: ['rings', name, 'match'],
        message: `an audience by ${kind} needs traffic.haproxy.audienceMaps.${kind} (the map file HAProxy's use-server rule reads)`,
      });
  }
  for (const kind of ['header', 'cookie'] as const) {
    if (names[kind].size > 1)
      problems.push({
        path: ['rings'],
        message: `expected one ${kind} name for every ring (HAProxy reads one map per ${kind}), got ${[...names[kind]].join(', ')}`,
      });
  }
  return problems;
}
