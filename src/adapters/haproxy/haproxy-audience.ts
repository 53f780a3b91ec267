import type { AudienceEntry, AudienceKind } from '../../domain/rings.ts';
import { SLOTS, type Slot } from '../../domain/slots.ts';
import { HaproxyError, type HaproxyRuntimeApi } from './haproxy-runtime-api.ts';

/** The map file HAProxy reads for each kind of audience (`traffic.haproxy.audienceMaps`). */
export type AudienceMaps = Readonly<Partial<Record<AudienceKind, string>>>;

const KINDS: readonly AudienceKind[] = ['header', 'cookie', 'source'];

/**
 * Audience routing for rings: each map file maps a header or cookie value (or a client network)
 * to the name of the server that serves it, and the backend's `use-server` rules read it. The
 * entries live in HAProxy's memory only (a reload starts from the file, usually empty), so
 * Greenlight reads them back and the reconciler re-applies them like the weights.
 */
export async function readAudience(
  api: HaproxyRuntimeApi,
  maps: AudienceMaps,
  servers: Readonly<Record<Slot, string>>,
): Promise<AudienceEntry[]> {
  const entries: AudienceEntry[] = [];
  for (const kind of KINDS) {
    const path = maps[kind];
    if (path === undefined) continue;
    for (const [key, value] of await mapEntries(api, path)) {
      const slot = SLOTS.find((s) => servers[s] === value);
      // An entry naming no slot's server is not Greenlight's: it reads as a difference.
      entries.push({ kind, key, slot: slot ?? (value as Slot) });
    }
  }
  return entries;
}

async function mapEntries(api: HaproxyRuntimeApi, path: string): Promise<[string, string][]> {
  const reply = await api.send(`show map ${path}`);
  const lines = reply
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  if (lines.some((l) => !/^0x[0-9a-f]+ \S+ \S+$/.test(l)))
    throw new HaproxyError(`HAProxy cannot show the map ${path}: ${lines.join(' / ')}`);
  return lines.map((l) => {
    const [, key = '', value = ''] = l.split(' ');
    return [key, value];
  });
}

/** Brings every audience map to exactly `wanted`: adds, changes and removes entries. */
export async function writeAudience(
  api: HaproxyRuntimeApi,
  maps: AudienceMaps,
  servers: Readonly<Record<Slot, string>>,
  wanted: readonly AudienceEntry[],
): Promise<void> {
  for (const kind of KINDS) {
    const path = maps[kind];
    const want = new Map(
      wanted.filter((e) => e.kind === kind).map((e) => [e.key, servers[e.slot]]),
    );
    if (path === undefined) {
      if (want.size > 0) throw new HaproxyError(`no audienceMaps.${kind} configured`);
      continue;
    }
    const have = new Map(await mapEntries(api, path));
    const commands: string[] = [];
    for (const key of have.keys()) if (!want.has(key)) commands.push(`del map ${path} ${key}`);
    for (const [key, server] of want) {
      if (!have.has(key)) commands.push(`add map ${path} ${key} ${server}`);
      else if (have.get(key) !== server) commands.push(`set map ${path} ${key} ${server}`);
    }
    if (commands.length > 0) await api.apply(commands);
  }
}
