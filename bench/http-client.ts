/**
 * The cost of `npm start`'s `--liftoff-only`: undici's HTTP parser is WebAssembly, and the option
 * keeps it on V8's baseline compiler. Times the requests Greenlight makes (a slot health check's
 * small answer, a Prometheus query's 200 KB JSON) in processes started with `npm start`'s options,
 * against the same options without `--liftoff-only`, in the same run. `npm run bench:http`.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const ROUNDS = 3;
const LOAD = new URL('./support/http-client-load.mjs', import.meta.url).pathname;
const OPTIONS = ['--max-semi-space-size=2', '--optimize-for-size'];

const small = JSON.stringify({ status: 'ok', version: '2.4.1' });
const large = JSON.stringify({
  status: 'success',
  data: {
    resultType: 'matrix',
    result: Array.from({ length: 40 }, (_, i) => ({
      metric: { slot: i % 2 ? 'green' : 'blue', code: String(200 + i) },
      values: Array.from({ length: 120 }, (_, t) => [1_700_000_000 + t * 15, String(t * 1.5)]),
    })),
  },
});

const server = createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(req.url === '/large' ? large : small);
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

function run(flags: string[], path: string, requests: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...flags, LOAD], {
      env: { ...process.env, TARGET_URL: `${base}${path}`, REQUESTS: String(requests) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.on('exit', (code) =>
      code === 0
        ? resolve((JSON.parse(out) as { ms: number }).ms)
        : reject(new Error(`exit ${code}`)),
    );
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

console.log(`bench/http-client: ${new Date().toISOString()}, node ${process.version}`);
for (const [label, path, requests] of [
  ['health check answers (70 B)', '/small', 2000],
  ['Prometheus answers (200 KB)', '/large', 300],
] as const) {
  const without: number[] = [];
  const withIt: number[] = [];
  for (let round = 0; round < ROUNDS; round += 1) {
    without.push(await run(OPTIONS, path, requests));
    withIt.push(await run([...OPTIONS, '--liftoff-only'], path, requests));
  }
  const a = median(without) / requests;
  const b = median(withIt) / requests;
  console.log(
    `${label.padEnd(30)} ${requests} requests: ${a.toFixed(3)} ms each without, ${b.toFixed(3)} ms with --liftoff-only (${(b / a).toFixed(2)}x; each figure the median of ${ROUNDS} processes, timed after their start-up)`,
  );
}
server.close();
