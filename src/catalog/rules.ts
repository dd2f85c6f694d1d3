import { z } from 'zod';
import { compareStrings } from './canonical.ts';
import type { GracePeriod, StoredGrace } from './model.ts';
import { environments, type RenewalKind, renewalKinds } from './vocabulary.ts';

/*
 * Revenue-attribution rules: how a platform must date revenue and count subscribers when a
 * renewal's payment fails, derived from the app's billing grace period (docs/architecture.md,
 * "Revenue-attribution rules"). Pure; the sync versions the rows in Postgres.
 */

export const attributionRuleSchema = z.object({
  environment: z.enum(environments),
  renewalKind: z.enum(renewalKinds),
  /** 0 where grace does not apply to this environment and renewal kind. */
  graceDays: z.number().int().nonnegative(),
  recoveredRevenueDatedTo: z.enum(['original_due_date', 'recovery_date']),
  accessDuringGrace: z.boolean(),
  unrecoveredChurnAt: z.enum(['grace_period_end', 'due_date']),
});
export type AttributionRule = z.infer<typeof attributionRuleSchema>;

const DAY_MS = 86_400_000;

/**
 * Whether Apple's renewal type extends grace to this renewal kind. An unknown type is read
 * as the narrower PAID_TO_PAID_ONLY: wrongly granting grace would date recovered revenue to
 * the original due date, earlier than Apple might, and count lapsed subscribers as active;
 * wrongly withholding it only dates revenue later, which a correction can move back.
 */
function renewalTypeCovers(renewalType: string, kind: RenewalKind): boolean {
  return renewalType === 'ALL_RENEWALS' || kind === 'paid_to_paid';
}

function ruleFor(
  environment: AttributionRule['environment'],
  renewalKind: RenewalKind,
  graceDays: number,
): AttributionRule {
  if (graceDays > 0) {
    return {
      environment,
      renewalKind,
      graceDays,
      recoveredRevenueDatedTo: 'original_due_date',
      accessDuringGrace: true,
      unrecoveredChurnAt: 'grace_period_end',
    };
  }
  return {
    environment,
    renewalKind,
    graceDays: 0,
    recoveredRevenueDatedTo: 'recovery_date',
    accessDuringGrace: false,
    unrecoveredChurnAt: 'due_date',
  };
}

/**
 * The four rules (production/paid_to_paid, production/offer_to_paid, sandbox/paid_to_paid,
 * sandbox/offer_to_paid), always all four so every lookup has an answer. No settings, a
 * removed setting, or a duration of 0 days (an unknown duration) all mean no grace: with
 * no grace window there is nothing to date revenue back to.
 */
export function deriveRules(grace: GracePeriod | StoredGrace | null): AttributionRule[] {
  const active = grace !== null && !('removedAt' in grace && grace.removedAt !== null) ? grace : null;
  const optedIn = { production: active?.optIn ?? false, sandbox: active?.sandboxOptIn ?? false };
  return environments.flatMap((environment) =>
    renewalKinds.map((renewalKind) => {
      const applies =
        active !== null && optedIn[environment] && renewalTypeCovers(active.renewalType, renewalKind);
      return ruleFor(environment, renewalKind, applies ? active.durationDays : 0);
    }),
  );
}

const ruleKey = (rule: AttributionRule) => `${rule.environment}/${rule.renewalKind}`;

function sameRule(a: AttributionRule, b: AttributionRule): boolean {
  return (
    a.environment === b.environment &&
    a.renewalKind === b.renewalKind &&
    a.graceDays === b.graceDays &&
    a.recoveredRevenueDatedTo === b.recoveredRevenueDatedTo &&
    a.accessDuringGrace === b.accessDuringGrace &&
    a.unrecoveredChurnAt === b.unrecoveredChurnAt
  );
}

/**
 * Whether two rule sets say the same thing, so the sync versions rules only when they
 * change. Order-insensitive and blind to extra properties, so rows read back from Postgres
 * (with ids and effective dates, in any order) compare equal to freshly derived rules.
 */
export function rulesEqual(a: readonly AttributionRule[], b: readonly AttributionRule[]): boolean {
  if (a.length !== b.length) return false;
  const byKey = (x: AttributionRule, y: AttributionRule) => compareStrings(ruleKey(x), ruleKey(y));
  const sortedB = [...b].sort(byKey);
  return [...a].sort(byKey).every((rule, i) => sameRule(rule, sortedB[i]!));
}

export interface RenewalOutcome {
  /** When the renewal's revenue counts; null when it was never paid. */
  revenueDate: Date | null;
  /** Whether paid service paused between the due date and the recovery. */
  accessInterrupted: boolean;
  /** When the subscriber counts as churned; null when the payment was recovered. */
  churnedAt: Date | null;
}

/**
 * How a platform applies a rule to one renewal whose payment was due at `dueDate`. The
 * grace window is [dueDate, dueDate + graceDays) in whole 24-hour days; a payment at or
 * before the due date is simply on time. A churn is an end of service, not an interruption,
 * so it reports accessInterrupted false. A late recovery after the window still counts as
 * a recovery (revenue at the recovery date), since Apple keeps retrying after grace ends.
 */
export function attributeRenewal(
  rule: AttributionRule,
  renewal: { dueDate: Date; recoveredAt: Date | null },
): RenewalOutcome {
  const { dueDate, recoveredAt } = renewal;
  const graceEnd = new Date(dueDate.getTime() + rule.graceDays * DAY_MS);
  if (recoveredAt === null) {
    const churnedAt = rule.unrecoveredChurnAt === 'grace_period_end' ? graceEnd : new Date(dueDate);
    return { revenueDate: null, accessInterrupted: false, churnedAt };
  }
  if (recoveredAt.getTime() <= dueDate.getTime()) {
    return { revenueDate: new Date(dueDate), accessInterrupted: false, churnedAt: null };
  }
  if (recoveredAt.getTime() < graceEnd.getTime()) {
    const datedToDue = rule.recoveredRevenueDatedTo === 'original_due_date';
    return {
      revenueDate: new Date(datedToDue ? dueDate : recoveredAt),
      accessInterrupted: !rule.accessDuringGrace,
      churnedAt: null,
    };
  }
  return { revenueDate: new Date(recoveredAt), accessInterrupted: true, churnedAt: null };
}

/**
 * The version in force at `at`: effectiveFrom inclusive, effectiveTo exclusive, so at the
 * instant of a change the new version answers. Should versions ever overlap, the latest
 * start wins, as it reflects the newest settings.
 */
export function ruleInForceAt<T extends { effectiveFrom: Date; effectiveTo: Date | null }>(
  rows: readonly T[],
  at: Date,
): T | null {
  const t = at.getTime();
  let found: T | null = null;
  for (const row of rows) {
    const inForce =
      row.effectiveFrom.getTime() <= t && (row.effectiveTo === null || t < row.effectiveTo.getTime());
    if (inForce && (found === null || row.effectiveFrom.getTime() > found.effectiveFrom.getTime()))
      found = row;
  }
  return found;
}
