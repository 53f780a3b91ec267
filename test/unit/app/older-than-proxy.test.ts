import { describe, expect, it } from 'vitest';
import type { AppDeps } from '../../../src/app/app-deps.ts';
import { reconcileTraffic } from '../../../src/app/reconciler.ts';
import { apiConfig } from '../../../testkit/api-config.ts';
import { apiWorld } from '../../../testkit/api-world.ts';
import { releaseRecord } from '../../../testkit/release-fixtures.ts';

// Redis came back from a snapshot taken before the approval: its release still waits for
// approval while the proxy already sends everything to the release's slot. Greenlight must leave
// traffic alone, and it decides that by asking the slot its version. A slot that is slow to
// answer once (a starved process) must not turn that into "drift" and roll production back.
const AT = '2026-11-26T10:00:00.000Z';
const PROXY_STARTED = Date.parse('2026-11-26T09:00:00.000Z');

function world(
  versionAnswers: ({ ok: true; version: string } | { ok: false; reason: string })[],
  proxyNow = new Date(PROXY_STARTED),
) {
  const w = apiWorld(apiConfig(), new Date(AT), {
    traffic: { weights: { blue: 100, green: 0 }, at: AT, proxyStartedAt: PROXY_STARTED },
  });
  w.releases.set('rel-1', releaseRecord(AT));
  w.weights.blue = 0;
  w.weights.green = 100;
  const asked: string[] = [];
  const deps: AppDeps = {
    ...w.deps,
    sleep: async () => undefined,
    traffic: { ...w.deps.traffic, startedAt: async () => proxyNow },
    probe: {
      ...w.deps.probe,
      version: async (_service, slot) => {
        asked.push(slot);
        return versionAnswers.shift() ?? { ok: false, reason: 'no answer left' };
      },
    },
  };
  return { w, deps, asked };
}

describe('a Redis record older than the proxy', () => {
  it('leaves traffic alone when the slot answers its version on a second try', async () => {
    const { w, deps, asked } = world([
      { ok: false, reason: 'http://127.0.0.1:3002/version did not answer (timeout)' },
      { ok: true, version: '2.4.1' },
    ]);
    await reconcileTraffic(deps, 'api');
    expect(w.weights).toEqual({ blue: 0, green: 100 });
    expect(asked).toEqual(['green', 'green']);
    expect(w.posts.some((p) => p.includes('Redis looks older than the proxy'))).toBe(true);
  });

  it('corrects drift when the slot runs another version', async () => {
    const { w, deps } = world([{ ok: true, version: '2.4.9' }]);
    await reconcileTraffic(deps, 'api');
    expect(w.weights).toEqual({ blue: 100, green: 0 });
  });

  it('corrects drift when the slot never answers (three tries)', async () => {
    const { w, deps, asked } = world([]);
    await reconcileTraffic(deps, 'api');
    expect(asked).toEqual(['green', 'green', 'green']);
    expect(w.weights).toEqual({ blue: 100, green: 0 });
  });

  it('still leaves traffic alone after an upgrade, when the record has whole seconds and the proxy adds its pid', async () => {
    const { w, deps } = world(
      [{ ok: true, version: '2.4.1' }],
      new Date(PROXY_STARTED + 417), // the same process's second, with pid ...417
    );
    await reconcileTraffic(deps, 'api');
    expect(w.weights).toEqual({ blue: 0, green: 100 });
    expect(w.posts.some((p) => p.includes('Redis looks older than the proxy'))).toBe(true);
  });

  it('corrects drift when the proxy started in another second (a reload)', async () => {
    const { w, deps } = world([{ ok: true, version: '2.4.1' }], new Date(PROXY_STARTED + 1417));
    await reconcileTraffic(deps, 'api');
    expect(w.weights).toEqual({ blue: 100, green: 0 });
  });
});
