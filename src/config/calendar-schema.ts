import { z } from 'zod';
import { isoInstant } from './schema-values.ts';

// When releases may run: freezes, the time zone and release hours.

export const freezeSchema = z
  .strictObject({ from: isoInstant, to: isoInstant, reason: z.string().min(1) })
  .refine((f) => Date.parse(f.from) < Date.parse(f.to), {
    error: 'expected "from" to be before "to"',
    path: ['to'],
  });

/**
 * Whether the runtime knows `tz`. ICU's list of canonical zones answers most without building a
 * date formatter (which maps about 5 MiB of locale data that an idle process never uses); the
 * formatter still decides the rest (UTC, aliases such as Asia/Kolkata, other spellings).
 */
function knownTimeZone(tz: string): boolean {
  if (tz === 'UTC' || Intl.supportedValuesOf('timeZone').includes(tz)) return true;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export const timezone = z
  .string()
  .refine(knownTimeZone, { error: 'expected an IANA time zone such as Europe/Berlin' });

export const hhmm = z
  .string()
  .regex(/^([01]\d|2[0-3]):[0-5]\d$/, { error: 'expected a time like 09:00' });
