import { describe, expect, it } from 'vitest';
import { processInstant } from '../../../../src/adapters/haproxy/haproxy-traffic-switcher.ts';

// Records from before the pid was kept hold whole seconds, and a whole second matches any
// process of that second: a process of today must never look like one of those.
describe('an HAProxy process as a start instant', () => {
  it('never falls on a whole second, whatever its pid', () => {
    const second = 1_764_200_000;
    for (const pid of [0, 1, 999, 1000, 1998, 3000, 4_194_303])
      expect(processInstant(second, pid).getTime() % 1000, `pid ${pid}`).not.toBe(0);
  });

  it('tells two processes of one second apart by their pid', () => {
    expect(processInstant(1_764_200_000, 4021).getTime()).not.toBe(
      processInstant(1_764_200_000, 4022).getTime(),
    );
    expect(processInstant(1_764_200_000, 4021).getTime()).toBe(
      processInstant(1_764_200_000, 4021).getTime(),
    );
    // Still within its second.
    expect(Math.floor(processInstant(1_764_200_000, 998).getTime() / 1000)).toBe(1_764_200_000);
  });
});
