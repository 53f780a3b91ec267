import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A small stand-in for one slot of a service (blue or green): it serves traffic, a health
 * endpoint and a version endpoint, and a test (or a deploy script, through `POST /__control`)
 * can change its version, health, error rate and latency.
 */
export interface SlotState {
  version: string;
  healthy: boolean;
  /** Share of `/` requests answered with 500, from 0 to 1. */
  errorRate: number;
  /** Added to every `/` response. */
  latencyMs: number;
  /** Added on top to a share of `/` responses (every k-th, deterministic): a slow tail. */
  tailLatencyMs: number;
  /** The share of `/` responses that get `tailLatencyMs`, from 0 to 1. */
  tailShare: number;
  /** What `/hachk` (a separate check path for HAProxy) says, on top of `healthy`. */
  haproxyHealthy: boolean;
}

export interface SlotServer {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  readonly state: SlotState;
  /** Requests served on `/` since start, and how many of them failed. */
  readonly served: { total: number; failed: number };
  set(changes: Partial<SlotState>): void;
  close(): Promise<void>;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text === '' ? {} : JSON.parse(text);
}

export async function startSlotServer(
  name: string,
  initial: Partial<SlotState> = {},
  port = 0,
): Promise<SlotServer> {
  const state: SlotState = {
    version: '0.0.0',
    healthy: true,
    errorRate: 0,
    latencyMs: 0,
    tailLatencyMs: 0,
    tailShare: 0,
    haproxyHealthy: true,
    ...initial,
  };
  const served = { total: 0, failed: 0 };
  // Prometheus metrics of the slot's own traffic: requests by code and a latency histogram.
  const BUCKETS = [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
  const byCode = new Map<string, number>();
  const bucketCounts = BUCKETS.map(() => 0);
  let durationSum = 0;
  let durationCount = 0;
  const observe = (code: number, seconds: number) => {
    byCode.set(String(code), (byCode.get(String(code)) ?? 0) + 1);
    BUCKETS.forEach((le, i) => {
      if (seconds <= le) bucketCounts[i] = (bucketCounts[i] ?? 0) + 1;
    });
    durationSum += seconds;
    durationCount += 1;
  };
  const metricsText = () =>
    [
      '# TYPE slot_requests_total counter',
      ...[...byCode].map(([code, n]) => `slot_requests_total{code="${code}"} ${n}`),
      '# TYPE slot_request_duration_seconds histogram',
      ...BUCKETS.map(
        (le, i) => `slot_request_duration_seconds_bucket{le="${le}"} ${bucketCounts[i]}`,
      ),
      `slot_request_duration_seconds_bucket{le="+Inf"} ${durationCount}`,
      `slot_request_duration_seconds_sum ${durationSum}`,
      `slot_request_duration_seconds_count ${durationCount}`,
      '',
    ].join('\n');
  // Deterministic failures: every k-th request fails, so a 10 % error rate is exactly 10 %.
  let failureBudget = 0;
  let tailBudget = 0;
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://slot').pathname;
    if (path === '/healthz') {
      res.writeHead(state.healthy ? 200 : 503, { 'content-type': 'text/plain' });
      res.end(state.healthy ? 'ok' : 'unhealthy');
      return;
    }
    if (path === '/hachk') {
      const up = state.healthy && state.haproxyHealthy;
      res.writeHead(up ? 200 : 503, { 'content-type': 'text/plain' });
      res.end(up ? 'ok' : 'down');
      return;
    }
    if (path === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(metricsText());
      return;
    }
    if (path === '/version') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ version: state.version }));
      return;
    }
    if (path === '/__control' && req.method === 'POST') {
      readJson(req).then(
        (body) => {
          Object.assign(state, body as Partial<SlotState>);
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify(state));
        },
        () => {
          res.writeHead(400);
          res.end('bad json');
        },
      );
      return;
    }
    served.total += 1;
    failureBudget += state.errorRate;
    const fail = failureBudget >= 1;
    if (fail) failureBudget -= 1;
    const started = performance.now();
    const answer = () => {
      if (fail) served.failed += 1;
      observe(fail ? 500 : 200, (performance.now() - started) / 1000);
      res.writeHead(fail ? 500 : 200, { 'content-type': 'application/json', 'x-slot': name });
      res.end(JSON.stringify({ slot: name, version: state.version }));
    };
    tailBudget += state.tailShare;
    const slow = tailBudget >= 1;
    if (slow) tailBudget -= 1;
    const delay = state.latencyMs + (slow ? state.tailLatencyMs : 0);
    if (delay > 0) setTimeout(answer, delay);
    else answer();
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const actualPort = (server.address() as AddressInfo).port;
  return {
    name,
    port: actualPort,
    url: `http://127.0.0.1:${actualPort}`,
    state,
    served,
    set: (changes) => Object.assign(state, changes),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
