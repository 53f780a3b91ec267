import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { type Browser, chromium, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../testkit/ports.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ROOT = new URL('../../', import.meta.url).pathname;
/** One screenshot per stage of the story, numbered, for a person to look at. */
const SHOTS = `${ROOT}test-results/sandbox`;

/**
 * `npm run demo` in a browser, walked as the README tells a new user: /bump, /release, the
 * approvals, the switch, a fault on the new slot and Greenlight's automatic rollback, then a
 * minor release and a manual /rollback. Every stage is checked the same way (no sideways
 * scrolling, the open thread is the open channel's, no raw Slack token on screen) and saved as
 * a screenshot in test-results/sandbox/.
 */
describe('the Slack sandbox of npm run demo, in Chromium', () => {
  let demo: ChildProcess;
  let browser: Browser;
  let page: Page;
  let url: string;
  const output: string[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM))
      throw new Error(`Chromium not found at ${CHROMIUM} (apt-get install chromium)`);
    rmSync(SHOTS, { recursive: true, force: true });
    mkdirSync(SHOTS, { recursive: true });
    const port = await freePort();
    demo = spawn(process.execPath, ['demo/run-demo.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', DEMO_PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    demo.stdout?.on('data', (c: Buffer) => output.push(c.toString()));
    demo.stderr?.on('data', (c: Buffer) => output.push(c.toString()));
    for (let i = 0; !output.join('').includes('Greenlight sandbox:'); i += 1) {
      if (demo.exitCode !== null || i > 900)
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
    // A fresh context: a first-time visitor, with nothing remembered in localStorage.
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    page = await context.newPage();
    page.on('dialog', (dialog) => void dialog.accept());
    url = `http://127.0.0.1:${port}/`;
    await page.goto(url);
    await page.waitForSelector('#user option[value="U0DEV1"]', { state: 'attached' });
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    if (demo && demo.exitCode === null) {
      demo.kill('SIGINT');
      await new Promise((r) => demo.once('exit', r));
    }
  });

  /** What a person reads in an element (rendered text, not markup). */
  // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is the point here
  const text = (locator: Locator) => locator.innerText();
  const actAs = (user: string) => page.selectOption('#user', user);
  const send = async (command: string) => {
    await page.fill('#command', command);
    await page.press('#command', 'Enter');
  };
  const feed = () => page.locator('#feed');
  const threadPane = () => page.locator('#thread');
  const privatePane = () => page.locator('#private');
  const production = () =>
    page.locator('#slots [data-role="PRODUCTION"]').getAttribute('data-slot');
  /** The newest release card in #releases (the message with the release header). */
  const card = () =>
    feed()
      .locator('.msg', { has: page.locator('.blk-header') })
      .last();
  const activeButtons = (scope: Locator) =>
    scope.locator(
      'button[data-action-id="release_rollback"]:enabled, button[data-action-id="release_approve"]:enabled, button[data-action-id="release_rollback_approve"]:enabled',
    );

  /** Ticks a checklist box on the newest card, then waits for Greenlight to redraw it ticked. */
  const tickItem = async (item: string) => {
    const box = card().locator('.blk-checkboxes label', { hasText: item }).locator('input');
    await expect.poll(() => box.isEnabled(), { timeout: 10_000 }).toBe(true);
    await box.check();
    await expect.poll(() => box.isChecked(), { timeout: 20_000 }).toBe(true);
    await expect.poll(() => box.isEnabled(), { timeout: 10_000 }).toBe(true);
  };

  /** Both sizes of a pane: wider content than the pane means a sideways scroll bar. */
  const widths = (locator: Locator) =>
    locator.evaluate((el) => ({ scrollWidth: el.scrollWidth, clientWidth: el.clientWidth }));

  /** The checks every stage passes, then its screenshot. */
  const stage = async (file: string) => {
    for (const [name, pane] of [
      ['feed', feed()],
      ['thread', threadPane()],
    ] as const) {
      const { scrollWidth, clientWidth } = await widths(pane);
      expect(scrollWidth, `${file}: the ${name} pane scrolls sideways`).toBeLessThanOrEqual(
        clientWidth,
      );
    }
    // The open thread (if any) is one of the open channel's.
    const channel = await feed().getAttribute('data-channel');
    const threadChannel = await threadPane().getAttribute('data-channel');
    if (threadChannel !== null) expect(threadChannel, `${file}: thread`).toBe(channel);
    const shown = await threadPane()
      .locator('.msg')
      .evaluateAll((els) => els.map((el) => el.getAttribute('data-channel')));
    for (const c of shown) expect(c, `${file}: thread message`).toBe(channel);
    const visible = await text(page.locator('body'));
    for (const raw of ['<@', '<!subteam', '<!channel', '<!here'])
      expect(visible, `${file}: raw ${raw} on screen`).not.toContain(raw);
    await page.screenshot({ path: `${SHOTS}/${file}.png` });
  };

  it('greets a first-time visitor with the cast and the three-command story, once', async () => {
    const intro = page.locator('#intro');
    await expect.poll(() => intro.isVisible()).toBe(true);
    const said = await text(intro);
    for (const person of ['dana', 'devon', 'lee', 'sasha', 'chris']) expect(said).toContain(person);
    for (const role of ['lead', 'team', 'security', 'cto']) expect(said).toContain(role);
    for (const command of [
      '/bump api',
      '/release api',
      'Approve',
      'Run migration',
      '/rollback api',
    ])
      expect(said).toContain(command);
    expect(said).toContain('New slot: 30 % 5xx');
    await stage('00-intro');
    await page.click('#intro-dismiss');
    await expect.poll(() => intro.isVisible()).toBe(false);
    await page.reload();
    await page.waitForSelector('#user option[value="U0DEV1"]', { state: 'attached' });
    expect(await intro.isVisible()).toBe(false);
    // The person menu says who is who, and the slots say which one is PRODUCTION.
    expect(await text(page.locator('#user-role'))).toContain('dana');
    await expect.poll(production).toBe('blue');
    expect(await page.locator('#faults button[data-target="new"]').first().textContent()).toMatch(
      /^New slot: /,
    );
    expect(
      await page.locator('#faults button[data-target="production"]').first().textContent(),
    ).toMatch(/^Production: /);
    // Every mention shape renders as a name and every link shape as a link.
    const html = await page.evaluate(
      `mrkdwn('<@U0LEAD> <!subteam^S0SECURITY> <!subteam^S0X|@leads> <!channel> <!here> <https://example.com/runbook|Runbook> <https://example.com/a?b=1&amp;c=2> http://127.0.0.1:8080/x')`,
    );
    expect(html).toContain('@lee');
    expect(html).toContain('@security');
    expect(html).toContain('@leads');
    expect(html).toContain('@channel');
    expect(html).toContain('@here');
    expect(html).toContain('<a href="https://example.com/runbook"');
    expect(html).toContain('>Runbook</a>');
    expect(html).toContain('<a href="https://example.com/a?b=1&amp;c=2"');
    expect(html).toContain('<a href="http://127.0.0.1:8080/x"');
    expect(html).not.toMatch(/&lt;[@!]/);
  });

  it('a mistyped command is refused at once; /bump shows its usage privately, then deploys to the new slot on STANDBY', async () => {
    await actAs('U0DEV1');
    // A typo: Slack's client refuses it at once, as the workspace has no such command.
    await send('/bmup api');
    await expect
      .poll(() => text(page.locator('#composer-error')))
      .toContain('/bmup is not a valid command');
    await send('/bump');
    await expect.poll(() => text(privatePane())).toContain('Which service?');
    await send('/bump api');
    await expect
      .poll(() => text(privatePane()), { timeout: 20_000 })
      .toContain('Deploying api 2.4.1 (patch) to STANDBY (green)');
    await expect
      .poll(() => text(feed()), { timeout: 30_000 })
      .toContain('api 2.4.1 is on STANDBY (green), healthy');
    await expect
      .poll(() => page.locator('#slots [data-slot="green"]').getAttribute('data-new'))
      .toBe('true');
    expect(await production()).toBe('blue');
    await stage('01-bump');
  });

  it('/release posts the card; the requester cannot approve, the lead can', async () => {
    await send('/release api');
    const approve = card().locator('button[data-action-id="release_approve"]');
    await approve.waitFor({ timeout: 20_000 });
    await expect.poll(() => text(card())).toContain('api 2.4.0 → 2.4.1 (patch)');
    await expect.poll(() => text(card())).toContain('Waiting for approval');
    // Who can approve is named, as a person, not as a Slack token.
    await expect.poll(() => text(card())).toContain('@lee');
    await stage('02-release');

    // dana asked for it: her click is refused privately and the card still waits.
    const lastAnswer = () => text(privatePane().locator('.msg').last());
    const before = await lastAnswer();
    await approve.click();
    await expect.poll(lastAnswer, { timeout: 20_000 }).not.toBe(before);
    await expect.poll(() => approve.isEnabled(), { timeout: 10_000 }).toBe(true);
    expect(await text(card())).toContain('Waiting for approval');
    await stage('03-requester-refused');

    // What changes comes from the demo's own git history.
    expect(await text(card())).toContain('What changes');
    expect(await text(card())).toContain('time-outs on slow health checks');

    // lee may approve, but not before the required checklist items are ticked.
    await actAs('U0LEAD');
    await approve.click();
    await expect
      .poll(lastAnswer, { timeout: 20_000 })
      .toContain('Approve counts only once every required pre-release item is ticked');
    expect(await text(card())).toContain('Waiting for approval');
    await actAs('U0DEV1');
    await tickItem('Release notes reviewed');
    await tickItem('Rollback plan confirmed');
    await expect.poll(() => text(card()), { timeout: 20_000 }).toContain('by @dana');
    await stage('03b-checklist-ticked');

    await actAs('U0LEAD');
    await approve.click();
    // The migration cannot be undone: it waits for its own button, clicked by a lead.
    const migrate = card().locator('button[data-action-id="release_step_approve"]');
    await migrate.waitFor({ timeout: 30_000 });
    expect(await text(migrate)).toContain('Run migration (cannot be undone)');
    expect(await text(card())).toContain('compensation runbook');
    await stage('03c-migration-waits');
    await migrate.click();
    await expect.poll(() => text(card()), { timeout: 40_000 }).toContain('Observing');
    expect(await card().locator('button[data-action-id="release_approve"]').count()).toBe(0);
    await expect.poll(production, { timeout: 20_000 }).toBe('green');
    // While traffic moves, alerts of the api team are silenced in Alertmanager.
    await expect
      .poll(() => page.locator('#slots [data-silence="active"]').count(), { timeout: 20_000 })
      .toBeGreaterThan(0);
    await card().locator('button.replies').click();
    await expect
      .poll(() => text(threadPane()), { timeout: 20_000 })
      .toContain('New PRODUCTION: green');
    // The after-release checklist is in the thread, its owner named.
    await expect.poll(() => text(threadPane()), { timeout: 20_000 }).toContain('Smoke test passed');
    await stage('04-switched');
  });

  it('a fault on the new slot rolls back automatically; the alert is in #alerts', async () => {
    await page.click('#faults button[data-target="new"][data-error="0.3"]');
    await expect
      .poll(() =>
        page.locator('#slots [data-slot="green"] [data-fault]').getAttribute('data-fault'),
      )
      .toContain('30 % 5xx');
    await stage('05-fault-on-new-slot');

    await expect.poll(() => text(card()), { timeout: 60_000 }).toMatch(/Rolled back automatically/);
    await expect.poll(production, { timeout: 20_000 }).toBe('blue');
    // The ended release's card has no live Rollback or Approve, in the feed or the thread.
    await expect.poll(() => activeButtons(card()).count()).toBe(0);
    await expect.poll(() => activeButtons(threadPane()).count()).toBe(0);
    // The open thread followed the replies down to the newest one.
    await expect
      .poll(() =>
        threadPane().evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight < 40),
      )
      .toBe(true);
    await stage('06-automatic-rollback');

    await page.locator('#channels button', { hasText: 'alerts' }).click();
    // The #releases thread does not stay open over #alerts (the page redraws after the click).
    await expect
      .poll(() => threadPane().getAttribute('data-channel'), { timeout: 10_000 })
      .toBeNull();
    await expect
      .poll(() => text(feed()), { timeout: 30_000 })
      .toContain('Production restored after a rollback');
    expect(await text(feed())).toContain('automatic rollback (Greenlight)');
    // The migration ran: traffic and artifact went back, the data did not, and the alert says so.
    expect(await text(feed())).toContain('compensation runbook');
    await stage('07-alert');

    await page.click('#faults button[data-target="new"].heal');
    await expect
      .poll(() =>
        page.locator('#slots [data-slot="green"] [data-fault]').getAttribute('data-fault'),
      )
      .toBe('');
  });

  it('a minor release is approved by the team; /rollback sends it back by hand', async () => {
    await page.locator('#channels button', { hasText: 'releases' }).click();
    await actAs('U0DEV1');
    await send('/bump api minor');
    await expect
      .poll(() => text(feed()), { timeout: 30_000 })
      .toContain('api 2.5.0 is on STANDBY (green), healthy');
    await send('/release api');
    await expect.poll(() => text(card()), { timeout: 20_000 }).toContain('2.4.0 → 2.5.0 (minor)');
    await expect.poll(() => text(card())).toContain('@devon');
    await stage('08-minor-release');

    await tickItem('Release notes reviewed');
    await tickItem('Rollback plan confirmed');
    await actAs('U0DEV2');
    await card().locator('button[data-action-id="release_approve"]').click();
    await actAs('U0LEAD');
    const migrate = card().locator('button[data-action-id="release_step_approve"]');
    await migrate.waitFor({ timeout: 30_000 });
    await migrate.click();
    await expect.poll(() => text(card()), { timeout: 40_000 }).toContain('Observing');
    await expect.poll(production, { timeout: 20_000 }).toBe('green');
    await card().locator('button.replies').click();
    await expect
      .poll(() => text(threadPane()), { timeout: 20_000 })
      .toContain('New PRODUCTION: green');
    await stage('09-minor-switched');

    // The service's flag, next to its slots, as Unleash reports it.
    const flag = page.locator('#slots .flag[data-flag="new-checkout"]');
    await expect.poll(() => flag.getAttribute('data-state'), { timeout: 10_000 }).toBe('off');
    await actAs('U0DEV1');
    await send('/flag api new-checkout 10 trying the new checkout');
    await expect
      .poll(() => text(privatePane()), { timeout: 20_000 })
      .toContain('new-checkout (unleash, production) is on for 10 % now');
    await expect.poll(() => text(flag), { timeout: 10_000 }).toContain('on for 10 %');

    await send('/rollback api checkout errors after the release');
    await expect
      .poll(() => text(privatePane()), { timeout: 20_000 })
      .toContain('Rolling api back to 2.4.0 on blue');
    await expect.poll(() => text(card()), { timeout: 30_000 }).toContain('Rolled back by @dana');
    await expect.poll(production, { timeout: 20_000 }).toBe('blue');
    // The rollback turned the release's flag off first.
    await expect.poll(() => flag.getAttribute('data-state'), { timeout: 10_000 }).toBe('off');
    await expect.poll(() => activeButtons(card()).count()).toBe(0);
    await stage('10-manual-rollback');

    await page.locator('#channels button', { hasText: 'alerts' }).click();
    await expect
      .poll(() => feed().locator('.msg').count(), { timeout: 30_000 })
      .toBeGreaterThanOrEqual(2);
    await expect
      .poll(() => text(feed().locator('.msg').last()), { timeout: 30_000 })
      .toContain('Production restored after a rollback');
    const alert = await text(feed().locator('.msg').last());
    expect(alert).toContain('Rolled back to: 2.4.0 (blue)');
    expect(alert).toContain('Reason: checkout errors after the release');
    expect(alert).toContain('@dana');
    expect(alert).toContain('Step 1, flags: new-checkout off');
    await stage('11-manual-alert');

    // Stakeholders heard how each release started and ended, and are asked for the incident
    // report of the first rollback (the demo asks within a minute, not a day).
    await page.locator('#channels button', { hasText: 'stakeholders' }).click();
    await expect.poll(() => text(feed()), { timeout: 30_000 }).toContain('Release started');
    expect(await text(feed())).toContain('Rolled back');
    await expect
      .poll(() => text(feed()), { timeout: 60_000 })
      .toContain('Incident report and retro due');
    await stage('12-stakeholders');
  });
  it('a ringed service: internal users see the new version first, customers stay on production', async () => {
    await page.locator('#channels button', { hasText: 'releases' }).click();
    await actAs('U0DEV1');
    await send('/bump web');
    await expect
      .poll(() => text(feed()), { timeout: 30_000 })
      .toContain('web 2.0.1 is on STANDBY (green), healthy');
    await send('/release web');
    const approve = card().locator('button[data-action-id="release_approve"]');
    await approve.waitFor({ timeout: 20_000 });
    await expect.poll(() => text(card())).toContain('web 2.0.0 → 2.0.1 (patch)');
    await actAs('U0LEAD');
    await approve.click();
    // Ring 0 is an audience: the card names it and who is in it.
    await expect.poll(() => text(card()), { timeout: 30_000 }).toContain('internal');
    const answer = () => text(page.locator('#ring-answer'));
    await expect
      .poll(
        async () => {
          await page.click('#ask-internal');
          return answer();
        },
        { timeout: 30_000 },
      )
      .toContain('answered from green, v2.0.1');
    await page.click('#ask-customer');
    await expect.poll(answer, { timeout: 10_000 }).toContain('answered from blue, v2.0.0');
    await stage('13-rings');
  });
});
