import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CommandTrafficSwitcher,
  parseStatus,
} from '../../src/adapters/traffic/command-traffic-switcher.ts';
import { ConfigError } from '../../src/config/config-error.ts';
import { parseConfig } from '../../src/config/load-config.ts';

const SCRIPT = new URL('../../testkit/deploy/traffic-cmd.mjs', import.meta.url).pathname;

function switcher(stateFile: string, status?: string[]) {
  return new CommandTrafficSwitcher(
    new Map([
      [
        'api',
        {
          switch: [process.execPath, SCRIPT, stateFile, 'set', '{slot}', '{weight}'],
          status: status ?? [process.execPath, SCRIPT, stateFile, 'status'],
          timeoutSeconds: 5,
        },
      ],
    ]),
    { for: (_service, step) => ({ PATH: process.env.PATH ?? '', ...step }) },
    tmpdir(),
  );
}

describe('the command traffic driver (argv, no shell) with a stand-in proxy CLI', () => {
  const state = join(tmpdir(), `greenlight-traffic-${process.pid}.json`);

  it('reads where traffic goes, switches, ramps and does nothing twice', async () => {
    rmSync(state, { force: true });
    const traffic = switcher(state);
    expect(await traffic.inspect('api')).toEqual({
      serving: ['blue'],
      weights: { blue: 100, green: 0 },
      up: ['blue', 'green'],
    });
    expect(await traffic.split('api', 'green', 20)).toEqual({ changed: true });
    expect(await traffic.inspect('api')).toMatchObject({
      serving: ['blue', 'green'],
      weights: { blue: 80, green: 20 },
    });
    expect(await traffic.split('api', 'green', 20)).toEqual({ changed: false });
    expect(await traffic.switchTo('api', 'green')).toEqual({ changed: true });
    expect(await traffic.inspect('api')).toMatchObject({ serving: ['green'] });
    expect(await traffic.switchTo('api', 'green')).toEqual({ changed: false });
  });

  it('passes placeholders as whole arguments, so nothing is interpreted by a shell', async () => {
    const pwned = join(tmpdir(), `greenlight-traffic-pwned-${process.pid}`);
    writeFileSync(state, JSON.stringify({ blue: 100, green: 0 }));
    const traffic = switcher(state, [
      process.execPath,
      SCRIPT,
      state,
      'status',
      `$(touch ${pwned})`,
    ]);
    expect((await traffic.inspect('api')).serving).toEqual(['blue']);
    expect(existsSync(pwned)).toBe(false);
  });

  it('says what is wrong when the status command fails or prints something else', async () => {
    await expect(
      switcher(state, [process.execPath, '-e', 'process.exit(3)']).inspect('api'),
    ).rejects.toThrow('traffic status command exited with code 3');
    await expect(
      switcher(state, [process.execPath, '-e', 'console.log("ok")']).inspect('api'),
    ).rejects.toThrow('the status command must print blue=<weight> and green=<weight>, got "ok"');
    expect(() => parseStatus('blue=80\ngreen=20')).not.toThrow();
  });

  it('is refused at start-up when analysis would need HAProxy stats it cannot have', () => {
    const yaml = `
alertsChannel: C0ALERTS
roles: { lead: [U0LEAD], security: [S0SEC], team: [U0DEV1], cto: [U0CTO] }
services:
  api:
    channel: C0RELEASES
    bootstrap: { production: blue, version: 1.0.0 }
    slots: { blue: { url: "http://10.0.0.1" }, green: { url: "http://10.0.0.2" } }
    deploy: { command: [./deploy.sh] }
    traffic: { command: { switch: [./lb, "{slot}", "{weight}"], status: [./lb, status] } }
`;
    expect(() => parseConfig(yaml)).toThrow(ConfigError);
    try {
      parseConfig(yaml);
    } catch (error) {
      expect((error as ConfigError).problems[0]?.path).toBe('services.api.analysis.source');
    }
    expect(() => parseConfig(`${yaml}    stabilityWindowMinutes: 0\n`)).not.toThrow();
  });
});

describe('a whole release through the command traffic driver', () => {
  it('switches with the switch command after approval and rolls back with it', async () => {
    const { readFileSync } = await import('node:fs');
    const { bumpAndRequestRelease, eventually, startReleaseWorld } = await import(
      '../../testkit/release-world.ts'
    );
    const stateFile = join(tmpdir(), `greenlight-lb-${process.pid}.json`);
    rmSync(stateFile, { force: true });
    const weights = () =>
      existsSync(stateFile)
        ? (JSON.parse(readFileSync(stateFile, 'utf8')) as Record<string, number>)
        : { blue: 100, green: 0 };
    const world = await startReleaseWorld({ overrides: { api: { trafficStateFile: stateFile } } });
    try {
      const { id } = await bumpAndRequestRelease(world, '2.4.1');
      expect(weights()).toEqual({ blue: 100, green: 0 });
      expect(await world.click('U0LEAD', 'release_approve', id)).toContain(
        'switching api to green',
      );
      await eventually(
        () => weights(),
        (w) => w.green === 100,
        20_000,
      );
      await eventually(
        () => world.slack.messages('C0RELEASES').some((m) => m.text.includes('New PRODUCTION')),
        Boolean,
      );
      expect(await world.command('U0DEV1', '/rollback', 'api lb test')).toContain(
        'Rolling api back to 2.4.0 on blue',
      );
      await eventually(
        () => weights(),
        (w) => w.blue === 100,
        20_000,
      );
      expect(await world.command('U0DEV2', '/release', 'status api')).toContain('traffic to blue');
    } finally {
      await world.close();
    }
  });
});
