import semver from 'semver';

export const BUMP_LEVELS = ['patch', 'minor', 'major', 'hotfix'] as const;
export type BumpLevel = (typeof BUMP_LEVELS)[number];
export const RELEASE_TYPES = ['hotfix', 'patch', 'minor', 'major'] as const;
export type ReleaseType = (typeof RELEASE_TYPES)[number];

export type BumpTarget = { level: BumpLevel } | { version: string };

export type NextVersion =
  | { ok: true; version: string; type: ReleaseType }
  | { ok: false; reason: 'not_newer'; current: string; given: string };

/**
 * The version a bump deploys, from PRODUCTION's. A hotfix is a patch bump that carries the
 * hotfix release type; an explicit version must be newer and takes its type from the change.
 */
export function nextVersion(production: string, target: BumpTarget): NextVersion {
  if ('level' in target) {
    const increment = target.level === 'hotfix' ? 'patch' : target.level;
    const version = semver.inc(production, increment);
    if (version === null) throw new Error(`invalid production version ${production}`);
    return { ok: true, version, type: target.level };
  }
  if (!semver.gt(target.version, production)) {
    return { ok: false, reason: 'not_newer', current: production, given: target.version };
  }
  return { ok: true, version: target.version, type: releaseTypeOf(production, target.version) };
}

/** The release type a version change implies (prereleases count as the change they lead to). */
export function releaseTypeOf(from: string, to: string): ReleaseType {
  const diff = semver.diff(from, to);
  if (diff === 'major' || diff === 'premajor') return 'major';
  if (diff === 'minor' || diff === 'preminor') return 'minor';
  return 'patch';
}

export function isNewer(candidate: string, than: string): boolean {
  return semver.gt(candidate, than);
}

/**
 * The first version from `version` on (itself, then patch by patch) that `isFaulty` does not
 * refuse: a bump never computes a version that was rolled back, and a refusal can name one that
 * would work. Gives up (returns undefined) after `limit` tries.
 */
export function firstUsable(
  version: string,
  isFaulty: (candidate: string) => boolean,
  limit = 50,
): string | undefined {
  let candidate: string | null = version;
  for (let i = 0; i < limit && candidate !== null; i += 1) {
    if (!isFaulty(candidate)) return candidate;
    candidate = semver.inc(candidate, 'patch');
  }
  return undefined;
}
