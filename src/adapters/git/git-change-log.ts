import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import type { ChangeLog, ChangeLogResult } from '../../app/ports.ts';
import type { ServiceConfig } from '../../config/greenlight-schema.ts';
import type { Commit } from '../../domain/release-notes.ts';
import type { ChildEnvSource } from '../process/child-env.ts';
import { type ArgvResult, type RunArgvOptions, runArgv } from '../process/run-argv.ts';

/** Runs one argv (no shell); the same contract as runArgv, which tests may replace. */
export type ArgvRunner = (argv: readonly string[], options: RunArgvOptions) => Promise<ArgvResult>;

export interface GitChangeLogOptions {
  /** Greenlight's cache directory (GREENLIGHT_CACHE_DIR); unset: the system's tmp directory. */
  readonly cacheDir?: string | undefined;
  /** Child environments: the allow-list, plus each service's `deploy.env` (SSH_AUTH_SOCK…). */
  readonly env: ChildEnvSource;
  /** Where relative repository paths start. */
  readonly cwd: string;
  /** Removes every configured secret from git's output before it can reach a card. */
  readonly redact?: (text: string) => string;
  readonly run?: ArgvRunner;
}

const FIELD = '\x1f';
const RECORD = '\x1e';
/** Full sha, author name, subject, body; fields and records split by ASCII separators. */
const FORMAT = `--format=%H%x1f%an%x1f%s%x1f%b%x1e`;

/** A remote URL (`https://…`, `ssh://…`, `file://…`) or scp-like `git@host:path`. */
function isRemote(repo: string): boolean {
  return /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(repo) || /^[^/\s]+@[^/\s:]+:/.test(repo);
}

/** A repository as people may see it: credentials in a URL are never shown. */
export function displayRepo(repo: string): string {
  return repo.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^/@\s]*@/, '$1');
}

/** git's own last line of complaint, without credentials and without its `fatal: ` prefix. */
function gitComplaint(result: ArgvResult, repo: string): string {
  const line =
    result.output
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .at(-1) ?? result.reason;
  return line
    .split(repo)
    .join(displayRepo(repo))
    .replace(/([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^/@\s]*@/g, '$1')
    .replace(/^(fatal|error): /, '')
    .slice(0, 200);
}

export function parseGitLog(text: string): Commit[] {
  return text
    .split(RECORD)
    .map((record) => record.replace(/^\n/, ''))
    .filter((record) => record.trim() !== '')
    .map((record) => {
      const [sha = '', author = '', subject = '', ...body] = record.split(FIELD);
      return { sha: sha.trim(), author, subject, body: body.join(FIELD).trim() };
    });
}

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

/**
 * `ChangeLog` on git: a bare clone per service in Greenlight's cache directory
 * (`<cache>/greenlight-git/<service>`), made once, with its tags fetched before each use; then
 * `git log` between the two versions' tags. git runs as argv (no shell), through the argv runner
 * (its own process group, killed on timeout), with the child allow-list environment and no
 * terminal prompts. The configured repository, local or remote, is only ever read.
 */
export class GitChangeLog implements ChangeLog {
  private readonly services: Readonly<Record<string, ServiceConfig>>;
  private readonly root: string;
  private readonly options: GitChangeLogOptions;
  private readonly run: ArgvRunner;

  constructor(services: Readonly<Record<string, ServiceConfig>>, options: GitChangeLogOptions) {
    this.services = services;
    this.options = options;
    this.root = join(options.cacheDir || tmpdir(), 'greenlight-git');
    this.run = options.run ?? runArgv;
  }

  async between(service: string, fromVersion: string, toVersion: string): Promise<ChangeLogResult> {
    const git = this.services[service]?.changes?.git;
    if (git === undefined) return { ok: false, reason: `no changes.git configured for ${service}` };
    const repo =
      isRemote(git.repo) || isAbsolute(git.repo) ? git.repo : resolve(this.options.cwd, git.repo);
    const shown = displayRepo(git.repo);
    const call = (args: readonly string[], label: string) =>
      this.run(['git', ...args], {
        env: this.options.env.for(service, {
          GIT_TERMINAL_PROMPT: '0',
          // No one can answer a password prompt: an empty answer fails the call at once.
          GIT_ASKPASS: 'true',
          SSH_ASKPASS: 'true',
        }),
        cwd: this.root,
        timeoutSeconds: git.timeoutSeconds,
        label,
        ...(this.options.redact ? { redact: this.options.redact } : {}),
      });
    const dir = join(this.root, service);
    const ready = await this.ensureClone(repo, dir, call);
    if (!ready.ok)
      return {
        ok: false,
        reason: `could not clone ${shown}: ${ready.reason} (check changes.git.repo, and credentials passed through deploy.env)`,
      };
    const fetched = await call(
      ['-C', dir, 'fetch', '--quiet', '--tags', '--force', '--prune', 'origin'],
      'git fetch',
    );
    if (!fetched.ok)
      return {
        ok: false,
        reason: `could not fetch ${shown}: ${gitComplaint(fetched, repo)} (check changes.git.repo, and credentials passed through deploy.env)`,
      };
    const fromTag = git.tagPattern.replace('{version}', fromVersion);
    const toTag = git.tagPattern.replace('{version}', toVersion);
    for (const tag of [toTag, fromTag]) {
      const found = await call(
        ['-C', dir, 'rev-parse', '--verify', '--quiet', `refs/tags/${tag}^{commit}`],
        'git rev-parse',
      );
      if (!found.ok)
        return {
          ok: false,
          reason: `tag ${tag} not found in ${shown} (push the tag, or fix changes.git.tagPattern: ${git.tagPattern})`,
        };
    }
    // The log goes to a file: the argv runner keeps only the tail of a command's output.
    const out = join(this.root, `${service}.log-${randomBytes(4).toString('hex')}`);
    try {
      const log = await call(
        [
          '-C',
          dir,
          'log',
          '--no-merges',
          '--no-color',
          `--output=${out}`,
          FORMAT,
          `refs/tags/${fromTag}..refs/tags/${toTag}`,
        ],
        'git log',
      );
      if (!log.ok) return { ok: false, reason: `git log failed: ${gitComplaint(log, repo)}` };
      const commits = parseGitLog(await readFile(out, 'utf8'));
      return { ok: true, commits, fromTag, toTag };
    } finally {
      await rm(out, { force: true });
    }
  }

  /** Clones once into a temporary name, then renames: a clone cut short never looks finished. */
  private async ensureClone(
    repo: string,
    dir: string,
    call: (args: readonly string[], label: string) => Promise<ArgvResult>,
  ): Promise<{ ok: true } | { ok: false; reason: string }> {
    await mkdir(this.root, { recursive: true });
    if (await exists(join(dir, 'HEAD'))) {
      // The configured repository may have changed since the clone: follow it.
      const url = await call(['-C', dir, 'config', '--get', 'remote.origin.url'], 'git config');
      if (url.ok && url.output.trim() === repo) return { ok: true };
      const set = await call(['-C', dir, 'remote', 'set-url', 'origin', repo], 'git remote');
      return set.ok ? { ok: true } : { ok: false, reason: gitComplaint(set, repo) };
    }
    const partial = `${dir}.clone-${randomBytes(4).toString('hex')}`;
    const cloned = await call(['clone', '--bare', '--quiet', '--', repo, partial], 'git clone');
    if (!cloned.ok) {
      await rm(partial, { recursive: true, force: true });
      return { ok: false, reason: gitComplaint(cloned, repo) };
    }
    try {
      await rename(partial, dir);
    } catch {
      // Another process finished its clone first: use that one.
      await rm(partial, { recursive: true, force: true });
    }
    return { ok: true };
  }
}
