import { describe, expect, it } from 'vitest';
import {
  type AttributionRule,
  attributeRenewal,
  attributionRuleSchema,
  deriveRules,
  ruleInForceAt,
  rulesEqual,
} from '../../../src/catalog/rules.ts';
import { grace, stored } from './fixtures.ts';

const ORDER = [
  ['production', 'paid_to_paid'],
  ['production', 'offer_to_paid'],
  ['sandbox', 'paid_to_paid'],
  ['sandbox', 'offer_to_paid'],
];

const withGrace = (environment: string, renewalKind: string, graceDays: number) => ({
  environment,
  renewalKind,
  graceDays,
  recoveredRevenueDatedTo: 'original_due_date',
  accessDuringGrace: true,
  unrecoveredChurnAt: 'grace_period_end',
});
const withoutGrace = (environment: string, renewalKind: string) => ({
  environment,
  renewalKind,
  graceDays: 0,
  recoveredRevenueDatedTo: 'recovery_date',
  accessDuringGrace: false,
  unrecoveredChurnAt: 'due_date',
});

/** Which renewal kinds each renewal type gives grace to; unknown types get the narrower set. */
const COVERED: Record<string, string[]> = {
  ALL_RENEWALS: ['paid_to_paid', 'offer_to_paid'],
  PAID_TO_PAID_ONLY: ['paid_to_paid'],
  SOMETHING_APPLE_ADDS_LATER: ['paid_to_paid'],
};
const DURATIONS: [string, number][] = [
  ['THREE_DAYS', 3],
  ['SIXTEEN_DAYS', 16],
  ['TWENTY_EIGHT_DAYS', 28],
];

const combinations = [true, false].flatMap((optIn) =>
  [true, false].flatMap((sandboxOptIn) =>
    Object.keys(COVERED).flatMap((renewalType) =>
      DURATIONS.map(([duration, durationDays]) => ({
        optIn,
        sandboxOptIn,
        renewalType,
        duration,
        durationDays,
      })),
    ),
  ),
);

describe('deriveRules', () => {
  it('covers all 36 combinations of the grace settings', () => {
    expect(combinations).toHaveLength(36);
  });

  it.each(combinations)('optIn=$optIn sandboxOptIn=$sandboxOptIn $renewalType $duration', (settings) => {
    const rules = deriveRules(grace(settings));
    const optedIn: Record<string, boolean> = { production: settings.optIn, sandbox: settings.sandboxOptIn };
    expect(rules).toEqual(
      ORDER.map(([environment, kind]) =>
        optedIn[environment!] && COVERED[settings.renewalType]!.includes(kind!)
          ? withGrace(environment!, kind!, settings.durationDays)
          : withoutGrace(environment!, kind!),
      ),
    );
    for (const rule of rules) expect(attributionRuleSchema.parse(rule)).toEqual(rule);
  });

  it('spells out one mixed case: production PAID_TO_PAID_ONLY, sandbox off', () => {
    const rules = deriveRules(grace({ optIn: true, sandboxOptIn: false, renewalType: 'PAID_TO_PAID_ONLY' }));
    expect(rules).toEqual([
      {
        environment: 'production',
        renewalKind: 'paid_to_paid',
        graceDays: 16,
        recoveredRevenueDatedTo: 'original_due_date',
        accessDuringGrace: true,
        unrecoveredChurnAt: 'grace_period_end',
      },
      {
        environment: 'production',
        renewalKind: 'offer_to_paid',
        graceDays: 0,
        recoveredRevenueDatedTo: 'recovery_date',
        accessDuringGrace: false,
        unrecoveredChurnAt: 'due_date',
      },
      withoutGrace('sandbox', 'paid_to_paid'),
      withoutGrace('sandbox', 'offer_to_paid'),
    ]);
  });

  it('gives four no-grace rules when the app has no grace settings', () => {
    expect(deriveRules(null)).toEqual(ORDER.map(([environment, kind]) => withoutGrace(environment!, kind!)));
  });

  it('gives no grace for settings that were removed, or a duration of 0 days', () => {
    const none = deriveRules(null);
    expect(deriveRules(stored(grace(), new Date('2025-01-01T00:00:00Z')))).toEqual(none);
    expect(deriveRules(grace({ duration: 'SOME_NEW_DURATION', durationDays: 0 }))).toEqual(none);
    expect(deriveRules(stored(grace(), null))).toEqual(deriveRules(grace()));
  });
});

describe('rulesEqual', () => {
  const rules = deriveRules(grace());

  it('is true for the same rules, in any order, with extra properties such as stored rows have', () => {
    expect(rulesEqual(rules, deriveRules(grace()))).toBe(true);
    expect(rulesEqual(rules, [...rules].reverse())).toBe(true);
    const rows = rules.map((rule, id) => ({ ...rule, id, effectiveFrom: new Date(0), effectiveTo: null }));
    expect(rulesEqual(rows, rules)).toBe(true);
  });

  it('is false when any rule says something else, or the sets differ in size or keys', () => {
    for (const settings of [
      { optIn: false },
      { sandboxOptIn: false },
      { renewalType: 'PAID_TO_PAID_ONLY' },
    ]) {
      expect(rulesEqual(rules, deriveRules(grace(settings)))).toBe(false);
    }
    expect(rulesEqual(rules, deriveRules(grace({ duration: 'THREE_DAYS', durationDays: 3 })))).toBe(false);
    expect(rulesEqual(rules, rules.slice(1))).toBe(false);
    expect(rulesEqual(rules, [rules[0]!, rules[0]!, rules[2]!, rules[3]!])).toBe(false);
    const flipped: AttributionRule[] = rules.map((r, i) =>
      i === 3 ? { ...r, accessDuringGrace: false } : r,
    );
    expect(rulesEqual(rules, flipped)).toBe(false);
  });

  it('treats grace settings that change nothing in the rules as equal (for example a duration change with grace off)', () => {
    const off = { optIn: false, sandboxOptIn: false };
    expect(rulesEqual(deriveRules(grace(off)), deriveRules(grace({ ...off, durationDays: 28 })))).toBe(true);
  });
});

describe('attributeRenewal', () => {
  const due = new Date('2025-03-01T12:00:00.000Z');
  const days = (n: number) => new Date(due.getTime() + n * 86_400_000);
  const [prodPaid, prodOffer] = deriveRules(
    grace({ renewalType: 'PAID_TO_PAID_ONLY', durationDays: 16 }),
  ) as [AttributionRule, AttributionRule];

  it('dates a recovery within grace to the due date, without interruption', () => {
    expect(attributeRenewal(prodPaid, { dueDate: due, recoveredAt: days(5) })).toEqual({
      revenueDate: due,
      accessInterrupted: false,
      churnedAt: null,
    });
    const lastMoment = new Date(days(16).getTime() - 1);
    expect(attributeRenewal(prodPaid, { dueDate: due, recoveredAt: lastMoment }).revenueDate).toEqual(due);
  });

  it('dates a recovery after grace ends (the end itself included) to the recovery, with interruption', () => {
    for (const recoveredAt of [days(16), days(40)]) {
      expect(attributeRenewal(prodPaid, { dueDate: due, recoveredAt })).toEqual({
        revenueDate: recoveredAt,
        accessInterrupted: true,
        churnedAt: null,
      });
    }
  });

  it('churns an unrecovered renewal at the end of grace', () => {
    expect(attributeRenewal(prodPaid, { dueDate: due, recoveredAt: null })).toEqual({
      revenueDate: null,
      accessInterrupted: false,
      churnedAt: days(16),
    });
  });

  it('without grace (an offer conversion under PAID_TO_PAID_ONLY): recovery date, interruption, churn at due date', () => {
    expect(attributeRenewal(prodOffer, { dueDate: due, recoveredAt: days(2) })).toEqual({
      revenueDate: days(2),
      accessInterrupted: true,
      churnedAt: null,
    });
    expect(attributeRenewal(prodOffer, { dueDate: due, recoveredAt: null })).toEqual({
      revenueDate: null,
      accessInterrupted: false,
      churnedAt: due,
    });
  });

  it('treats a payment at or before the due date as on time under any rule', () => {
    for (const rule of [prodPaid, prodOffer]) {
      for (const recoveredAt of [due, days(-1)]) {
        expect(attributeRenewal(rule, { dueDate: due, recoveredAt })).toEqual({
          revenueDate: due,
          accessInterrupted: false,
          churnedAt: null,
        });
      }
    }
  });

  it('returns dates the caller cannot alias', () => {
    const outcome = attributeRenewal(prodPaid, { dueDate: due, recoveredAt: days(1) });
    expect(outcome.revenueDate).not.toBe(due);
  });
});

describe('ruleInForceAt', () => {
  const jan = new Date('2025-01-01T00:00:00.000Z');
  const feb = new Date('2025-02-01T00:00:00.000Z');
  const mar = new Date('2025-03-01T00:00:00.000Z');
  const first = { id: 1, effectiveFrom: jan, effectiveTo: feb };
  const second = { id: 2, effectiveFrom: feb, effectiveTo: null };
  const ms = (d: Date, delta: number) => new Date(d.getTime() + delta);

  it('picks the version whose [from, to) contains the instant, at every boundary', () => {
    const rows = [second, first];
    expect(ruleInForceAt(rows, ms(jan, -1))).toBeNull();
    expect(ruleInForceAt(rows, jan)).toBe(first);
    expect(ruleInForceAt(rows, ms(feb, -1))).toBe(first);
    expect(ruleInForceAt(rows, feb)).toBe(second);
    expect(ruleInForceAt(rows, new Date('2100-01-01T00:00:00Z'))).toBe(second);
  });

  it('finds nothing after a closed last version or in an empty history', () => {
    const closed = { id: 3, effectiveFrom: feb, effectiveTo: mar };
    expect(ruleInForceAt([first, closed], ms(mar, -1))).toBe(closed);
    expect(ruleInForceAt([first, closed], mar)).toBeNull();
    expect(ruleInForceAt([], jan)).toBeNull();
  });

  it('prefers the latest start should versions overlap', () => {
    const overlapping = { id: 4, effectiveFrom: ms(jan, 10), effectiveTo: null };
    expect(ruleInForceAt([overlapping, first], ms(jan, 20))).toBe(overlapping);
    expect(ruleInForceAt([first, overlapping], ms(jan, 20))).toBe(overlapping);
  });
});
