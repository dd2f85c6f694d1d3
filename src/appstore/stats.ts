/** Requests made by one client: the sync's statistics and the last rate-limit budget seen. */
export interface ClientStats {
  requests: number;
  byCallSite: Record<string, number>;
  /** HTTP status as a string (`'200'`, `'429'`), or `'network'` when no response came. */
  byStatus: Record<string, number>;
  /** The last `X-Rate-Limit` seen, parsed (`user-hour-rem`, …). */
  rateLimit: Record<string, number> | undefined;
}

export interface StatsRecorder {
  record(callSite: string, status: number | undefined, rateLimit: Record<string, number> | undefined): void;
  snapshot(): ClientStats;
}

export function createStatsRecorder(): StatsRecorder {
  let requests = 0;
  const byCallSite: Record<string, number> = {};
  const byStatus: Record<string, number> = {};
  let rateLimit: Record<string, number> | undefined;
  return {
    record(callSite, status, limits) {
      requests++;
      byCallSite[callSite] = (byCallSite[callSite] ?? 0) + 1;
      const key = status === undefined ? 'network' : String(status);
      byStatus[key] = (byStatus[key] ?? 0) + 1;
      if (limits) rateLimit = limits;
    },
    snapshot() {
      return {
        requests,
        byCallSite: { ...byCallSite },
        byStatus: { ...byStatus },
        rateLimit: rateLimit ? { ...rateLimit } : undefined,
      };
    },
  };
}
