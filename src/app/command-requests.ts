import type { CommandName } from '../config/greenlight-schema.ts';

export const BUMP_LEVELS = ['patch', 'minor', 'major', 'hotfix'] as const;
export type BumpLevel = (typeof BUMP_LEVELS)[number];

/** What the user asked for, parsed and checked against the configured services. */
export type CommandRequest =
  | {
      kind: 'bump';
      service: string;
      target: { level: BumpLevel } | { version: string };
      dryRun: boolean;
    }
  | { kind: 'release'; service: string; dryRun: boolean }
  | { kind: 'release-status'; service?: string }
  | { kind: 'release-help' }
  | { kind: 'sync'; service: string; dryRun: boolean }
  | { kind: 'rollback'; service: string; reason?: string; dryRun: boolean };

/** Who typed the command and where, as Slack reported it (already signature-verified). */
export interface CommandContext {
  readonly command: CommandName;
  readonly userId: string;
  readonly channelId: string;
  readonly text: string;
}
