// Child of bench/http-client.ts: what Greenlight's outbound HTTP does (undici `request` through
// one Agent), timed inside one process started with the Node options under test.
import { Agent, request } from 'undici';

const [url, count] = [process.env.TARGET_URL, Number(process.env.REQUESTS)];
const agent = new Agent({ connections: 4 });
const started = performance.now();
for (let i = 0; i < count; i += 1) {
  const res = await request(url, { dispatcher: agent });
  await res.body.text();
}
const ms = performance.now() - started;
await agent.close();
process.stdout.write(`${JSON.stringify({ ms, cpu: process.cpuUsage() })}\n`);
