import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { keysOf } from '../../../src/config/config-error.ts';
import { ENV_VARS } from '../../../src/config/env.ts';
import { greenlightConfigSchema } from '../../../src/config/greenlight-schema.ts';
import { loadConfig } from '../../../src/config/load-config.ts';

// The file operators copy to start: it must load with the real loader, and show each feature.
const path = fileURLToPath(new URL('../../../greenlight.example.yml', import.meta.url));

describe('greenlight.example.yml', () => {
  it('loads with the real loader and shows checklists, steps, comms and flags on api', async () => {
    const config = await loadConfig(path);
    const api = config.services.api;
    expect(api?.checklists?.pre?.map((i) => [i.text, i.required])).toEqual([
      ['Release notes reviewed', true],
      ['Rollback plan confirmed', true],
      ['Database migrations reviewed', false],
    ]);
    expect(api?.checklists?.post?.[0]).toEqual({
      text: 'Smoke test passed',
      required: true,
      owner: ['U0QA'],
    });
    expect(api?.releaseTypes?.hotfix?.checklists?.pre).toEqual([
      { text: 'Rollback plan confirmed', required: true },
    ]);
    expect(api?.steps?.migrate).toMatchObject({
      command: ['./migrate.sh', 'up'],
      reversible: false,
      approverRole: 'lead',
      compensation: 'https://runbooks.example.com/api-migrate-down',
    });
    expect(config.comms.channels).toEqual(['C0STATUS']);
    expect(config.comms.alertmanager?.matchers[0]).toEqual({
      name: 'team',
      value: 'payments',
      isRegex: false,
      isEqual: true,
    });
    expect(config.comms.webhooks[0]?.events).toEqual([
      'started',
      'released',
      'rolled_back',
      'failed',
    ]);
    expect(config.flagProviders.unleash?.tokenEnv).toBe('UNLEASH_ADMIN_TOKEN');
    expect(api?.flags).toEqual([
      {
        name: 'new-checkout',
        environment: 'production',
        provider: 'unleash',
        rollout: [10, 50, 100],
        killSwitch: true,
        role: 'team',
      },
    ]);
    expect(api?.changes?.git.repo).toBe('https://github.com/acme/api.git');
  });

  it('shows rings on a fleet of HAProxy instances with audience maps on web', async () => {
    const web = (await loadConfig(path)).services.web;
    expect(web?.strategy).toBe('canary');
    expect(Object.keys(web?.rings ?? {})).toEqual(['internal', 'office', 'early', 'all']);
    expect(web?.rings?.internal?.match).toEqual({
      header: 'X-Greenlight-Ring',
      values: ['internal', 'beta'],
    });
    expect(web?.rings?.all).toEqual({ percent: 100, soakMinutes: 0 });
    const haproxy = web && 'haproxy' in web.traffic ? web.traffic.haproxy : undefined;
    expect(haproxy?.instances?.map((i) => `${i.region}/${i.name}`)).toEqual([
      'eu/lb-eu-1',
      'eu/lb-eu-2',
      'us/lb-us-1',
      'us/lb-us-2',
    ]);
    expect(haproxy?.order).toBe('region');
    expect(haproxy?.audienceMaps).toEqual({
      header: '/etc/haproxy/greenlight/web-header.map',
      source: '/etc/haproxy/greenlight/web-source.map',
    });
    // Left out on purpose: web gets the built-in checklist skeleton.
    expect(web?.checklists).toBeUndefined();
  });

  it('names every key the schema accepts, as a key or in a comment', () => {
    const text = readFileSync(path, 'utf8');
    const missing = keysOf(greenlightConfigSchema).filter(
      (key) => !new RegExp(`\\b${key}\\b`).test(text),
    );
    expect(missing).toEqual([]);
  });
});

describe("README's configuration reference", () => {
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
  const section = (from: string, to: string) =>
    readme.slice(readme.indexOf(from), readme.indexOf(to, readme.indexOf(from)));

  it('names every greenlight.yml key the schema accepts in the greenlight.yml table', () => {
    const table = section('### greenlight.yml', '## Running it for real');
    const missing = keysOf(greenlightConfigSchema).filter(
      (key) => !new RegExp(`\\b${key}\\b`).test(table),
    );
    expect(missing).toEqual([]);
  });

  it('gives every environment variable a row in the environment table', () => {
    const table = section('### Environment', '### greenlight.yml');
    const rows = [...table.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);
    expect(rows.toSorted()).toEqual([...ENV_VARS].toSorted());
  });
});
