import semver from 'semver';
import { BUMP_LEVELS, type BumpLevel, type CommandRequest } from '../../app/command-requests.ts';
import type { CommandName } from '../../config/greenlight-schema.ts';
import { parseFlagChange } from '../../domain/flags.ts';
import { userText } from '../../domain/user-text.ts';

/** Slack allows 4,000 characters of command text; reasons beyond this are cut, not refused. */
export const MAX_REASON_LENGTH = 500;

export type ParseProblem =
  | { code: 'missing_service' }
  | { code: 'unknown_service'; given: string }
  | { code: 'unknown_level'; given: string }
  | { code: 'unexpected_argument'; given: string }
  | { code: 'unknown_option'; given: string }
  | { code: 'bad_flag_change'; given: string };

export type ParseResult =
  | { ok: true; request: CommandRequest }
  | { ok: false; problem: ParseProblem };

const DRY_RUN = '--dry-run';

function words(text: string): string[] {
  return text.trim().split(/\s+/).filter(Boolean);
}

/** Splits out `--dry-run`; any other `--option` is a mistake worth telling the user about. */
function options(args: string[]): { rest: string[]; dryRun: boolean; unknown?: string } {
  const rest: string[] = [];
  let dryRun = false;
  for (const arg of args) {
    if (arg === DRY_RUN) dryRun = true;
    else if (arg.startsWith('--')) return { rest, dryRun, unknown: arg };
    else rest.push(arg);
  }
  return { rest, dryRun };
}

function bumpTarget(
  arg: string | undefined,
): { level: BumpLevel } | { version: string } | undefined {
  if (arg === undefined) return { level: 'patch' };
  const lower = arg.toLowerCase();
  if ((BUMP_LEVELS as readonly string[]).includes(lower)) return { level: lower as BumpLevel };
  const version = semver.valid(arg.replace(/^v/i, ''));
  return version === null ? undefined : { version };
}

/**
 * A rollback reason is free text (it may well contain `--`), so options count only before the
 * service name and directly after it.
 */
function splitReason(all: string[]): { args: string[]; reasonWords: string[] } {
  const serviceIndex = all.findIndex((word) => !word.startsWith('--'));
  if (serviceIndex === -1) return { args: all, reasonWords: [] };
  let end = serviceIndex + 1;
  while (all[end]?.startsWith('--')) end += 1;
  return { args: all.slice(0, end), reasonWords: all.slice(end) };
}

/** `/release api --justify <free text>`: everything after `--justify` is the justification. */
function splitJustification(all: string[]): { args: string[]; reasonWords: string[] } {
  const at = all.indexOf('--justify');
  if (at === -1) return { args: all, reasonWords: [] };
  return { args: all.slice(0, at), reasonWords: all.slice(at + 1) };
}

/**
 * Parses slash-command text into a request. Pure: the service list comes from the config, and
 * nothing typed here is ever interpreted beyond these words.
 */
export function parseCommand(
  command: CommandName,
  text: string,
  services: readonly string[],
): ParseResult {
  const all = words(text);
  const known = (name: string) => services.includes(name.toLowerCase());
  const fail = (problem: ParseProblem): ParseResult => ({ ok: false, problem });

  if (command === 'release') {
    const first = all[0]?.toLowerCase();
    if (first === 'help') return { ok: true, request: { kind: 'release-help' } };
    if (first === 'history') {
      const service = all[1];
      if (service === undefined) return fail({ code: 'missing_service' });
      if (!known(service)) return fail({ code: 'unknown_service', given: service });
      const limit = all[2] === undefined ? 10 : Number(all[2]);
      if (!Number.isInteger(limit) || limit < 1 || limit > 50)
        return fail({ code: 'unexpected_argument', given: all[2] ?? '' });
      return {
        ok: true,
        request: { kind: 'release-history', service: service.toLowerCase(), limit },
      };
    }
    if (first === 'unmark') {
      const service = all[1];
      if (service === undefined) return fail({ code: 'missing_service' });
      if (!known(service)) return fail({ code: 'unknown_service', given: service });
      const version = semver.valid((all[2] ?? '').replace(/^v/i, ''));
      if (version === null) return fail({ code: 'unknown_level', given: all[2] ?? '' });
      return {
        ok: true,
        request: { kind: 'release-unmark', service: service.toLowerCase(), version },
      };
    }
    if (first === 'status') {
      const service = all[1];
      if (service === undefined) return { ok: true, request: { kind: 'release-status' } };
      if (!known(service)) return fail({ code: 'unknown_service', given: service });
      if (all[2] !== undefined) return fail({ code: 'unexpected_argument', given: all[2] });
      return { ok: true, request: { kind: 'release-status', service: service.toLowerCase() } };
    }
  }

  if (command === 'flag') return parseFlag(all, known);
  const { args, reasonWords } =
    command === 'rollback'
      ? splitReason(all)
      : command === 'release'
        ? splitJustification(all)
        : { args: all, reasonWords: [] };
  const opts = options(args);
  if (opts.unknown !== undefined) return fail({ code: 'unknown_option', given: opts.unknown });
  const [serviceArg, ...rest] = opts.rest;
  if (serviceArg === undefined) return fail({ code: 'missing_service' });
  if (!known(serviceArg)) return fail({ code: 'unknown_service', given: serviceArg });
  const service = serviceArg.toLowerCase();
  const dryRun = opts.dryRun;

  switch (command) {
    case 'bump': {
      const target = bumpTarget(rest[0]);
      if (target === undefined) return fail({ code: 'unknown_level', given: rest[0] ?? '' });
      if (rest[1] !== undefined) return fail({ code: 'unexpected_argument', given: rest[1] });
      return { ok: true, request: { kind: 'bump', service, target, dryRun } };
    }
    case 'release': {
      if (rest[0] !== undefined) return fail({ code: 'unexpected_argument', given: rest[0] });
      const justification = userText(reasonWords.join(' '), MAX_REASON_LENGTH);
      return {
        ok: true,
        request: { kind: 'release', service, dryRun, ...(justification ? { justification } : {}) },
      };
    }
    case 'sync':
      if (rest[0] !== undefined) return fail({ code: 'unexpected_argument', given: rest[0] });
      return { ok: true, request: { kind: 'sync', service, dryRun } };
    case 'rollback': {
      const reason = userText(reasonWords.join(' '), MAX_REASON_LENGTH);
      return {
        ok: true,
        request: reason
          ? { kind: 'rollback', service, reason, dryRun }
          : { kind: 'rollback', service, dryRun },
      };
    }
  }
}

/** `/flag <service> <flag> on|off|<percent> [reason]`, with `--dry-run` anywhere before the reason. */
function parseFlag(all: string[], known: (name: string) => boolean): ParseResult {
  const fail = (problem: ParseProblem): ParseResult => ({ ok: false, problem });
  const dryRun = all.slice(0, 4).includes(DRY_RUN);
  const words = dryRun ? all.filter((w, i) => !(w === DRY_RUN && i < 4)) : all;
  const [serviceArg, flagArg, changeArg, ...reasonWords] = words;
  const unknownOption = [serviceArg, flagArg, changeArg].find((w) => w?.startsWith('--'));
  if (unknownOption !== undefined) return fail({ code: 'unknown_option', given: unknownOption });
  if (serviceArg === undefined) return fail({ code: 'missing_service' });
  if (!known(serviceArg)) return fail({ code: 'unknown_service', given: serviceArg });
  if (flagArg === undefined || !/^[A-Za-z0-9_.-]{1,100}$/.test(flagArg))
    return fail({ code: 'bad_flag_change', given: flagArg ?? '' });
  const change = parseFlagChange(changeArg);
  if (change === undefined) return fail({ code: 'bad_flag_change', given: changeArg ?? '' });
  const reason = userText(reasonWords.join(' '), MAX_REASON_LENGTH);
  return {
    ok: true,
    request: {
      kind: 'flag',
      service: serviceArg.toLowerCase(),
      flag: flagArg,
      change,
      dryRun,
      ...(reason ? { reason } : {}),
    },
  };
}
