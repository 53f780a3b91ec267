/** The counters HAProxy's analysis source reads, which add up across load balancers. */
const COUNTERS = [
  'hrsp_1xx',
  'hrsp_2xx',
  'hrsp_3xx',
  'hrsp_4xx',
  'hrsp_5xx',
  'hrsp_other',
  'econ',
  'eresp',
  'wretr',
  'wredis',
];

/**
 * One server's `show stat` rows from every instance of a fleet, as one row: counters summed,
 * and `rtime` (a mean over each instance's last requests) weighted by what each one answered.
 */
export function sumStats(rows: readonly Record<string, string>[]): Record<string, string> {
  const summed: Record<string, string> = {};
  for (const name of COUNTERS)
    summed[name] = String(rows.reduce((sum, row) => sum + (Number(row[name] ?? 0) || 0), 0));
  const answered = rows.map((row) => Number(row.hrsp_2xx ?? 0) + Number(row.hrsp_5xx ?? 0));
  const total = answered.reduce((a, b) => a + b, 0);
  const rtimes = rows.map((row) => Number(row.rtime ?? 0) || 0);
  summed.rtime = String(
    Math.round(
      total > 0
        ? rtimes.reduce((sum, rt, i) => sum + rt * (answered[i] ?? 0), 0) / total
        : Math.max(...rtimes),
    ),
  );
  return summed;
}
