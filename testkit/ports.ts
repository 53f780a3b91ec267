import { createServer } from 'node:net';
import { availableParallelism } from 'node:os';

// Below Linux's ephemeral range (32768-60999), where the OS picks the local port of every
// outgoing connection: a port it handed out for listen(0) can be taken by one of the many
// connections the other test files make before a fixture binds it (seen: PostgreSQL failing with
// "Address already in use" while three test files ran at once).
const LOW = 20_000;
const HIGH = 32_767;

// Each Vitest worker picks from a band of its own. A port is checked free and then bound by
// another process a moment later (Greenlight, HAProxy): two workers that picked the same port in
// that moment made one world's /healthz answer from another world's Greenlight (seen: a SIGTERM
// sent to a process still loading, a /bump answered by a Greenlight the test was not watching).
// As many bands as the suite runs workers (vitest.config.ts: cores + 3), at least eight.
const BANDS = Math.max(8, availableParallelism() + 3);
const WIDTH = Math.floor((HIGH - LOW + 1) / BANDS);
const pool = Number(process.env.VITEST_POOL_ID);
const [from, span] =
  Number.isInteger(pool) && pool > 0
    ? [LOW + ((pool - 1) % BANDS) * WIDTH, WIDTH]
    : [LOW, HIGH - LOW + 1];

/** Ports this process handed out lately: its own lanes never get the same one twice. */
const given = new Map<number, number>();
const REUSE_AFTER_MS = 120_000;

function tryListen(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      const bound = typeof address === 'object' && address !== null ? address.port : undefined;
      server.close(() => resolve(bound));
    });
  });
}

/** A loopback TCP port that was free a moment ago, outside the range outgoing connections use. */
export async function freePort(): Promise<number> {
  const now = Date.now();
  for (const [port, at] of given) if (now - at > REUSE_AFTER_MS) given.delete(port);
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const candidate = from + Math.floor(Math.random() * span);
    if (given.has(candidate)) continue;
    const port = await tryListen(candidate);
    if (port !== undefined) {
      given.set(port, now);
      return port;
    }
  }
  const port = await tryListen(0);
  if (port === undefined) throw new Error('no free loopback port');
  given.set(port, now);
  return port;
}
