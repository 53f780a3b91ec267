import type { ReleaseType } from './version.ts';

export interface ReleaseTypeRule {
  readonly approvals: readonly string[];
  readonly rollbackWindowMinutes: number;
}

/** DESIGN.md's defaults; a service's `releaseTypes` overrides them type by type. */
export const DEFAULT_RELEASE_TYPES: Readonly<Record<ReleaseType, ReleaseTypeRule>> = {
  hotfix: { approvals: ['lead', 'security'], rollbackWindowMinutes: 2 * 60 },
  patch: { approvals: ['lead'], rollbackWindowMinutes: 4 * 60 },
  minor: { approvals: ['team'], rollbackWindowMinutes: 24 * 60 },
  major: { approvals: ['cto', 'team'], rollbackWindowMinutes: 3 * 24 * 60 },
};

export function releaseTypeRule(
  type: ReleaseType,
  overrides: Partial<Record<ReleaseType, ReleaseTypeRule>> | undefined,
): ReleaseTypeRule {
  return overrides?.[type] ?? DEFAULT_RELEASE_TYPES[type];
}

/** The roles (of those asked for) that a user holds, given each role's resolved members. */
export function rolesHeldBy(
  user: string,
  members: Readonly<Record<string, readonly string[]>>,
): string[] {
  return Object.entries(members)
    .filter(([, users]) => users.includes(user))
    .map(([role]) => role);
}
