import { describe, expect, it } from 'vitest';
import {
  type CalendarPolicy,
  calendarVerdict,
  formatLocal,
  zonedInstant,
} from '../../../src/domain/calendar.ts';

const berlin = (overrides: Partial<CalendarPolicy> = {}): CalendarPolicy => ({
  timezone: 'Europe/Berlin',
  freeze: [],
  blockedDays: [],
  ...overrides,
});

describe('calendarVerdict', () => {
  it.each([
    // [now (UTC), policy, open?, until (UTC) or undefined]
    [
      '2026-11-27T12:00:00Z',
      {
        freeze: [
          { from: '2026-11-27T00:00:00Z', to: '2026-12-01T00:00:00Z', reason: 'Black Friday' },
        ],
      },
      'freeze',
      '2026-12-01T00:00:00.000Z',
    ],
    [
      '2026-12-01T00:00:00Z',
      {
        freeze: [
          { from: '2026-11-27T00:00:00Z', to: '2026-12-01T00:00:00Z', reason: 'Black Friday' },
        ],
      },
      'open',
      undefined,
    ],
    // Friday 23:30 in Berlin is still Friday though UTC says 22:30.
    ['2026-11-27T22:30:00Z', { blockedDays: ['fri'] }, 'blocked_day', '2026-11-27T23:00:00.000Z'],
    // Friday 00:30 in Berlin is Thursday 23:30 UTC: blocked by local time.
    ['2026-11-26T23:30:00Z', { blockedDays: ['fri'] }, 'blocked_day', '2026-11-27T23:00:00.000Z'],
    ['2026-11-26T22:30:00Z', { blockedDays: ['fri'] }, 'open', undefined],
    // Spring forward (29 Mar 2026): Sunday blocked; Monday 00:00 CEST is Sunday 22:00 UTC, not 23:00.
    ['2026-03-29T10:00:00Z', { blockedDays: ['sun'] }, 'blocked_day', '2026-03-29T22:00:00.000Z'],
    // Fall back (25 Oct 2026): Sunday blocked; Monday 00:00 CET is Sunday 23:00 UTC.
    ['2026-10-25T10:00:00Z', { blockedDays: ['sun'] }, 'blocked_day', '2026-10-25T23:00:00.000Z'],
    // Release hours 09:00–17:00 local, across the DST change.
    [
      '2026-03-30T06:30:00Z',
      { releaseHours: { from: '09:00', to: '17:00' } },
      'outside_hours',
      '2026-03-30T07:00:00.000Z',
    ],
    [
      '2026-03-27T07:30:00Z',
      { releaseHours: { from: '09:00', to: '17:00' } },
      'outside_hours',
      '2026-03-27T08:00:00.000Z',
    ],
    ['2026-03-30T07:00:00Z', { releaseHours: { from: '09:00', to: '17:00' } }, 'open', undefined],
    // After hours on Thursday with Friday blocked: next opening is Saturday 09:00.
    [
      '2026-11-26T17:30:00Z',
      { blockedDays: ['fri'], releaseHours: { from: '09:00', to: '17:00' } },
      'outside_hours',
      '2026-11-28T08:00:00.000Z',
    ],
  ] as [string, Partial<CalendarPolicy>, string, string | undefined][])(
    '%s with %j -> %s until %s',
    (now, policy, expected, until) => {
      const verdict = calendarVerdict(berlin(policy), new Date(now));
      if (expected === 'open') {
        expect(verdict).toEqual({ open: true });
      } else {
        expect(verdict).toMatchObject({ open: false, kind: expected });
        expect(!verdict.open && verdict.until.toISOString()).toBe(until);
      }
    },
  );

  it('reads back-to-back freezes as one, ending when the last ends', () => {
    const verdict = calendarVerdict(
      berlin({
        freeze: [
          { from: '2026-12-20T00:00:00Z', to: '2026-12-27T00:00:00Z', reason: 'holidays' },
          { from: '2026-12-27T00:00:00Z', to: '2027-01-02T00:00:00Z', reason: 'year end' },
        ],
      }),
      new Date('2026-12-21T00:00:00Z'),
    );
    expect(verdict).toMatchObject({
      open: false,
      reason: 'holidays',
      until: new Date('2027-01-02T00:00:00Z'),
    });
  });
});

describe('time zone helpers', () => {
  it('moves a wall time skipped by spring-forward to the first real instant after it', () => {
    expect(zonedInstant(2026, 3, 29, 2, 30, 'Europe/Berlin').toISOString()).toBe(
      '2026-03-29T01:30:00.000Z',
    );
  });

  it('formats instants for people in the team time zone', () => {
    expect(formatLocal(new Date('2026-12-01T00:00:00Z'), 'UTC')).toBe('Tue 1 Dec 00:00 UTC');
    expect(formatLocal(new Date('2026-12-01T00:00:00Z'), 'Europe/Berlin')).toBe(
      'Tue 1 Dec 01:00 CET',
    );
  });
});
