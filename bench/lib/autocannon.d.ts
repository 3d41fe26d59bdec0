// autocannon ships no types and @types/autocannon is not installed: only the part the bench uses.
declare module "autocannon" {
  interface Options {
    url: string;
    method?: "GET" | "POST";
    headers?: Record<string, string>;
    body?: string;
    connections?: number;
    duration?: number;
    timeout?: number;
    /** Called with every response body; false counts as a mismatch. */
    verifyBody?: (body: string) => boolean;
  }

  interface Histogram {
    readonly average: number;
    readonly p50: number;
    readonly p90: number;
    readonly p99: number;
    readonly max: number;
  }

  interface Result {
    readonly latency: Histogram;
    /** Per-second samples; `total` is every completed request. */
    readonly requests: Histogram & { readonly total: number; readonly sent: number };
    readonly duration: number;
    readonly errors: number;
    readonly timeouts: number;
    readonly mismatches: number;
    readonly non2xx: number;
    readonly statusCodeStats: Readonly<Record<string, { readonly count: number }>>;
  }

  function autocannon(options: Options): PromiseLike<Result>;
  export default autocannon;
}
