// en-US number formats, each built on first use: building an Intl formatter maps about 5 MiB of
// ICU's locale data into memory, which a process that has not judged a canary yet never needs.

const made = new Map<number, Intl.NumberFormat>();

/** `n` with thousands separators and at most `fractionDigits` decimals: 12,345.6. */
export function englishNumber(n: number, fractionDigits = 0): string {
  let format = made.get(fractionDigits);
  if (format === undefined) {
    format = new Intl.NumberFormat('en-US', { maximumFractionDigits: fractionDigits });
    made.set(fractionDigits, format);
  }
  return format.format(n);
}
