import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunningGreenlight, startGreenlight, writeConfig } from './greenlight-process.ts';
import { audienceMapPaths, type HaproxyFixture, startHaproxy } from './haproxy-fixture.ts';
import { freePort } from './ports.ts';
import { type RedisFixture, redisFixture } from './redis-fixture.ts';
import { SlackEmulator } from './slack-emulator.ts';
import { viewSubmissionPayload } from './slack-payloads.ts';
import { type SlackReply, SlackSender } from './slack-sender.ts';
import { type SlotServer, startSlotServer } from './slot-server.ts';

export { loadLoop } from './load.ts';

export const SIGNING_SECRET = 'release-world-signing-secret';
const DEPLOY_SCRIPT = new URL('./deploy/deploy-slot.mjs', import.meta.url).pathname;
const TRAFFIC_SCRIPT = new URL('./deploy/traffic-cmd.mjs', import.meta.url).pathname;

export interface ServiceWorld {
  readonly name: string;
  readonly blue: SlotServer;
  readonly green: SlotServer;
  /** Write `ok`, `fail`, `hang`, `unhealthy` or `wrong-version` to steer the next deploys. */
  setDeployMode(
    mode: 'ok' | 'fail' | 'hang' | 'slow' | 'unhealthy' | 'wrong-version',
  ): Promise<void>;
  /** Lines `<release id> <version> <pid>`, one per run of the deploy command. */
  deployRuns(): Promise<string[]>;
}

/**
 * Everything a release needs, for real: slot servers, HAProxy in front of them, Redis, the Slack
 * emulator, and Greenlight itself as a process, with a greenlight.yml pointing at all of it.
 */
export interface ReleaseWorld {
  readonly slack: SlackEmulator;
  readonly redis: RedisFixture;
  readonly haproxy: HaproxyFixture;
  /** With `haproxyFleet`: every HAProxy instance, in config order (the first is `haproxy`). */
  readonly fleet: readonly HaproxyFixture[];
  /** The running Greenlight; replaced by `restart()`. */
  readonly app: RunningGreenlight;
  /** Stops Greenlight (SIGTERM) and starts it again with the same environment. */
  restart(extraEnv?: Record<string, string>): Promise<RunningGreenlight>;
  /** The environment Greenlight runs with, for starting more processes. */
  readonly env: Record<string, string>;
  readonly sender: SlackSender;
  readonly services: Record<string, ServiceWorld>;
  readonly configPath: string;
  /** Sends a slash command as `user` and waits for the private answer (ack body or response_url post). */
  command(user: string, command: string, text: string): Promise<string>;
  /** Clicks a release button as `user` and waits for the private answer. */
  click(user: string, action: string, releaseId: string): Promise<string>;
  /** Clicks Reject, fills the modal Greenlight opens with `reason`, submits it; returns the confirmation. */
  reject(user: string, releaseId: string, reason: string): Promise<string>;
  close(): Promise<void>;
}

export interface WorldOptions {
  services?: string[];
  /** Extra YAML appended under each service. */
  serviceExtra?: string;
  /** Extra top-level YAML (freeze, blockedDays, freezeException, …). */
  topLevelExtra?: string;
  /** Per service: another Runtime API address (an unreachable one), backend or deploy argv. */
  overrides?: Record<
    string,
    { runtimeApi?: string; backend?: string; deployCommand?: string[]; trafficStateFile?: string }
  >;
  deployTimeoutSeconds?: number;
  env?: Record<string, string>;
  /** Blue/green stability window; 0 (the default here) calls a release done at the switch. */
  stabilityWindowMinutes?: number;
  /** `bluegreen` (default) or `canary`. */
  strategy?: 'bluegreen' | 'canary';
  /**
   * The services' `checklists` as YAML flow text; `skeleton` leaves the key out (the built-in
   * default). Unset: none (`{ pre: [], post: [] }`), so tests about other things approve at once.
   */
  checklists?: string;
  /**
   * Several HAProxy instances in front of the same slots (`traffic.haproxy.instances`), one per
   * region listed (instances `lb-1`, `lb-2`, …), switched `order` (default all at once).
   */
  haproxyFleet?: { regions: string[]; order?: 'all' | 'region'; regionSoakSeconds?: number };
  /**
   * Rings: HAProxy gets the README's `use-server` lines on audience maps (header
   * X-Greenlight-Ring, cookie gl_ring, client network) and greenlight.yml their paths.
   * `greenlight-only`: greenlight.yml names the map files but HAProxy was never given them.
   */
  audienceMaps?: boolean | 'greenlight-only';
  /** Path HAProxy's health checks use (default /healthz; /hachk can fail on its own). */
  haproxyCheckPath?: string;
}

function textOf(body: unknown): string {
  if (typeof body !== 'object' || body === null) return String(body);
  const b = body as {
    text?: string;
    blocks?: { text?: { text?: string }; elements?: { text?: string }[] }[];
  };
  const blockTexts = (b.blocks ?? []).flatMap((block) => [
    block.text?.text ?? '',
    ...(block.elements ?? []).map((e) => e.text ?? ''),
  ]);
  return [b.text ?? '', ...blockTexts].join('\n');
}

export async function startReleaseWorld(options: WorldOptions = {}): Promise<ReleaseWorld> {
  const names = options.services ?? ['api'];
  const slack = await SlackEmulator.start({ usergroups: { S0SECURITY: ['U0SEC1'] } });
  const redis = await redisFixture('world');
  const services: Record<string, ServiceWorld> = {};
  const backends: Record<string, { blue: number; green: number }> = {};
  for (const name of names) {
    const blue = await startSlotServer('blue', { version: '2.4.0' });
    const green = await startSlotServer('green', { version: '0.0.0' });
    const modeFile = join(
      tmpdir(),
      `greenlight-deploy-mode-${process.pid}-${name}-${Math.random().toString(16).slice(2)}`,
    );
    await writeFile(modeFile, 'ok');
    services[name] = {
      name,
      blue,
      green,
      setDeployMode: (mode) => writeFile(modeFile, mode),
      deployRuns: async () =>
        (await readFile(`${modeFile}.runs`, 'utf8').catch(() => '')).split('\n').filter(Boolean),
    };
    backends[name] = { blue: blue.port, green: green.port };
    (services[name] as ServiceWorld & { modeFile: string }).modeFile = modeFile;
  }
  const fleet: HaproxyFixture[] = [];
  // One map directory for every instance, as one configuration deployed to every load balancer.
  const mapDir = options.audienceMaps
    ? await mkdtemp(join(tmpdir(), 'greenlight-maps-'))
    : undefined;
  for (let i = 0; i < Math.max(1, options.haproxyFleet?.regions.length ?? 1); i += 1) {
    fleet.push(
      await startHaproxy(backends, {
        ...(options.haproxyCheckPath ? { checkPath: options.haproxyCheckPath } : {}),
        ...(mapDir && options.audienceMaps === true ? { audienceMapDir: mapDir } : {}),
      }),
    );
  }
  const mapsYaml = (backend: string) =>
    mapDir ? `, audienceMaps: ${JSON.stringify(audienceMapPaths(mapDir, backend))}` : '';
  const haproxy = fleet[0] as HaproxyFixture;
  const fleetYaml = (backend: string) => {
    const spec = options.haproxyFleet;
    if (spec === undefined) return '';
    const instances = spec.regions.map(
      (region, i) =>
        `{ name: lb-${i + 1}, region: ${region}, runtimeApi: "${fleet[i]?.runtimeApi}" }`,
    );
    return `haproxy: { instances: [${instances.join(', ')}], order: ${spec.order ?? 'all'}, regionSoakSeconds: ${spec.regionSoakSeconds ?? 0}, backend: ${backend}, servers: { blue: blue, green: green }, timeoutMs: 1000${mapsYaml(backend)} }`;
  };
  const serviceYaml = await Promise.all(
    names.map(async (name) => {
      const s = services[name] as ServiceWorld & { modeFile: string };
      const override = options.overrides?.[name] ?? {};
      const runtimeApi = override.runtimeApi ?? haproxy.runtimeApi;
      const deployCommand = JSON.stringify(
        override.deployCommand ?? [process.execPath, DEPLOY_SCRIPT, s.modeFile],
      );
      return `  ${name}:
    channel: C0RELEASES
    strategy: ${options.strategy ?? 'bluegreen'}
    stabilityWindowMinutes: ${options.stabilityWindowMinutes ?? 0}
    bootstrap: { production: blue, version: 2.4.0 }
    slots:
      blue: { url: "${s.blue.url}" }
      green: { url: "${s.green.url}" }
    health: { path: /healthz, timeoutMs: 1000, successes: 2, intervalMs: 100, readyTimeoutSeconds: 5 }
    deploy: { command: ${deployCommand}, timeoutSeconds: ${options.deployTimeoutSeconds ?? 20} }
    traffic:
      ${
        options.haproxyFleet
          ? fleetYaml(override.backend ?? name)
          : override.trafficStateFile
            ? `command: { switch: ${JSON.stringify([process.execPath, TRAFFIC_SCRIPT, override.trafficStateFile, 'set', '{slot}', '{weight}'])}, status: ${JSON.stringify([process.execPath, TRAFFIC_SCRIPT, override.trafficStateFile, 'status'])} }`
            : `haproxy: { runtimeApi: "${runtimeApi}", backend: ${override.backend ?? name}, servers: { blue: blue, green: green }, timeoutMs: 1000${mapsYaml(override.backend ?? name)} }`
      }
    runbookUrl: "https://runbooks.example.com/${name}"
${options.checklists === 'skeleton' ? '' : `    checklists: ${options.checklists ?? '{ pre: [], post: [] }'}\n`}${options.serviceExtra ?? ''}`;
    }),
  );
  const configPath = await writeConfig(`timezone: Europe/Berlin
alertsChannel: C0ALERTS
roles:
  lead: [U0LEAD]
  security: [S0SECURITY]
  team: [U0DEV1, U0DEV2]
  cto: [U0CTO]
${options.topLevelExtra ?? ''}
services:
${serviceYaml.join('\n')}
`);
  const env = {
    SLACK_BOT_TOKEN: slack.botToken,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: slack.apiUrl,
    REDIS_URL: redis.url,
    GREENLIGHT_KEY_PREFIX: redis.keyPrefix,
    GREENLIGHT_CONFIG: configPath,
    PORT: String(await freePort()),
    ...options.env,
  };
  let app = await startGreenlight(env);
  const sender = new SlackSender(app.url, SIGNING_SECRET);

  const answerOf = async (reply: SlackReply, responseUrl: string): Promise<string> => {
    if (reply.status !== 200) throw new Error(`Greenlight answered HTTP ${reply.status}`);
    if (typeof reply.body === 'object' && reply.body !== null) return textOf(reply.body);
    return textOf((await slack.waitForResponse(responseUrl, 20_000)).body);
  };

  const click = async (user: string, action: string, releaseId: string): Promise<string> => {
    const responseUrl = slack.newResponseUrl();
    const parent = slack
      .messages('C0RELEASES')
      .find((m) => JSON.stringify(m.blocks).includes(`"value":"${releaseId}:`));
    // Click what the message shows now: its button carries the stage it was drawn at.
    const value =
      JSON.stringify(parent?.blocks ?? []).match(
        new RegExp(`"action_id":"${action}"[^}]*?"value":"(${releaseId}:[^"]*)"`),
      )?.[1] ?? buttonValue(slack, releaseId);
    const reply = await sender.click({
      action_id: action,
      value,
      user_id: user,
      message_ts: parent?.ts ?? '1.000000',
      message_blocks: parent?.blocks ?? [],
      response_url: responseUrl,
    });
    return answerOf(reply, responseUrl);
  };

  return {
    slack,
    redis,
    haproxy,
    fleet,
    get app() {
      return app;
    },
    env,
    async restart(extraEnv = {}) {
      await app.stop('SIGTERM');
      app = await startGreenlight({ ...env, ...extraEnv });
      return app;
    },
    sender,
    services,
    configPath,
    async command(user, command, text) {
      const responseUrl = slack.newResponseUrl();
      const reply = await sender.slashCommand({
        command,
        text,
        user_id: user,
        response_url: responseUrl,
      });
      return answerOf(reply, responseUrl);
    },
    click,
    async reject(user, releaseId, reason) {
      const opened = slack.callsTo('views.open').length;
      const responseUrl = slack.newResponseUrl();
      const reply = await sender.click({
        action_id: 'release_reject',
        value: buttonValue(slack, releaseId),
        user_id: user,
        message_ts: '1.000000',
        response_url: responseUrl,
      });
      if (reply.status !== 200) throw new Error(`Greenlight answered HTTP ${reply.status}`);
      const first = await Promise.race([
        slack
          .waitForCall('views.open', (call) => slack.callsTo('views.open').indexOf(call) >= opened)
          .then((call) => ({ call })),
        slack.waitForResponse(responseUrl).then((post) => ({ post })),
      ]);
      if ('post' in first) return textOf(first.post.body);
      const view = first.call.args.view as Record<string, unknown>;
      const ephemerals = slack.callsTo('chat.postEphemeral').length;
      const payload = viewSubmissionPayload({ ...view, id: 'V1' }, user, {
        reason: { reason_input: reason },
      });
      const submitted = await sender.post(
        new URLSearchParams({ payload: JSON.stringify(payload) }).toString(),
      );
      if (submitted.status !== 200) throw new Error(`view submission answered ${submitted.status}`);
      if (typeof submitted.body === 'object' && submitted.body !== null)
        return JSON.stringify(submitted.body);
      const confirmation = await slack.waitForCall(
        'chat.postEphemeral',
        (call) => slack.callsTo('chat.postEphemeral').indexOf(call) >= ephemerals,
      );
      return String(confirmation.args.text);
    },
    async close() {
      await app.stop('SIGTERM');
      for (const instance of fleet) await instance.stop();
      if (mapDir) await rm(mapDir, { recursive: true, force: true });
      for (const s of Object.values(services)) {
        await s.blue.close();
        await s.green.close();
      }
      await slack.close();
      await redis.cleanup();
    },
  };
}

/** Which slot answers through HAProxy's frontend, over `count` requests. */
export async function trafficSplit(url: string, count = 10): Promise<Record<string, number>> {
  const seen: Record<string, number> = {};
  for (let i = 0; i < count; i += 1) {
    const res = await fetch(url);
    const key =
      res.status === 200 ? ((await res.json()) as { slot: string }).slot : `http ${res.status}`;
    if (res.status !== 200) await res.arrayBuffer();
    seen[key] = (seen[key] ?? 0) + 1;
  }
  return seen;
}

/** Polls until `check` passes or `timeoutMs` runs out; returns the last value. */
export async function eventually<T>(
  check: () => Promise<T> | T,
  accept: (value: T) => boolean,
  timeoutMs = 20_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await check();
  while (!accept(value)) {
    if (Date.now() > deadline)
      throw new Error(
        `condition not met within ${timeoutMs} ms; last value: ${JSON.stringify(value)}`,
      );
    await new Promise((r) => setTimeout(r, intervalMs));
    value = await check();
  }
  return value;
}

/** The newest release id on a parent message that mentions `version` and still has Approve. */
export function pendingReleaseId(world: ReleaseWorld, version: string): Promise<string> {
  return eventually(
    () => {
      const parent = world.slack
        .messages('C0RELEASES')
        .filter(
          (m) =>
            m.thread_ts === undefined &&
            m.text.includes(`→ ${version}`) &&
            JSON.stringify(m.blocks).includes('release_approve'),
        )
        .at(-1);
      return JSON.stringify(parent?.blocks ?? []).match(/"value":"(rel-[^":]+)/)?.[1] ?? '';
    },
    (id) => id !== '',
  );
}

/**
 * `/bump <service> <level>` until STANDBY is healthy, then `/release`, as `U0DEV1`; returns the
 * release id and the parent message's ts.
 */
export async function bumpAndRequestRelease(
  world: ReleaseWorld,
  version: string,
  bumpArgs = 'api',
): Promise<{ id: string; parentTs: string }> {
  const service = bumpArgs.split(' ')[0] ?? 'api';
  await world.command('U0DEV1', '/bump', bumpArgs);
  await eventually(
    () =>
      world.slack
        .messages('C0RELEASES')
        .some((m) => m.text.includes(`${service} ${version} is on STANDBY`)),
    Boolean,
    30_000,
  ).catch((error: Error) => {
    // What Greenlight was doing says more than "not met": a deploy stuck, a worker not taking jobs.
    throw new Error(
      `${error.message}\n--- Greenlight output (tail) ---\n${world.app.output.slice(-40).join('\n')}`,
    );
  });
  const answer = await world.command('U0DEV1', '/release', service);
  if (!answer.includes('requested')) throw new Error(`/release ${service} was refused: ${answer}`);
  const id = await pendingReleaseId(world, version);
  const parent = world.slack
    .messages('C0RELEASES')
    .find((m) => m.thread_ts === undefined && JSON.stringify(m.blocks).includes(`"value":"${id}:`));
  return { id, parentTs: parent?.ts ?? '' };
}

/** The value Greenlight drew on a release's buttons most recently (`<id>:<stage>`). */
export function buttonValue(slack: SlackEmulator, releaseId: string): string {
  const parent = slack
    .messages('C0RELEASES')
    .find((m) => JSON.stringify(m.blocks).includes(`"value":"${releaseId}:`));
  return (
    JSON.stringify(parent?.blocks ?? []).match(new RegExp(`"value":"(${releaseId}:[^"]*)"`))?.[1] ??
    releaseId
  );
}
