import { z } from 'zod';

/*
 * Fault injection, scriptable from tests. A rule matches requests by path (exact path, endpoint
 * template such as `/v1/apps/{id}/inAppPurchasesV2`, or a RegExp tried on the path and on the
 * path with its query) and method; it fires on its `nth` matching request (default the first)
 * and keeps firing for `times` matching requests (default 1, or 'always'). Effects: added
 * latency, a status code, a connection reset, a malformed or truncated body.
 */

export interface FaultRule {
  path?: string | RegExp;
  method?: string;
  /** 1-based: the first matching request this rule fires on. */
  nth?: number;
  /** How many matching requests it fires on, from the nth (default 1). */
  times?: number | 'always';
  status?: number;
  latencyMs?: number;
  /** Destroy the socket without answering. */
  reset?: boolean;
  /** Serve the real response with a broken body. */
  body?: 'malformed' | 'truncated';
  /** With `status` 429 or 503: send this Retry-After (seconds). */
  retryAfterSeconds?: number;
}

/** The JSON form for the control endpoint: a RegExp travels as `pathPattern`. */
export const faultRuleInputSchema = z
  .object({
    path: z.string().optional(),
    pathPattern: z.string().optional(),
    method: z.string().optional(),
    nth: z.number().int().positive().optional(),
    times: z.union([z.number().int().positive(), z.literal('always')]).optional(),
    status: z.number().int().min(100).max(599).optional(),
    latencyMs: z.number().int().nonnegative().optional(),
    reset: z.boolean().optional(),
    body: z.enum(['malformed', 'truncated']).optional(),
    retryAfterSeconds: z.number().int().nonnegative().optional(),
  })
  .strict();

export function faultRuleFromInput(input: z.infer<typeof faultRuleInputSchema>): FaultRule {
  const { pathPattern, path, ...rest } = input;
  return { ...rest, ...(pathPattern ? { path: new RegExp(pathPattern) } : path ? { path } : {}) };
}

export type FaultAction =
  | { kind: 'status'; status: number; retryAfterSeconds: number | undefined }
  | { kind: 'reset' }
  | { kind: 'body'; body: 'malformed' | 'truncated' };

export interface FaultOutcome {
  latencyMs: number;
  action: FaultAction | undefined;
  /** Ids of the rules that fired. */
  fired: string[];
}

interface ActiveRule {
  id: string;
  rule: FaultRule;
  matched: number;
  fired: number;
}

export interface FaultRequest {
  method: string;
  path: string;
  pathWithQuery: string;
  /** The endpoint template, e.g. `/v1/apps/{id}`; undefined for unknown paths. */
  template: string | undefined;
}

export class FaultInjector {
  private rules: ActiveRule[] = [];
  private sequence = 0;

  add(rule: FaultRule): string {
    const effects = [rule.status !== undefined, rule.reset === true, rule.body !== undefined].filter(Boolean);
    if (effects.length > 1)
      throw new Error('A fault rule has one effect: status, reset or body (latency adds to any).');
    if (effects.length === 0 && !rule.latencyMs)
      throw new Error('A fault rule needs status, reset, body or latencyMs.');
    this.sequence += 1;
    const id = `fault-${this.sequence}`;
    this.rules.push({ id, rule, matched: 0, fired: 0 });
    return id;
  }

  remove(id: string): boolean {
    const before = this.rules.length;
    this.rules = this.rules.filter((active) => active.id !== id);
    return this.rules.length !== before;
  }

  clear(): void {
    this.rules = [];
  }

  list(): { id: string; rule: FaultRule; matched: number; fired: number }[] {
    return this.rules.map((active) => ({ ...active }));
  }

  /** Advances every matching rule's counter and returns the combined effect. */
  apply(request: FaultRequest): FaultOutcome {
    const outcome: FaultOutcome = { latencyMs: 0, action: undefined, fired: [] };
    if (this.rules.length === 0) return outcome;
    for (const active of this.rules) {
      if (!matches(active.rule, request)) continue;
      active.matched += 1;
      const { nth = 1, times = 1 } = active.rule;
      if (active.matched < nth) continue;
      if (times !== 'always' && active.fired >= times) continue;
      active.fired += 1;
      outcome.fired.push(active.id);
      outcome.latencyMs += active.rule.latencyMs ?? 0;
      outcome.action ??= actionOf(active.rule);
    }
    return outcome;
  }
}

function actionOf(rule: FaultRule): FaultAction | undefined {
  if (rule.status !== undefined) {
    return { kind: 'status', status: rule.status, retryAfterSeconds: rule.retryAfterSeconds };
  }
  if (rule.reset) return { kind: 'reset' };
  if (rule.body) return { kind: 'body', body: rule.body };
  return undefined;
}

function matches(rule: FaultRule, request: FaultRequest): boolean {
  if (rule.method && rule.method.toUpperCase() !== request.method) return false;
  const { path } = rule;
  if (path === undefined) return true;
  if (typeof path === 'string') return path === request.path || path === request.template;
  path.lastIndex = 0;
  if (path.test(request.path)) return true;
  path.lastIndex = 0;
  return path.test(request.pathWithQuery);
}
