/** Reading Prometheus text the benches scrape from /metrics. */
/**
 * Quantile q (0..1) of a Prometheus histogram in a /metrics text, summed over the series whose
 * labels include `labels`, interpolated linearly inside the bucket as PromQL's
 * histogram_quantile does; null without observations.
 */
export function histogramQuantile(
  metrics: string,
  name: string,
  labels: string,
  q: number,
  /** false: the upper bound of the bucket the quantile falls in ("at most"), no interpolation */
  interpolate = true,
): number | null {
  const buckets = new Map<number, number>();
  for (const line of metrics.split('\n')) {
    if (!line.startsWith(`${name}_bucket{`) || !line.includes(labels)) continue;
    const le = /le="([^"]+)"/.exec(line)?.[1];
    if (le === undefined) continue;
    const bound = le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le);
    buckets.set(bound, (buckets.get(bound) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  const sorted = [...buckets].sort((a, b) => a[0] - b[0]);
  const total = sorted.at(-1)?.[1] ?? 0;
  if (total === 0) return null;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const [bound, count] of sorted) {
    if (count >= rank) {
      if (!Number.isFinite(bound)) return lower; // past the last finite bucket: its bound
      if (!interpolate) return bound;
      return lower + ((bound - lower) * (rank - below)) / Math.max(1, count - below);
    }
    lower = bound;
    below = count;
  }
  return lower;
}
