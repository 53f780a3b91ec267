import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/ports.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ROOT = new URL('../../', import.meta.url).pathname;

/** `npm run demo` in a browser: what a person sees while releasing and rolling back. */
describe('the Slack sandbox of npm run demo, in Chromium', () => {
  let demo: ChildProcess;
  let browser: Browser;
  let page: Page;
  const output: string[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM))
      throw new Error(`Chromium not found at ${CHROMIUM} (apt-get install chromium)`);
    const port = await freePort();
    demo = spawn(process.execPath, ['demo/run-demo.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', DEMO_PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    demo.stdout?.on('data', (c: Buffer) => output.push(c.toString()));
    demo.stderr?.on('data', (c: Buffer) => output.push(c.toString()));
    for (let i = 0; !output.join('').includes('Greenlight sandbox:'); i += 1) {
      if (demo.exitCode !== null || i > 300)
        throw new Error(`demo did not start:\n${output.join('')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.on('dialog', (dialog) => void dialog.accept());
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForSelector('#user option[value="U0DEV1"]', { state: 'attached' });
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    if (demo && demo.exitCode === null) {
      demo.kill('SIGINT');
      await new Promise((r) => demo.once('exit', r));
    }
  });

  const actAs = (user: string) => page.selectOption('#user', user);
  const send = async (text: string) => {
    await page.fill('#command', text);
    await page.press('#command', 'Enter');
  };
  const feed = () => page.locator('#feed');

  it('shows /bump usage privately, then the deploy result in the channel', async () => {
    await actAs('U0DEV1');
    await send('/bump');
    await expect.poll(() => page.locator('#private').innerText()).toContain('Which service?');
    await send('/bump api');
    await expect
      .poll(() => page.locator('#private').innerText(), { timeout: 20_000 })
      .toContain('Deploying api 2.4.1 (patch) to STANDBY (green)');
    await expect
      .poll(() => feed().innerText(), { timeout: 30_000 })
      .toContain('api 2.4.1 is on STANDBY (green), healthy');
  });

  it('posts the release with Approve and Reject; the lead approves through the confirm dialog', async () => {
    await send('/release api');
    const approve = feed().locator('button[data-action-id="release_approve"]');
    await approve.waitFor({ timeout: 20_000 });
    await expect.poll(() => feed().innerText()).toContain('api 2.4.0 → 2.4.1 (patch)');
    await expect.poll(() => feed().innerText()).toContain('Waiting for approval');
    await actAs('U0LEAD');
    await approve.click();
    await expect.poll(() => feed().innerText(), { timeout: 30_000 }).toContain('Observing');
    await expect
      .poll(() => feed().locator('button[data-action-id="release_approve"]').count())
      .toBe(0);
    await feed().locator('button.replies').last().click();
    await expect
      .poll(() => page.locator('#thread').innerText(), { timeout: 20_000 })
      .toContain('New PRODUCTION: green');
  });

  it('rolls back on /rollback and shows the alert in #alerts', async () => {
    await actAs('U0DEV1');
    await send('/rollback api checkout errors after the release');
    await expect
      .poll(() => page.locator('#private').innerText(), { timeout: 20_000 })
      .toContain('Rolling api back to 2.4.0 on blue');
    await page.locator('nav button.channel', { hasText: 'alerts' }).click();
    await expect
      .poll(() => feed().innerText(), { timeout: 30_000 })
      .toContain('Production restored after a rollback');
    const alert = await feed().innerText();
    expect(alert).toContain('Rolled back to: 2.4.0 (blue)');
    expect(alert).toContain('Reason: checkout errors after the release');
    expect(alert).toContain('@dana');
    await page.screenshot({ path: `${process.env.TMPDIR ?? '/tmp'}/greenlight-sandbox.png` });
  });
});
