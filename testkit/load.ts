/**
 * Requests through HAProxy in a loop until stopped; counts every failure (status or network).
 * The defaults (about 400 requests a second, half a core of the test process plus HAProxy's
 * share) keep a request in flight nearly all the time, which is what proves "no request failed
 * during the switch". A loop that only keeps an analysis fed can be lighter: (2, 20).
 */
export function loadLoop(
  url: string,
  concurrency = 3,
  pauseMs = 5,
): {
  /** Requests answered (or failed) so far. */
  count(): number;
  stop(): Promise<{ total: number; failed: number; errors: string[] }>;
} {
  let running = true;
  const stats = { total: 0, failed: 0, errors: [] as string[] };
  const worker = async () => {
    while (running) {
      try {
        const res = await fetch(url);
        await res.arrayBuffer();
        stats.total += 1;
        if (res.status !== 200) {
          stats.failed += 1;
          if (stats.errors.length < 10) stats.errors.push(`HTTP ${res.status}`);
        }
      } catch (error) {
        stats.total += 1;
        stats.failed += 1;
        if (stats.errors.length < 10) stats.errors.push(String(error));
      }
      await new Promise((r) => setTimeout(r, pauseMs));
    }
  };
  const workers = Array.from({ length: concurrency }, worker);
  return {
    count: () => stats.total,
    async stop() {
      running = false;
      await Promise.all(workers);
      return stats;
    },
  };
}
