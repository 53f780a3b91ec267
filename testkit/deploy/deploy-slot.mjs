// A real deploy command for tests: "deploys" GREENLIGHT_VERSION to the slot server at
// GREENLIGHT_SLOT_URL through its control endpoint. The first argument names a file whose
// content picks the behaviour: ok (default), fail, hang, slow, unhealthy, wrong-version.
// Every run is appended to `<mode file>.runs`, so a test can count re-runs.
import { appendFileSync, readFileSync } from 'node:fs';

const modeFile = process.argv[2];
let mode = 'ok';
try {
  if (modeFile) mode = readFileSync(modeFile, 'utf8').trim() || 'ok';
} catch {
  // no mode file: deploy normally
}
const {
  GREENLIGHT_SERVICE,
  GREENLIGHT_VERSION,
  GREENLIGHT_SLOT,
  GREENLIGHT_SLOT_URL,
  GREENLIGHT_RELEASE_ID,
} = process.env;
console.log(
  `deploying ${GREENLIGHT_SERVICE} ${GREENLIGHT_VERSION} to ${GREENLIGHT_SLOT} (${GREENLIGHT_SLOT_URL}) for ${GREENLIGHT_RELEASE_ID}`,
);
if (process.env.SLACK_BOT_TOKEN) console.log('LEAK: the deploy command can see SLACK_BOT_TOKEN');
if (modeFile)
  appendFileSync(
    `${modeFile}.runs`,
    `${GREENLIGHT_RELEASE_ID} ${GREENLIGHT_VERSION} ${process.pid}\n`,
  );
if (mode === 'slow') await new Promise((resolve) => setTimeout(resolve, 3000));

if (mode === 'fail') {
  console.log(`pulling image registry.example.com/api:${GREENLIGHT_VERSION}`);
  console.error('error: manifest unknown: image not found');
  process.exit(3);
}
if (mode === 'hang') {
  console.log('waiting for the cluster...');
  setInterval(() => {}, 1000);
} else {
  const state =
    mode === 'unhealthy'
      ? { version: GREENLIGHT_VERSION, healthy: false }
      : mode === 'wrong-version'
        ? { version: '0.0.1' }
        : { version: GREENLIGHT_VERSION, healthy: true };
  const res = await fetch(`${GREENLIGHT_SLOT_URL}/__control`, {
    method: 'POST',
    body: JSON.stringify(state),
  });
  if (!res.ok) {
    console.error(`slot control answered ${res.status}`);
    process.exit(1);
  }
  console.log(`deployed ${GREENLIGHT_VERSION}`);
}
