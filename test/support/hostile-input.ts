/** Deterministic generators of hostile Slack input for fuzz tests (seeded, so failures repeat). */

/** mulberry32: a small, well-known seeded PRNG. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const PWNED_FILE = '/tmp/greenlight-fuzz-pwned';

const PIECES = [
  'api',
  'web',
  'API',
  'status',
  'help',
  'history',
  'unmark',
  '--dry-run',
  '--justify',
  '--force',
  'patch',
  'minor',
  'hotfix',
  '2.4.1',
  'v9.9.9',
  '99999999999999999999.0.0',
  '1.2',
  '-1',
  `$(touch ${PWNED_FILE})`,
  `\`touch ${PWNED_FILE}\``,
  `; touch ${PWNED_FILE}`,
  `&& touch ${PWNED_FILE} ||`,
  '| cat /etc/passwd',
  '../../etc/passwd',
  '<@U0LEAD>',
  '<!channel>',
  '<script>alert(1)</script>',
  '{"service":"api","version":"2.4.1"}',
  '[1,2,3]',
  'null',
  '\u0000',
  '\u202e',
  '\u200b',
  'ěšč řžý',
  '🚀🔥💥',
  'ﷺ',
  '\n',
  '\t',
  '%00',
  '%0a',
  '*bold* _it_ `code`',
  // Tokens that would mention, link or format if they reached Slack as typed; EVIL marks them,
  // so a check can tell them from the mentions Greenlight writes itself.
  '<@U0EVIL>',
  '<!here>',
  '<!everyone>',
  '<!subteam^S0EVIL>',
  '<#C0EVIL>',
  '<https://evil.example|dashboard>',
  'https://evil.example/login',
  '&lt;@U0EVIL&gt;',
  '&lt;!channel&gt;',
  '```evil```',
  '~strike~',
  '> quoted',
  '\u202eLIVE',
];

/** What must never appear in anything Greenlight sends to Slack when hostile text went in. */
export const LIVE_HOSTILE_TOKENS: readonly RegExp[] = [
  /<@U0EVIL/,
  /<!here/,
  /<!everyone/,
  /<!channel/,
  /<!subteam\^S0EVIL/,
  /<#C0EVIL/,
  /<https?:\/\/evil/,
  /https?:\/\/evil/,
  /&lt;[@!#]/,
  /\*bold\*/,
  /~strike~/,
  /```evil/,
  /[\u202a-\u202e\u200b\u2066-\u2069]/,
];

export function hostileText(random: () => number): string {
  const r = random();
  if (r < 0.03) return 'x'.repeat(10_240);
  if (r < 0.06)
    return String.fromCharCode(...Array.from({ length: 200 }, () => Math.floor(random() * 0xffff)));
  const n = Math.floor(random() * 6);
  return Array.from({ length: n }, () => PIECES[Math.floor(random() * PIECES.length)] ?? '').join(
    random() < 0.8 ? ' ' : '',
  );
}

/** A mangled interaction payload: unknown action ids, missing fields, wrong types, junk values. */
export function hostilePayload(random: () => number, base: Record<string, unknown>): unknown {
  const payload = structuredClone(base) as Record<string, unknown>;
  const action = (payload.actions as Record<string, unknown>[] | undefined)?.[0] ?? {};
  switch (Math.floor(random() * 9)) {
    case 0:
      action.action_id = hostileText(random) || 'x';
      break;
    case 1:
      action.value = hostileText(random);
      break;
    case 2:
      delete payload.user;
      break;
    case 3:
      payload.actions = 'not a list';
      break;
    case 4:
      action.value = 12345;
      break;
    case 5:
      payload.type = hostileText(random);
      break;
    case 6:
      delete payload.actions;
      break;
    case 7:
      payload.user = { id: hostileText(random) };
      break;
    default:
      action.action_id = [
        'release_approve',
        'release_reject',
        'release_rollback',
        'release_promote',
        'release_abort',
      ][Math.floor(random() * 5)];
      action.value = hostileText(random).slice(0, 200) || 'rel-nope';
  }
  return payload;
}
