import { z } from 'zod';
import { isoInstant } from './schema-values.ts';

// When releases may run: freezes, the time zone and release hours.

export const freezeSchema = z
  .strictObject({ from: isoInstant, to: isoInstant, reason: z.string().min(1) })
  .refine((f) => Date.parse(f.from) < Date.parse(f.to), {
    error: 'expected "from" to be before "to"',
    path: ['to'],
  });

export const timezone = z.string().refine(
  (tz) => {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: tz });
      return true;
    } catch {
      return false;
    }
  },
  { error: 'expected an IANA time zone such as Europe/Berlin' },
);

export const hhmm = z
  .string()
  .regex(/^([01]\d|2[0-3]):[0-5]\d$/, { error: 'expected a time like 09:00' });
