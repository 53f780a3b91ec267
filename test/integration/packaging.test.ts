import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdtemp, readdir, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createMetrics } from '../../src/metrics.ts';
import { writeConfig } from '../../testkit/greenlight-process.ts';
import { freePort } from '../../testkit/ports.ts';
import { type RedisFixture, redisFixture } from '../../testkit/redis-fixture.ts';
import { SlackEmulator } from '../../testkit/slack-emulator.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const read = (path: string) => readFile(join(ROOT, path), 'utf8');
/** The Node options of `npm start` (`node <options> dist/src/main.js`). */
const START_OPTIONS = (() => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    scripts: { start: string };
  };
  const words = pkg.scripts.start.split(/\s+/);
  return words.slice(words.indexOf('node') + 1, words.indexOf('dist/src/main.js'));
})();

interface Instruction {
  readonly stage: number;
  readonly op: string;
  readonly args: string;
}

/** Dockerfile instructions, continuation lines joined, comments dropped. */
function instructions(dockerfile: string): Instruction[] {
  const joined = dockerfile.replace(/\\\n\s*/g, ' ');
  let stage = -1;
  return joined
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((line) => {
      const [op = '', ...rest] = line.split(/\s+/);
      if (op.toUpperCase() === 'FROM') stage += 1;
      return { stage, op: op.toUpperCase(), args: rest.join(' ') };
    });
}

describe('the Dockerfile (checked without a Docker engine)', () => {
  let steps: Instruction[];
  beforeAll(async () => {
    steps = instructions(await read('Dockerfile'));
  });

  it('is multi-stage on node:24-slim and runs as the non-root node user', () => {
    const froms = steps.filter((s) => s.op === 'FROM');
    expect(froms.length).toBe(2);
    for (const from of froms) expect(from.args).toMatch(/^node:24-slim\b/);
    const last = froms.length - 1;
    expect(steps.filter((s) => s.stage === last && s.op === 'USER').map((s) => s.args)).toEqual([
      'node',
    ]);
  });

  it('follows hadolint-style rules: no latest tags, npm ci from the lock, exec-form CMD, a HEALTHCHECK on /healthz', () => {
    for (const from of steps.filter((s) => s.op === 'FROM'))
      expect(from.args).not.toMatch(/:latest\b/);
    expect(steps.some((s) => s.op === 'COPY' && s.args.includes('package-lock.json'))).toBe(true);
    expect(steps.some((s) => s.op === 'RUN' && /\bnpm ci\b/.test(s.args))).toBe(true);
    expect(steps.some((s) => s.op === 'RUN' && /\bnpm install\b/.test(s.args))).toBe(false);
    // The runtime stage ships the bundle from `npm run build`, not the build stage's node_modules.
    expect(steps.some((s) => s.stage === 0 && s.op === 'RUN' && s.args === 'npm run build')).toBe(
      true,
    );
    const shipped = steps.filter((s) => s.stage === 1 && s.op === 'COPY').map((s) => s.args);
    expect(shipped.some((a) => a.includes('/app/dist ./dist'))).toBe(true);
    expect(shipped.some((a) => a.includes('node_modules'))).toBe(false);
    const cmd = steps.find((s) => s.op === 'CMD');
    // The image runs Greenlight as `npm start` does: the same Node options, the compiled entry.
    expect(JSON.parse(cmd?.args ?? 'null')).toEqual(['node', ...START_OPTIONS, 'dist/src/main.js']);
    const health = steps.find((s) => s.op === 'HEALTHCHECK');
    expect(health?.args).toContain('/healthz');
    for (const run of steps.filter((s) => s.op === 'RUN' && s.args.includes('apt-get install'))) {
      expect(run.args).toContain('--no-install-recommends');
    }
  });
});

describe("the image's contents, built and run the way the Dockerfile does", () => {
  let dir: string;
  let slack: SlackEmulator;
  let redis: RedisFixture;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'greenlight-image-'));
    for (const path of [
      'package.json',
      'package-lock.json',
      'tsconfig.json',
      'tsconfig.build.json',
      'scripts/build.ts',
      'src',
      'greenlight.example.yml',
    ]) {
      await cp(join(ROOT, path), join(dir, path), { recursive: true });
    }
    await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    slack = await SlackEmulator.start();
    redis = await redisFixture('image');
  }, 60_000);

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
    await slack?.close();
    await redis?.cleanup();
  });

  it('builds with `npm run build` and the bundle, with no node_modules beside it, serves /healthz, which the HEALTHCHECK accepts', async () => {
    const pkg = JSON.parse(await read('package.json')) as { scripts: { build: string } };
    expect(pkg.scripts.build).toBe('tsc -p tsconfig.build.json && node scripts/build.ts');
    const check = spawnSync(
      process.execPath,
      [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
      { cwd: dir, encoding: 'utf8' },
    );
    expect(check.stderr + check.stdout).toBe('');
    expect(check.status).toBe(0);
    const build = spawnSync(process.execPath, ['scripts/build.ts'], { cwd: dir, encoding: 'utf8' });
    expect(build.stderr).toBe('');
    expect(build.status).toBe(0);
    expect(await readFile(join(dir, 'dist/THIRD-PARTY-LICENSES.txt'), 'utf8')).toContain(
      'Permission is hereby granted',
    );
    // The image's runtime stage copies dist/ and package.json only: the bundle must need nothing else.
    await rm(join(dir, 'node_modules'));

    const port = await freePort();
    const config = await writeConfig(
      (await read('greenlight.example.yml')).replace(
        '127.0.0.1:9999',
        `127.0.0.1:${await freePort()}`,
      ),
    );
    const { child, exited, output } = spawnGreenlightFrom(dir, {
      NODE_ENV: 'production',
      PORT: String(port),
      SLACK_BOT_TOKEN: slack.botToken,
      SLACK_SIGNING_SECRET: 'image-signing-secret',
      SLACK_API_URL: slack.apiUrl,
      REDIS_URL: redis.url,
      GREENLIGHT_KEY_PREFIX: redis.keyPrefix,
      GREENLIGHT_CONFIG: config,
    });
    try {
      const dockerfile = await read('Dockerfile');
      const probe = dockerfile.match(/"-e", "([^"]+)"/)?.[1]?.replace(/\\'/g, "'") ?? '';
      let healthy = 1;
      for (let i = 0; i < 100 && healthy !== 0; i += 1) {
        await new Promise((r) => setTimeout(r, 100));
        healthy =
          spawnSync(process.execPath, ['-e', probe], { env: { PORT: String(port) } }).status ?? 1;
        if (child.exitCode !== null) throw new Error(output.join('\n'));
      }
      expect(healthy).toBe(0);
    } finally {
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  });
});

function spawnGreenlightFrom(dir: string, env: Record<string, string>) {
  const child = spawn(process.execPath, [...START_OPTIONS, 'dist/src/main.js'], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stdout?.on('data', (c: Buffer) => output.push(c.toString()));
  child.stderr?.on('data', (c: Buffer) => output.push(c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, output };
}

describe('npm run build beside running processes', () => {
  it('a rebuild from changed sources leaves every file an earlier main.js imports in place, and removes only its own old files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'greenlight-rebuild-'));
    try {
      for (const path of ['package.json', 'scripts/build.ts', 'src']) {
        await cp(join(ROOT, path), join(dir, path), { recursive: true });
      }
      await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
      const build = () => {
        const run = spawnSync(process.execPath, ['scripts/build.ts'], {
          cwd: dir,
          encoding: 'utf8',
        });
        expect(run.stderr).toBe('');
        return readFile(join(dir, 'dist/src/main.js'), 'utf8');
      };
      const importsOf = (code: string) =>
        [...code.matchAll(/import\("\.\/([^"]+)"\)/g)].map((m) => m[1] ?? '');
      const first = await build();
      // The worker part changes, so its chunk and what main.js loads for it change.
      const workers = join(dir, 'src/composition/start-workers.ts');
      const source = await readFile(workers, 'utf8');
      expect(source).toContain("'traffic reconciled at start-up'");
      await writeFile(workers, source.replace("'traffic reconciled at start-up'", "'rebuilt'"));
      // Two hours old: a chunk of a build long gone, and a file the build never wrote.
      const old = new Date(Date.now() - 2 * 60 * 60 * 1000);
      const stale = join(dir, 'dist/src/start-workers-0ld0ld0l.js');
      const crashed = join(dir, 'dist/THIRD-PARTY-LICENSES.txt.4242.partial');
      const foreign = join(dir, 'dist/notes.txt');
      const foreignInBundle = join(dir, 'dist/src/notes.txt');
      for (const path of [stale, crashed, foreign, foreignInBundle]) {
        await writeFile(path, '// not this build\n');
        await utimes(path, old, old);
      }
      const second = await build();
      expect(existsSync(stale)).toBe(false);
      expect(existsSync(crashed)).toBe(false);
      expect(existsSync(foreign)).toBe(true);
      expect(existsSync(foreignInBundle)).toBe(true);
      expect(importsOf(first).length).toBeGreaterThan(0);
      expect(importsOf(second)).not.toEqual(importsOf(first));
      // A process started from the first main.js still finds each chunk it loads later.
      const files = await readdir(join(dir, 'dist/src'));
      for (const chunk of [...importsOf(first), ...importsOf(second)])
        expect(files).toContain(chunk);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('docker-compose.yml and the example HAProxy', () => {
  it('runs Greenlight from this Dockerfile beside Redis with noeviction and AOF, and HAProxy', async () => {
    const compose = parse(await read('docker-compose.yml')) as {
      services: Record<
        string,
        {
          build?: string;
          image?: string;
          command?: string[];
          volumes?: string[];
          depends_on?: object;
          environment?: Record<string, string>;
        }
      >;
    };
    expect(Object.keys(compose.services).sort()).toEqual(['greenlight', 'haproxy', 'redis']);
    expect(compose.services.greenlight?.build).toBe('.');
    expect(compose.services.greenlight?.environment?.REDIS_URL).toBe('redis://redis:6379');
    expect(compose.services.redis?.command).toEqual([
      'redis-server',
      '--maxmemory-policy',
      'noeviction',
      '--appendonly',
      'yes',
    ]);
    expect(compose.services.haproxy?.volumes).toContain(
      './deploy/haproxy/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro',
    );
  });

  it('ships an HAProxy config that HAProxy itself accepts, with an admin Runtime API', async () => {
    const check = spawnSync('haproxy', ['-c', '-f', join(ROOT, 'deploy/haproxy/haproxy.cfg')], {
      encoding: 'utf8',
    });
    expect(check.stdout + check.stderr).toContain('Configuration file is valid');
    expect(await read('deploy/haproxy/haproxy.cfg')).toMatch(/stats socket \S+ level admin/);
  });

  it('ships a Grafana dashboard whose queries use only metrics Greenlight exports', async () => {
    const dashboard = JSON.parse(await read('deploy/grafana/greenlight-dashboard.json')) as {
      panels: { targets: { expr: string }[] }[];
    };
    const exported = new Set(
      (await createMetrics().registry.getMetricsAsJSON()).map((m) => m.name),
    );
    const used = dashboard.panels.flatMap((p) =>
      p.targets.flatMap((t) => t.expr.match(/greenlight_[a-z_]+/g) ?? []),
    );
    expect(used.length).toBeGreaterThan(8);
    for (const name of used) {
      const base = name.replace(/_(bucket|count|sum)$/, '');
      expect(exported.has(base) || exported.has(name), `${name} is not exported`).toBe(true);
    }
  });
});
