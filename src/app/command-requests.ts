import type { CommandName } from '../config/greenlight-schema.ts';

import type { FlagChange } from '../domain/flags.ts';
import type { BumpTarget } from '../domain/version.ts';

export { BUMP_LEVELS, type BumpLevel } from '../domain/version.ts';

/** What the user asked for, parsed and checked against the configured services. */
export type CommandRequest =
  | {
      kind: 'bump';
      service: string;
      target: BumpTarget;
      dryRun: boolean;
    }
  | { kind: 'release'; service: string; dryRun: boolean; justification?: string }
  | { kind: 'release-history'; service: string; limit: number }
  | { kind: 'release-unmark'; service: string; version: string }
  | { kind: 'release-status'; service?: string }
  | { kind: 'release-help' }
  | { kind: 'sync'; service: string; dryRun: boolean }
  | { kind: 'rollback'; service: string; reason?: string; dryRun: boolean }
  | {
      kind: 'flag';
      service: string;
      flag: string;
      change: FlagChange;
      reason?: string;
      dryRun: boolean;
    };

/** Who typed the command and where, as Slack reported it (already signature-verified). */
export interface CommandContext {
  readonly command: CommandName;
  readonly userId: string;
  readonly channelId: string;
  readonly text: string;
}
