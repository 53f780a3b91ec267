import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, type TestContext } from 'vitest';
import {
  bumpAndRequestRelease,
  buttonValue,
  eventually,
  type ReleaseWorld,
  startReleaseWorld,
} from '../../testkit/release-world.ts';
import {
  channelText,
  REFUSED,
  releaseReaches,
  releaseRecord,
  sleep,
  trafficAllOn,
} from '../support/world-inspection.ts';

/**
 * Issue 16: an irreversible step before the switch (a migration) needs its own approval from its
 * role, never the requester; it runs once, as a job, before traffic moves; a crash while it runs
 * never runs it again; a rollback after it says the data layer needs the compensation runbook.
 * Everything goes through requests signed as Slack signs them, against a real Greenlight process,
 * Redis and HAProxy. The step is a small script that appends a line to a marker file per run.
 */
const RUNBOOK = 'https://runbooks.example.com/api-migrate-down';
const STEP_SCRIPT = `import { appendFileSync, existsSync, readFileSync } from 'node:fs';
const [marker, modeFile] = process.argv.slice(2);
const e = process.env;
appendFileSync(marker, [e.GREENLIGHT_STEP, e.GREENLIGHT_RELEASE_ID, e.GREENLIGHT_VERSION, e.GREENLIGHT_SLOT, e.SLACK_SIGNING_SECRET ?? 'no-secret'].join(' ') + '\\n');
const mode = readFileSync(modeFile, 'utf8').trim();
if (mode === 'fail') { console.error('ERROR: relation "orders_v2" already exists <!channel>'); process.exit(3); }
if (mode === 'hang') setTimeout(() => {}, 120_000);
// Runs until the test lets it finish (a file next to the mode file), never on a timer of its own.
if (mode === 'slow') {
  const until = Date.now() + 50_000;
  const wait = () => { if (!existsSync(modeFile + '.finish') && Date.now() < until) setTimeout(wait, 50); };
  wait();
}
`;

/**
 * A world with the step configured, closed when the test ends (by the test's own hook: tests of
 * different lanes run at the same time).
 */
async function open(
  onTestFinished: TestContext['onTestFinished'],
  mode: 'ok' | 'fail' | 'hang' | 'slow',
  env: Record<string, string> = {},
  serviceYaml = '',
) {
  const base = join(
    tmpdir(),
    `greenlight-step-${process.pid}-${Math.random().toString(16).slice(2)}`,
  );
  const script = `${base}.mjs`;
  const marker = `${base}.runs`;
  const modeFile = `${base}.mode`;
  await writeFile(script, STEP_SCRIPT);
  await writeFile(modeFile, mode);
  // `team` is U0DEV1 (who requests every release here) and U0DEV2.
  const world = await startReleaseWorld({
    env,
    serviceExtra: `    steps:
      migrate:
        command: ${JSON.stringify([process.execPath, script, marker, modeFile])}
        reversible: false
        compensation: "${RUNBOOK}"
        approverRole: team
        owner: U0DBA
        label: "Run migration (cannot be undone)"
        timeoutSeconds: 60
${serviceYaml}`,
  });
  onTestFinished(() => world.close());
  const runs = async () =>
    (await readFile(marker, 'utf8').catch(() => '')).split('\n').filter(Boolean);
  /** Lets a `slow` step finish. */
  const finishStep = () => writeFile(`${modeFile}.finish`, '');
  return { w: world, runs, finishStep };
}

/** The release card once it shows the step's own button. */
const stepButtonShown = (w: ReleaseWorld, id: string) =>
  eventually(
    () => buttonValue(w.slack, id),
    (value) => /:running_steps\.s0\.r\d+$/.test(value),
  );

async function approvedUpToTheStep(w: ReleaseWorld) {
  const { id } = await bumpAndRequestRelease(w, '2.4.1');
  const answer = await w.click('U0LEAD', 'release_approve', id);
  expect(answer).toContain('runs its steps before the switch');
  expect(answer).toContain('migrate cannot be undone');
  await releaseReaches(w, id, 'running_steps');
  return id;
}

// Every test has a world of its own and shares nothing with the others: the tests are split
// into lanes that run side by side (`concurrent` on each lane), each lane's tests in order
// (`IN_ORDER`), so that no more than three worlds start and run at once. A test that polls with
// `expect.poll` takes `expect` from its context: Vitest's global one cannot tell which of the
// tests running at once is calling.
const IN_ORDER = { concurrent: false } as const;

describe('irreversible steps before the switch (issue 16)', () => {
  describe('a crash while a step runs', { concurrent: true }, () => {
    it('a crash while the step runs: after the restart it is not run again; its role says it completed, and the release goes out', {
      ...IN_ORDER,
      timeout: 120_000,
    }, async ({ onTestFinished }) => {
      // A short stall interval: the killed worker's job is handed on within seconds.
      const { w, runs } = await open(onTestFinished, 'hang', {
        GREENLIGHT_STALLED_INTERVAL_MS: '2000',
      });
      const id = await approvedUpToTheStep(w);
      const drawn = await stepButtonShown(w, id);
      await w.click('U0DEV2', 'release_step_approve', id);
      await eventually(runs, (lines) => lines.length === 1);
      // A second delivery of the same click while the step runs is refused and runs nothing.
      const responseUrl = w.slack.newResponseUrl();
      await w.sender.click({
        action_id: 'release_step_approve',
        value: drawn,
        user_id: 'U0DEV2',
        message_ts: '1.000000',
        response_url: responseUrl,
      });
      expect(JSON.stringify((await w.slack.waitForResponse(responseUrl)).body)).toContain(
        'no step waits for approval now',
      );
      await w.app.stop('SIGKILL');
      await w.restart();
      // Found cut off: the card asks the step's role whether it completed, with a button each way.
      const card = await eventually(
        () =>
          JSON.stringify(
            w.slack
              .messages('C0RELEASES')
              .find((m) => JSON.stringify(m.blocks).includes(`"value":"${id}:`))?.blocks ?? [],
          ),
        (blocks) => blocks.includes('release_step_completed'),
        60_000,
      );
      expect(card).toContain('cut off while it ran');
      expect(card).toContain('release_step_not_completed');
      expect((await releaseRecord(w, id))?.state).toBe('running_steps');
      // The requester may not answer for it; its role may.
      expect(await w.click('U0DEV1', 'release_step_completed', id)).toContain(
        'someone else in team must',
      );
      expect(await w.click('U0DEV2', 'release_step_completed', id)).toContain(
        'You checked that migrate completed',
      );
      await trafficAllOn(w, 'green');
      await releaseReaches(w, id, 'released');
      // A second click on the same (now stale) button changes nothing.
      expect(await w.click('U0DEV2', 'release_step_not_completed', id)).toContain(
        'api 2.4.1 was released and is live',
      );
      expect((await releaseRecord(w, id))?.state).toBe('released');
      await sleep(1000);
      expect(await runs()).toHaveLength(1);
    });
  });

  describe('who approves a step, and when', { concurrent: true }, () => {
    it(
      'needs its own approver, never the requester; runs once; a rollback after it names the compensation runbook',
      IN_ORDER,
      async ({ onTestFinished, expect }) => {
        const { w, runs } = await open(onTestFinished, 'ok');
        const id = await approvedUpToTheStep(w);
        const drawn = await stepButtonShown(w, id);
        const card = JSON.stringify(
          w.slack
            .messages('C0RELEASES')
            .find((m) => JSON.stringify(m.blocks).includes(`"value":"${id}:`))?.blocks,
        );
        expect(card).toContain('Run migration (cannot be undone)');
        expect(card).toContain('*Traffic:* instant');
        expect(card).toContain('*Artifact:* redeploy');
        expect(card).toContain(`<${RUNBOOK}|migrate compensation runbook>`);
        // Approved, but nothing ran and no traffic moved: the step waits for its own approval.
        await sleep(1000);
        expect(await runs()).toEqual([]);
        await trafficAllOn(w, 'blue', 1000);

        // The requester is in team, and still may not approve it.
        const byRequester = await w.click('U0DEV1', 'release_step_approve', id);
        expect(byRequester).toContain(REFUSED);
        expect(byRequester).toContain('someone else in team');
        // The lead approved the release but is not in team.
        const byLead = await w.click('U0LEAD', 'release_step_approve', id);
        expect(byLead).toContain(REFUSED);
        expect(byLead).toContain('needs approval from team');
        expect(await runs()).toEqual([]);

        const ok = await w.click('U0DEV2', 'release_step_approve', id);
        expect(ok).not.toContain(REFUSED);
        expect(ok).toContain('You approved migrate');
        await releaseReaches(w, id, 'released');
        await trafficAllOn(w, 'green');
        // Exactly one run, with the deploy step's variables and none of Greenlight's secrets.
        expect(await runs()).toEqual([`migrate ${id} 2.4.1 green no-secret`]);

        // The same button clicked again (a double click, a Slack retry of the old message) is stale.
        const responseUrl = w.slack.newResponseUrl();
        const again = await w.sender.click({
          action_id: 'release_step_approve',
          value: drawn,
          user_id: 'U0DEV2',
          message_ts: '1.000000',
          response_url: responseUrl,
        });
        expect(again.status).toBe(200);
        const staleAnswer = JSON.stringify((await w.slack.waitForResponse(responseUrl)).body);
        expect(staleAnswer).toContain(REFUSED);
        expect(staleAnswer).toContain('this message is out of date');
        expect(await runs()).toHaveLength(1);

        const record = await releaseRecord(w, id);
        expect(((record?.steps ?? []) as { approvedBy?: string }[])[0]?.approvedBy).toBe('U0DEV2');

        expect(await w.command('U0LEAD', '/rollback', 'api checkout errors')).toContain(
          'Rolling api back to 2.4.0',
        );
        await releaseReaches(w, id, 'rolled_back');
        await trafficAllOn(w, 'blue');
        await expect
          .poll(() => channelText(w, 'C0ALERTS'), { timeout: 20_000 })
          .toContain('Production restored');
        const alert = channelText(w, 'C0ALERTS');
        expect(alert).toContain('*Traffic:* rolled back (instant)');
        expect(alert).toContain('*Artifact:* rolled back (2.4.0 on blue)');
        expect(alert).toContain('*Data:* NOT rolled back: migrate cannot be undone');
        expect(alert).toContain(`<${RUNBOOK}|migrate compensation runbook>`);
        expect(alert).toContain('owner <@U0DBA>');
        expect(await runs()).toHaveLength(1);
      },
    );

    it('a step approval clicked after the release approvals expired is refused and nothing runs', {
      ...IN_ORDER,
      timeout: 60_000,
    }, async ({ onTestFinished }) => {
      // Approvals hold 3 s; the step itself could wait 10 min. The control loop is far off, so the
      // click alone must notice. Nothing else looks at the expiry: a step that is slow to show its
      // button only makes the click later.
      const { w, runs } = await open(
        onTestFinished,
        'ok',
        { GREENLIGHT_RECONCILE_INTERVAL_SECONDS: '3600' },
        '    approvalTtlMinutes: 0.05\n    deadlines: { approvalMinutes: 10 }\n',
      );
      const id = await approvedUpToTheStep(w);
      await stepButtonShown(w, id);
      // The click comes 1 s past the expiry (or later, if the button took longer to show).
      const approvals = ((await releaseRecord(w, id))?.approvals ?? []) as { at: string }[];
      expect(approvals).toHaveLength(1);
      await sleep(Math.min(...approvals.map((a) => Date.parse(a.at))) + 4000 - Date.now());
      const late = await w.click('U0DEV2', 'release_step_approve', id);
      expect(late).toContain(REFUSED);
      expect(late).toContain('approvals expired');
      await releaseReaches(w, id, 'failed');
      await trafficAllOn(w, 'blue');
      await sleep(1000);
      expect(await runs()).toEqual([]);
    });

    it(
      'a failing step stops the release before traffic moves and says what failed and how to retry',
      IN_ORDER,
      async ({ onTestFinished, expect }) => {
        const { w, runs } = await open(onTestFinished, 'fail');
        const id = await approvedUpToTheStep(w);
        await stepButtonShown(w, id);
        await w.click('U0DEV2', 'release_step_approve', id);
        await releaseReaches(w, id, 'failed');
        await trafficAllOn(w, 'blue');
        expect(await runs()).toHaveLength(1);
        const failure = String((await releaseRecord(w, id))?.failure);
        expect(failure).toContain('step migrate failed: step migrate exited with code 3');
        expect(failure).toContain('relation "orders_v2" already exists');
        expect(failure).toContain(RUNBOOK);
        expect(failure).toContain('/release api again');
        await expect
          .poll(() => channelText(w, 'C0RELEASES'), { timeout: 20_000 })
          .toContain('Failed, PRODUCTION restored');
        // The step's output reaches Slack under the user-text rule: it can ping nobody.
        expect(channelText(w, 'C0RELEASES')).toContain('already exists');
        expect(channelText(w, 'C0RELEASES')).not.toContain('<!channel>');
        // The dry run of the retry names the step and what it needs.
        const plan = await w.command('U0DEV1', '/release', 'api --dry-run');
        expect(plan).toContain(
          'Steps after the approvals, before traffic moves, in order: migrate',
        );
        expect(plan).toContain('cannot be undone: its own approval from team, never the requester');
        expect(await runs()).toHaveLength(1);
        // The service is free again: the next /release is accepted.
        expect(await w.command('U0DEV1', '/release', 'api')).toContain('requested');
      },
    );
  });

  describe('a restart or a rollback while a step runs', { concurrent: true }, () => {
    it('a restart (SIGTERM) while a reversible step runs: the step runs again after it and the release goes out', {
      ...IN_ORDER,
      timeout: 120_000,
    }, async ({ onTestFinished }) => {
      const warmRuns = join(tmpdir(), `greenlight-warm-${process.pid}-${Date.now()}.runs`);
      const warm = [
        process.execPath,
        '-e',
        // The first run lasts until the stop kills it (a run on a short timer could end before the
        // SIGTERM on a busy machine, and the release go on); a later run ends at once.
        `const fs = require('node:fs'); fs.appendFileSync(${JSON.stringify(warmRuns)}, 'warm\\n'); if (fs.readFileSync(${JSON.stringify(warmRuns)}, 'utf8').trim().split('\\n').length === 1) setTimeout(() => {}, 25_000);`,
      ];
      const { w, runs } = await open(
        onTestFinished,
        'ok',
        // The killed step's attempt is failed and retried at once; a longer stall interval than the
        // crash test's keeps a busy restart from counting the retried job as stalled twice.
        { GREENLIGHT_STALLED_INTERVAL_MS: '10000', GREENLIGHT_SHUTDOWN_TIMEOUT_MS: '2000' },
        `      warm: { command: ${JSON.stringify(warm)}, reversible: true, timeoutSeconds: 30 }\n`,
      );
      const warmed = async () =>
        (await readFile(warmRuns, 'utf8').catch(() => '')).split('\n').filter(Boolean);
      const id = await approvedUpToTheStep(w);
      await stepButtonShown(w, id);
      await w.click('U0DEV2', 'release_step_approve', id);
      await eventually(warmed, (lines) => lines.length === 1);
      // A deploy of Greenlight itself: the stop outlasts its bound and kills the running step.
      await w.app.stop('SIGTERM');
      expect((await releaseRecord(w, id))?.state).toBe('running_steps');
      await w.restart();
      await releaseReaches(w, id, 'released', 60_000);
      await trafficAllOn(w, 'green');
      expect(await warmed()).toHaveLength(2);
      expect(await runs()).toHaveLength(1);
    });

    it('/rollback while the step runs: the answer says it goes on and names the runbook; the thread says how it ended', {
      ...IN_ORDER,
      timeout: 60_000,
    }, async ({ onTestFinished, expect }) => {
      const { w, runs, finishStep } = await open(onTestFinished, 'slow');
      const id = await approvedUpToTheStep(w);
      await stepButtonShown(w, id);
      await w.click('U0DEV2', 'release_step_approve', id);
      await eventually(runs, (lines) => lines.length === 1);
      // The step runs until the rollback is answered and the release cancelled, however slow the
      // machine (a step on a timer could end first, and the release then switch).
      const answer = await w.command('U0LEAD', '/rollback', 'api wrong build');
      expect(answer).toContain('Cancelled the pending release of api 2.4.1');
      expect(answer).toContain('migrate is still running');
      expect(answer).toContain(RUNBOOK);
      expect(answer).toContain('<@U0DBA>');
      await releaseReaches(w, id, 'cancelled');
      await finishStep();
      await expect
        .poll(() => channelText(w, 'C0RELEASES'), { timeout: 20_000 })
        .toContain('migrate finished after the release was cancelled');
      await trafficAllOn(w, 'blue');
      expect(await runs()).toHaveLength(1);
    });
  });
});
