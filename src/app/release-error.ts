/** Codes a user can cause; each maps to a private answer that says what to do instead. */
export type ReleaseErrorCode =
  | 'unknown_service'
  | 'bad_version'
  | 'nothing_to_release'
  | 'release_in_progress'
  | 'not_allowed'
  | 'frozen'
  | 'not_available'
  /** A click drawn for an earlier state or step of its release. */
  | 'stale'
  /** The action is allowed but must say why first (Slack asks in a form). */
  | 'needs_reason';

/** A refusal the user can act on: `message` says what is wrong, `hint` what to do instead. */
export class ReleaseError extends Error {
  readonly code: ReleaseErrorCode;
  readonly hint: string;

  constructor(code: ReleaseErrorCode, message: string, hint: string) {
    super(message);
    this.name = 'ReleaseError';
    this.code = code;
    this.hint = hint;
  }
}
