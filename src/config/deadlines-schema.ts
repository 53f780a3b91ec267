import { z } from 'zod';

/** How long each of a release's waiting states may last before Greenlight acts on it. */
export const deadlinesSchema = z.strictObject({
  /**
   * A release nobody approves or rejects is cancelled after this (reminder half-way); by default
   * when its approvals would expire (`approvalTtlMinutes`).
   */
  approvalMinutes: z.number().positive().optional(),
  /** A traffic switch that has not finished by then is undone and the release fails. */
  switchMinutes: z.number().positive().default(5),
  /** A paused canary or stability window, or a Promote nobody clicks, is rolled back after this. */
  pausedMinutes: z.number().positive().default(60),
});
