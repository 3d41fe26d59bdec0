/** Reads the service's Prometheus exposition, for counters the bench cannot see from outside. */

/** Samples by series, e.g. `token_cache_lookups_total{result="hit"}` → 12. */
export type Samples = ReadonlyMap<string, number>;

/** GETs /metrics and parses every sample line. */
export async function scrape(origin: string): Promise<Samples> {
  const response = await fetch(`${origin}/metrics`);
  const text = await response.text();
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

/** A sample's value, 0 when the series is absent (a counter never incremented is not exposed). */
export function value(samples: Samples, series: string): number {
  return samples.get(series) ?? 0;
}

/** Token lookups by result since `before`. */
export function lookupsSince(before: Samples, after: Samples): { hit: number; miss: number; joined: number } {
  const delta = (result: string): number =>
    value(after, `token_cache_lookups_total{result="${result}"}`) -
    value(before, `token_cache_lookups_total{result="${result}"}`);
  return { hit: delta("hit"), miss: delta("miss"), joined: delta("joined") };
}
