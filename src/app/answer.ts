/** A private answer to the person who typed a command or clicked a button. */
export interface Answer {
  /** What happened or is wrong, in one line. */
  readonly message: string;
  /** What to do next. */
  readonly hint?: string;
  /** Extra lines (a plan, a status table). */
  readonly details?: readonly string[];
}
