/** Tail probabilities of the distributions the latency judge's tests use. */

/** P(X ≥ k) for X the canary's count among `draws` of `total` requests, `successes` the canary's. */
export function hypergeometricUpperTail(
  total: number,
  successes: number,
  draws: number,
  k: number,
): number {
  const [N, K, n] = [Math.round(total), Math.round(successes), Math.round(draws)];
  const top = Math.min(K, n);
  if (k <= Math.max(0, n - (N - K))) return 1;
  if (k > top) return 0;
  const logDenominator = logChoose(N, n);
  let sum = 0;
  for (let x = Math.round(k); x <= top; x += 1) {
    const term = Math.exp(logChoose(K, x) + logChoose(N - K, n - x) - logDenominator);
    sum += term;
    if (term < sum * 1e-17) break; // past the mode terms only shrink
  }
  return Math.min(1, sum);
}

function logChoose(n: number, k: number): number {
  return logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1);
}

/** Lanczos approximation (g = 7, 9 terms), about 15 significant digits for x > 0. */
function logGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
    -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
    1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const y = x - 1;
  let a = c[0] ?? 1;
  const t = y + 7.5;
  for (let i = 1; i < 9; i += 1) a += (c[i] ?? 0) / (y + i);
  return 0.5 * Math.log(2 * Math.PI) + (y + 0.5) * Math.log(t) - t + Math.log(a);
}

/** P(Z > z) for a standard normal Z (erfc approximation, relative error below 1.2e-7). */
export function upperNormalTail(z: number): number {
  const x = z / Math.SQRT2;
  const a = Math.abs(x);
  const t = 1 / (1 + 0.5 * a);
  const erfc =
    t *
    Math.exp(
      -a * a -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 +
                            t *
                              (-1.13520398 +
                                t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return (x >= 0 ? erfc : 2 - erfc) / 2;
}
