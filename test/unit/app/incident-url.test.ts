import { describe, expect, it } from 'vitest';
import { parseIncidentUrl } from '../../../src/app/use-cases/release-comms.ts';

describe('an incident report link as typed in the modal', () => {
  it.each([
    ['https://incidents.example.com/INC-42', 'https://incidents.example.com/INC-42'],
    ['  http://wiki.example/retro?id=7#top ', 'http://wiki.example/retro?id=7#top'],
  ])('accepts %s', (typed, stored) => {
    expect(parseIncidentUrl(typed)).toBe(stored);
  });

  it.each([
    'javascript:alert(1)',
    'incidents.example.com/42',
    'ftp://files.example/report',
    'https://x.example/<!here>',
    'https://x.example/a|b',
    'https://x.example/a b',
    'https://user:pass@x.example/',
    `https://x.example/${'a'.repeat(500)}`,
    '',
  ])('refuses %s', (typed) => {
    expect(parseIncidentUrl(typed)).toBeUndefined();
  });
});
