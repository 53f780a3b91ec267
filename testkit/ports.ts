import { createServer } from 'node:net';

// Below Linux's ephemeral range (32768-60999), where the OS picks the local port of every
// outgoing connection: a port it handed out for listen(0) can be taken by one of the many
// connections the other test files make before a fixture binds it (seen: PostgreSQL failing with
// "Address already in use" while three test files ran at once).
const LOW = 20_000;
const HIGH = 32_767;

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
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const port = await tryListen(LOW + Math.floor(Math.random() * (HIGH - LOW + 1)));
    if (port !== undefined) return port;
  }
  const port = await tryListen(0);
  if (port === undefined) throw new Error('no free loopback port');
  return port;
}
