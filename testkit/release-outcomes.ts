import type { Click } from '../src/app/dispatch-action.ts';
import { ReleaseError } from '../src/app/release-error.ts';

/**
 * How a use case answered, for tables of who may do what: 'ok' when `run` resolves, the code
 * of the ReleaseError it is refused with otherwise. Any other error is a defect: rethrown.
 */
export async function outcome(run: Promise<unknown>): Promise<string> {
  try {
    await run;
    return 'ok';
  } catch (error) {
    if (error instanceof ReleaseError) return error.code;
    throw error;
  }
}

/** The ReleaseError `run` is refused with; a run that is not refused fails the test. */
export async function refused(run: Promise<unknown>): Promise<ReleaseError> {
  try {
    await run;
  } catch (error) {
    if (error instanceof ReleaseError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

/**
 * A click on api's release message in its channel (C0RELEASES), drawn at `stage`; no stage is a
 * message drawn before clicks carried one.
 */
export const channelClick = (
  user: string,
  stage: string | undefined,
  extra: Partial<Click> = {},
): Click => ({
  user,
  channel: 'C0RELEASES',
  ...(stage !== undefined ? { stage } : {}),
  ...extra,
});
