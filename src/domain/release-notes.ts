/**
 * Release notes from the commits between two versions' tags: Conventional Commits parsed and
 * grouped (breaking changes and security fixes first), PR and MR numbers linked through the
 * repository's web URL, and the whole cut to what a Block Kit section holds.
 *
 * Everything in a commit (subject, body, author) is untrusted text: it goes through the
 * user-text rule, so no commit can mention anyone, link anywhere or format the message.
 */
import { userText } from './user-text.ts';

/** One commit as git gives it. */
export interface Commit {
  readonly sha: string;
  readonly author: string;
  readonly subject: string;
  readonly body: string;
}

/** A PR (`(#123)`, GitHub) or MR (`!45`, GitLab) a commit names. */
export interface CommitRef {
  readonly sigil: '#' | '!';
  readonly number: number;
}

export interface ParsedCommit {
  /** The Conventional Commit type, lowercase; null for a commit that does not follow them. */
  readonly type: string | null;
  readonly scope: string | null;
  readonly breaking: boolean;
  readonly security: boolean;
  /** The subject without its `type(scope)!:` prefix and without its PR/MR numbers. */
  readonly description: string;
  readonly refs: readonly CommitRef[];
}

export const NOTE_GROUPS = [
  'breaking',
  'security',
  'feature',
  'fix',
  'enhancement',
  'other',
] as const;
export type NoteGroup = (typeof NOTE_GROUPS)[number];

/** Group titles, in the seeds' words. */
export const GROUP_TITLES: Readonly<Record<NoteGroup, string>> = {
  breaking: 'Breaking changes',
  security: 'Security',
  feature: 'New features',
  fix: 'Bug fixes',
  enhancement: 'Enhancements',
  other: 'Other changes',
};

/** One line of the notes, as stored on the release: every text already made safe. */
export interface NoteEntry {
  readonly group: NoteGroup;
  readonly type?: string;
  readonly scope?: string;
  readonly text: string;
  readonly author: string;
  readonly sha: string;
  readonly refs: readonly { readonly label: string; readonly url?: string }[];
}

export interface NotesAvailable {
  readonly ok: true;
  readonly fromTag: string;
  readonly toTag: string;
  /** Commits between the tags; `entries` may hold fewer (the first, by group). */
  readonly total: number;
  readonly entries: readonly NoteEntry[];
  readonly compareUrl?: string;
}

export interface NotesUnavailable {
  readonly ok: false;
  /** Why, in one line: `tag v2.4.1 not found in <repo>`. */
  readonly reason: string;
}

export type ReleaseNotes = NotesAvailable | NotesUnavailable;

/** A repository's web pages: how PR/MR and compare links are shaped. */
export interface WebLinks {
  readonly webUrl: string;
  readonly forge: 'github' | 'gitlab';
}

const HEADER = /^(?<type>[A-Za-z]+)(?:\((?<scope>[^()\r\n]*)\))?(?<bang>!)?:\s+(?<desc>\S.*)$/;
const BREAKING_FOOTER = /^BREAKING[ -]CHANGE:\s/m;
const GITHUB_REF = /\(#(\d{1,9})\)/g;
const GITLAB_REF = /(?:^|[\s(])!(\d{1,9})\b/g;
/** What a PR/MR number looks like in a subject, to take it out of the description. */
const REF_TEXT = [/\s*\([#!]\d{1,9}\)/g, /(^|\s)!\d{1,9}\b/g] as const;
const MERGE_REQUEST_TRAILER = /^See merge request \S*!(\d{1,9})\s*$/gm;
const SECURITY_TYPES = new Set(['security', 'sec']);
const FEATURE_TYPES = new Set(['feat', 'feature']);
const FIX_TYPES = new Set(['fix', 'bugfix', 'hotfix']);
const ENHANCEMENT_TYPES = new Set(['perf', 'refactor', 'improvement']);

function refsOf(subject: string, body: string): CommitRef[] {
  const refs: CommitRef[] = [];
  const add = (sigil: '#' | '!', digits: string | undefined) => {
    const number = Number(digits);
    if (Number.isSafeInteger(number) && !refs.some((r) => r.sigil === sigil && r.number === number))
      refs.push({ sigil, number });
  };
  for (const m of subject.matchAll(GITHUB_REF)) add('#', m[1]);
  for (const m of subject.matchAll(GITLAB_REF)) add('!', m[1]);
  for (const m of body.matchAll(MERGE_REQUEST_TRAILER)) add('!', m[1]);
  return refs;
}

/** Reads a commit as a Conventional Commit; any other commit is kept as it is, type null. */
export function parseCommit(commit: Commit): ParsedCommit {
  const subject = commit.subject.trim();
  const refs = refsOf(subject, commit.body);
  const header = HEADER.exec(subject)?.groups;
  const type = header?.type?.toLowerCase() ?? null;
  const scope = header?.scope?.trim() || null;
  const description = (header?.desc ?? subject)
    .replace(REF_TEXT[0], '')
    .replace(REF_TEXT[1], '$1')
    .trim();
  const scopes = (scope ?? '').toLowerCase().split(/[,/\s]+/);
  return {
    type,
    scope,
    breaking: header?.bang === '!' || (type !== null && BREAKING_FOOTER.test(commit.body)),
    security: (type !== null && SECURITY_TYPES.has(type)) || scopes.includes('security'),
    description: description || subject,
    refs,
  };
}

/** Which group a commit's line goes in: breaking first, then security, then by type. */
export function groupOf(parsed: ParsedCommit): NoteGroup {
  if (parsed.breaking) return 'breaking';
  if (parsed.security) return 'security';
  const type = parsed.type ?? '';
  if (FEATURE_TYPES.has(type)) return 'feature';
  if (FIX_TYPES.has(type)) return 'fix';
  if (ENHANCEMENT_TYPES.has(type)) return 'enhancement';
  return 'other';
}

/** GitLab when the host names it, GitHub otherwise, unless the config says which. */
export function webLinks(webUrl: string, forge?: 'github' | 'gitlab'): WebLinks {
  let host = '';
  try {
    host = new URL(webUrl).hostname;
  } catch {
    // validated as a URL by the config; keep the default shape
  }
  return { webUrl, forge: forge ?? (/gitlab/i.test(host) ? 'gitlab' : 'github') };
}

/** `|`, `<` and `>` would end a Slack link early; a configured URL never needs them raw. */
const safeUrl = (url: string) =>
  url.replace(/[|<> ]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

function refUrl(ref: CommitRef, web: WebLinks | undefined): string | undefined {
  if (web === undefined) return undefined;
  if (ref.sigil === '!')
    return web.forge === 'gitlab' ? `${web.webUrl}/-/merge_requests/${ref.number}` : undefined;
  return web.forge === 'github'
    ? `${web.webUrl}/pull/${ref.number}`
    : `${web.webUrl}/-/issues/${ref.number}`;
}

export function compareUrl(web: WebLinks, fromTag: string, toTag: string): string {
  const path = web.forge === 'gitlab' ? '/-/compare/' : '/compare/';
  return `${web.webUrl}${path}${encodeURI(fromTag)}...${encodeURI(toTag)}`;
}

/** One commit as a line of the notes, every text through the user-text rule. */
export function noteEntry(commit: Commit, web?: WebLinks): NoteEntry {
  const parsed = parseCommit(commit);
  return {
    group: groupOf(parsed),
    ...(parsed.type !== null ? { type: userText(parsed.type, 20) } : {}),
    ...(parsed.scope !== null ? { scope: userText(parsed.scope, 40) } : {}),
    text: userText(parsed.description, 200),
    author: userText(commit.author, 60),
    sha: commit.sha.slice(0, 10).replace(/[^0-9a-f]/g, ''),
    refs: parsed.refs.map((ref) => {
      const url = refUrl(ref, web);
      return { label: `${ref.sigil}${ref.number}`, ...(url ? { url: safeUrl(url) } : {}) };
    }),
  };
}

/** Entries kept on a release record: more than any card shows, few enough to keep it small. */
export const STORED_ENTRIES = 100;

/** The notes of `commits` (newest first, as git log gives them), grouped and ordered. */
export function buildReleaseNotes(
  commits: readonly Commit[],
  options: { fromTag: string; toTag: string; web?: WebLinks; maxEntries?: number },
): NotesAvailable {
  const order = (group: NoteGroup) => NOTE_GROUPS.indexOf(group);
  const entries = commits
    .map((commit) => noteEntry(commit, options.web))
    // Array.prototype.sort is stable: within a group, git's order (newest first) stays.
    .sort((a, b) => order(a.group) - order(b.group))
    .slice(0, options.maxEntries ?? STORED_ENTRIES);
  return {
    ok: true,
    fromTag: options.fromTag,
    toTag: options.toTag,
    total: commits.length,
    entries,
    ...(options.web
      ? { compareUrl: safeUrl(compareUrl(options.web, options.fromTag, options.toTag)) }
      : {}),
  };
}

export function entryLine(entry: NoteEntry): string {
  const typed = (entry.group === 'enhancement' || entry.group === 'other') && entry.type;
  const scope = entry.scope ? `(${entry.scope})` : '';
  const lead = typed ? `${entry.type}${scope}: ` : entry.scope ? `*${entry.scope}:* ` : '';
  const refs = entry.refs.map((r) => (r.url ? `<${r.url}|${r.label}>` : r.label)).join(', ');
  return `• ${lead}${entry.text}${refs ? ` (${refs})` : ''} · ${entry.author}`;
}

export const link = (url: string | undefined, label: string) => (url ? `<${url}|${label}>` : label);

/**
 * The notes as one mrkdwn text of at most `maxChars` (a section's 3000): a heading, then the
 * groups in order, as many lines as fit (and at most `maxLines`), then `…and N more` with the
 * compare link when some were left out.
 */
export function notesText(notes: NotesAvailable, maxChars = 3000, maxLines = 40): string {
  const range = link(notes.compareUrl, `${notes.fromTag}...${notes.toTag}`);
  const count = `${notes.total} commit${notes.total === 1 ? '' : 's'}`;
  const heading = `*What changes* · ${range} · ${count}`;
  if (notes.total === 0)
    return `${heading}\nNo commits between ${notes.fromTag} and ${notes.toTag}.`;
  const more = (n: number) =>
    n > 0
      ? `\n_…and ${n} more${notes.compareUrl ? `: ${link(notes.compareUrl, 'compare')}` : ''}_`
      : '';
  let text = heading;
  let shown = 0;
  let group: NoteGroup | undefined;
  for (const entry of notes.entries) {
    if (shown >= maxLines) break;
    const head = entry.group !== group ? `\n*${GROUP_TITLES[entry.group]}*` : '';
    const next = `${text}${head}\n${entryLine(entry)}`;
    if (next.length + more(notes.total - shown - 1).length > maxChars) break;
    text = next;
    group = entry.group;
    shown += 1;
  }
  return `${text}${more(notes.total - shown)}`;
}

/** The one line a card shows when the notes could not be read. */
export function notesUnavailableText(notes: NotesUnavailable): string {
  return `:warning: Release notes unavailable: ${userText(notes.reason, 300)}`;
}
