import semver from 'semver';
import { z } from 'zod';

// Value shapes more than one section of greenlight.yml uses.

/** Slack ids a role may list: users (`U…`, `W…` on Enterprise Grid) and user groups (`S…`). */
export const slackPrincipal = z.string().regex(/^[UWS][A-Z0-9]{2,}$/, {
  error: 'expected a Slack user id (U…/W…) or user group id (S…)',
});
export const channelId = z
  .string()
  .regex(/^[CGD][A-Z0-9]{2,}$/, { error: 'expected a Slack channel id (C…), not a #name' });
export const httpUrl = z.string().refine(
  (value) => {
    try {
      const url = new URL(value);
      return url.protocol === 'http:' || url.protocol === 'https:';
    } catch {
      return false;
    }
  },
  { error: 'expected an http(s) URL' },
);
export const version = z
  .string()
  .refine((v) => semver.valid(v) !== null, { error: 'expected a semantic version like 2.4.0' });
export const isoInstant = z.iso.datetime({ offset: true, error: 'expected an ISO 8601 date-time' });
export const positiveInt = z.number().int().positive();
