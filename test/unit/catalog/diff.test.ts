import { describe, expect, it } from 'vitest';
import {
  applyDiff,
  type CatalogDiff,
  countChanges,
  diffCatalog,
  isEmptyDiff,
} from '../../../src/catalog/diff.ts';
import type { Catalog } from '../../../src/catalog/model.ts';
import { AppError } from '../../../src/errors.ts';
import { grace, group, iap, stored, storedCatalog, sub, T0, T1 } from './fixtures.ts';

const fetched = (parts: Partial<Catalog> = {}): Catalog => ({
  products: parts.products ?? [],
  groups: parts.groups ?? [],
  grace: parts.grace ?? null,
});

describe('diffCatalog: products', () => {
  it('reports a product that was never stored as added', () => {
    const diff = diffCatalog(storedCatalog(), fetched({ products: [iap('1')] }));
    expect(diff.products).toEqual([
      { entity: 'product', entityId: '1', action: 'added', changedFields: [], before: null, after: iap('1') },
    ]);
  });

  it('reports a present product that is no longer fetched as removed, keeping its data as before', () => {
    const diff = diffCatalog(storedCatalog({ products: [stored(iap('1'))] }), fetched());
    expect(diff.products).toEqual([
      {
        entity: 'product',
        entityId: '1',
        action: 'removed',
        changedFields: [],
        before: iap('1'),
        after: null,
      },
    ]);
    expect(diff.products[0]!.before).not.toHaveProperty('removedAt');
  });

  it('reports nothing for a product already removed and still absent', () => {
    const diff = diffCatalog(storedCatalog({ products: [stored(iap('1'), T0)] }), fetched());
    expect(isEmptyDiff(diff)).toBe(true);
  });

  it('reports a rename as an update of the same Apple id, not a remove plus an add', () => {
    const renamed = iap('1', { referenceName: 'Gems', raw: { ...iap('1').raw, name: 'Gems' } });
    const diff = diffCatalog(
      storedCatalog({ products: [stored(iap('1'))] }),
      fetched({ products: [renamed] }),
    );
    expect(diff.products).toEqual([
      {
        entity: 'product',
        entityId: '1',
        action: 'updated',
        changedFields: ['referenceName'],
        before: iap('1'),
        after: renamed,
      },
    ]);
  });

  it('reports a subscription that moves to another group as an update of its group (and level)', () => {
    const before = sub('s1', 'g1');
    const moved = sub('s1', 'g2', { groupLevel: 2, raw: { ...before.raw, groupLevel: 2 } });
    const diff = diffCatalog(storedCatalog({ products: [stored(before)] }), fetched({ products: [moved] }));
    expect(diff.products).toHaveLength(1);
    expect(diff.products[0]).toMatchObject({
      action: 'updated',
      changedFields: ['groupAppleId', 'groupLevel'],
    });
    expect(diff.products[0]!.before?.groupAppleId).toBe('g1');
    expect(diff.products[0]!.after?.groupAppleId).toBe('g2');
  });

  it('reports a group move at the same level with groupAppleId only', () => {
    const diff = diffCatalog(
      storedCatalog({ products: [stored(sub('s1', 'g1'))] }),
      fetched({ products: [sub('s1', 'g2')] }),
    );
    expect(diff.products[0]).toMatchObject({ action: 'updated', changedFields: ['groupAppleId'] });
  });

  it('restores a removed product that reappears unchanged, with no changed fields', () => {
    const diff = diffCatalog(
      storedCatalog({ products: [stored(iap('1'), T0)] }),
      fetched({ products: [iap('1')] }),
    );
    expect(diff.products).toEqual([
      {
        entity: 'product',
        entityId: '1',
        action: 'restored',
        changedFields: [],
        before: iap('1'),
        after: iap('1'),
      },
    ]);
    expect(diff.products[0]!.before).not.toHaveProperty('removedAt');
  });

  it('restores a removed product that reappears changed, listing what else differs', () => {
    const back = iap('1', { state: 'READY_TO_SUBMIT', raw: { ...iap('1').raw, reviewNote: 'back again' } });
    const diff = diffCatalog(
      storedCatalog({ products: [stored(iap('1'), T0)] }),
      fetched({ products: [back] }),
    );
    expect(diff.products[0]).toMatchObject({
      action: 'restored',
      changedFields: ['state', 'raw.reviewNote'],
      after: back,
    });
  });

  it('reports a difference only in raw attributes as raw.<attribute>', () => {
    const changed = iap('1', { raw: { ...iap('1').raw, reviewNote: 'new note' } });
    const diff = diffCatalog(
      storedCatalog({ products: [stored(iap('1'))] }),
      fetched({ products: [changed] }),
    );
    expect(diff.products[0]).toMatchObject({ action: 'updated', changedFields: ['raw.reviewNote'] });
  });

  it('reports a modelled raw attribute that differs while its field does not, so no difference is lost', () => {
    const odd = iap('1', { raw: { ...iap('1').raw, name: 'Something else' } });
    const diff = diffCatalog(storedCatalog({ products: [stored(iap('1'))] }), fetched({ products: [odd] }));
    expect(diff.products[0]?.changedFields).toEqual(['raw.name']);
  });

  it('lists model fields in model order, then raw attributes sorted', () => {
    const before = iap('1', { raw: { zeta: 1, alpha: 1, name: 'Coins 1' } });
    const after = iap('1', {
      state: 'REMOVED_FROM_SALE',
      productId: 'com.example.other',
      familySharable: true,
      kind: 'non_consumable',
      raw: { zeta: 2, alpha: 2, name: 'Coins 1', productId: 'com.example.other' },
    });
    const diff = diffCatalog(storedCatalog({ products: [stored(before)] }), fetched({ products: [after] }));
    expect(diff.products[0]?.changedFields).toEqual([
      'productId',
      'kind',
      'state',
      'familySharable',
      'raw.alpha',
      'raw.zeta',
    ]);
  });

  it('compares raw deeply and canonically: key order and absent-vs-undefined do not matter', () => {
    const a = iap('1', { raw: { name: 'Coins 1', nested: { x: 1, y: [1, { b: 2, a: 1 }] } } });
    const b = iap('1', {
      raw: { nested: { y: [1, { a: 1, b: 2 }], x: 1 }, name: 'Coins 1', gone: undefined },
    });
    const diff = diffCatalog(storedCatalog({ products: [stored(a)] }), fetched({ products: [b] }));
    expect(isEmptyDiff(diff)).toBe(true);
  });

  it('tells an attribute Apple sends as null from one it leaves out', () => {
    const a = iap('1', { raw: { name: 'Coins 1' } });
    const b = iap('1', { raw: { name: 'Coins 1', reviewNote: null } });
    const diff = diffCatalog(storedCatalog({ products: [stored(a)] }), fetched({ products: [b] }));
    expect(diff.products[0]?.changedFields).toEqual(['raw.reviewNote']);
  });

  it('treats an attribute named __proto__ (as JSON.parse yields it) as data', () => {
    const a = iap('1', { raw: JSON.parse('{"__proto__": {"x": 1}}') });
    const b = iap('1', { raw: JSON.parse('{"__proto__": {"x": 2}}') });
    const diff = diffCatalog(storedCatalog({ products: [stored(a)] }), fetched({ products: [b] }));
    expect(diff.products[0]?.changedFields).toEqual(['raw.__proto__']);
    const gone = iap('1', { raw: {} });
    const diff2 = diffCatalog(storedCatalog({ products: [stored(a)] }), fetched({ products: [gone] }));
    expect(diff2.products[0]?.changedFields).toEqual(['raw.__proto__']);
  });

  it('notices a nested raw change', () => {
    const a = iap('1', { raw: { meta: { tags: ['a', 'b'] } } });
    const b = iap('1', { raw: { meta: { tags: ['b', 'a'] } } });
    const diff = diffCatalog(storedCatalog({ products: [stored(a)] }), fetched({ products: [b] }));
    expect(diff.products[0]?.changedFields).toEqual(['raw.meta']);
  });
});

describe('diffCatalog: subscription groups', () => {
  it('reports added, updated (rename), removed and restored, and ignores a still-absent removed group', () => {
    const renamed = group('g2', { referenceName: 'Premium', raw: { referenceName: 'Premium' } });
    const diff = diffCatalog(
      storedCatalog({
        groups: [stored(group('g2')), stored(group('g3')), stored(group('g4'), T0), stored(group('g5'), T0)],
      }),
      fetched({ groups: [group('g1'), renamed, group('g4')] }),
    );
    expect(diff.groups.map((c) => [c.entityId, c.action, c.changedFields])).toEqual([
      ['g1', 'added', []],
      ['g2', 'updated', ['referenceName']],
      ['g3', 'removed', []],
      ['g4', 'restored', []],
    ]);
    expect(diff.groups.every((c) => c.entity === 'subscription_group')).toBe(true);
    expect(diff.groups[1]).toMatchObject({ before: group('g2'), after: renamed });
    expect(diff.groups[2]).toMatchObject({ before: group('g3'), after: null });
  });

  it('reports a raw-only group change', () => {
    const diff = diffCatalog(
      storedCatalog({ groups: [stored(group('g1'))] }),
      fetched({ groups: [group('g1', { raw: { referenceName: 'Group g1', extra: true } })] }),
    );
    expect(diff.groups[0]).toMatchObject({ action: 'updated', changedFields: ['raw.extra'] });
  });
});

describe('diffCatalog: grace period', () => {
  it('reports settings seen for the first time as added', () => {
    const diff = diffCatalog(storedCatalog(), fetched({ grace: grace() }));
    expect(diff.grace).toEqual({
      entity: 'grace_period',
      entityId: 'g1',
      action: 'added',
      changedFields: [],
      before: null,
      after: grace(),
    });
  });

  it('reports settings that come back after removal as restored, with and without changes', () => {
    const same = diffCatalog(storedCatalog({ grace: stored(grace(), T0) }), fetched({ grace: grace() }));
    expect(same.grace).toMatchObject({
      action: 'restored',
      changedFields: [],
      before: grace(),
      after: grace(),
    });
    expect(same.grace?.before).not.toHaveProperty('removedAt');

    const changed = grace({ optIn: false, raw: { ...grace().raw, optIn: false } });
    const diff = diffCatalog(storedCatalog({ grace: stored(grace(), T0) }), fetched({ grace: changed }));
    expect(diff.grace).toMatchObject({ action: 'restored', changedFields: ['optIn'] });
  });

  it('reports a change of duration as an update of duration and days', () => {
    const longer = grace({
      duration: 'TWENTY_EIGHT_DAYS',
      durationDays: 28,
      raw: { ...grace().raw, duration: 'TWENTY_EIGHT_DAYS' },
    });
    const diff = diffCatalog(storedCatalog({ grace: stored(grace()) }), fetched({ grace: longer }));
    expect(diff.grace).toEqual({
      entity: 'grace_period',
      entityId: 'g1',
      action: 'updated',
      changedFields: ['duration', 'durationDays'],
      before: grace(),
      after: longer,
    });
  });

  it('reports every field in model order, and a new Apple id as a field change under the new id', () => {
    const other = grace({
      appleId: 'g9',
      optIn: false,
      sandboxOptIn: false,
      renewalType: 'PAID_TO_PAID_ONLY',
      raw: { optIn: false, sandboxOptIn: false, duration: 'SIXTEEN_DAYS', renewalType: 'PAID_TO_PAID_ONLY' },
    });
    const diff = diffCatalog(storedCatalog({ grace: stored(grace()) }), fetched({ grace: other }));
    expect(diff.grace).toMatchObject({
      entityId: 'g9',
      action: 'updated',
      changedFields: ['appleId', 'optIn', 'sandboxOptIn', 'renewalType'],
    });
  });

  it('reports settings that are no longer returned as removed', () => {
    const diff = diffCatalog(storedCatalog({ grace: stored(grace()) }), fetched());
    expect(diff.grace).toEqual({
      entity: 'grace_period',
      entityId: 'g1',
      action: 'removed',
      changedFields: [],
      before: grace(),
      after: null,
    });
  });

  it('reports nothing when settings are unchanged, absent on both sides, or already removed and still absent', () => {
    expect(
      diffCatalog(storedCatalog({ grace: stored(grace()) }), fetched({ grace: grace() })).grace,
    ).toBeNull();
    expect(diffCatalog(storedCatalog(), fetched()).grace).toBeNull();
    expect(diffCatalog(storedCatalog({ grace: stored(grace(), T0) }), fetched()).grace).toBeNull();
  });

  it('reports a raw-only grace change', () => {
    const diff = diffCatalog(
      storedCatalog({ grace: stored(grace()) }),
      fetched({ grace: grace({ raw: { ...grace().raw, newThing: 'x' } }) }),
    );
    expect(diff.grace).toMatchObject({ action: 'updated', changedFields: ['raw.newThing'] });
  });
});

describe('diffCatalog: order and emptiness', () => {
  it('sorts changes by Apple id (string order) whatever the input order', () => {
    const ids = ['9', '10', '2', 'b', 'a', '1'];
    const diffA = diffCatalog(storedCatalog(), fetched({ products: ids.map((id) => iap(id)) }));
    const diffB = diffCatalog(
      storedCatalog(),
      fetched({ products: [...ids].reverse().map((id) => iap(id)) }),
    );
    expect(diffA.products.map((c) => c.entityId)).toEqual(['1', '10', '2', '9', 'a', 'b']);
    expect(diffB).toEqual(diffA);
  });

  it('sorts across actions, not grouped by action', () => {
    const diff = diffCatalog(
      storedCatalog({ products: [stored(iap('3')), stored(iap('1'), T0)], groups: [stored(group('z'))] }),
      fetched({ products: [iap('2'), iap('1')], groups: [group('y')] }),
    );
    expect(diff.products.map((c) => `${c.entityId}:${c.action}`)).toEqual([
      '1:restored',
      '2:added',
      '3:removed',
    ]);
    expect(diff.groups.map((c) => `${c.entityId}:${c.action}`)).toEqual(['y:added', 'z:removed']);
  });

  it('finds nothing to do for an unchanged catalog', () => {
    const catalog = fetched({ products: [iap('1'), sub('2', 'g1')], groups: [group('g1')], grace: grace() });
    const diff = diffCatalog(
      storedCatalog({
        products: [stored(sub('2', 'g1')), stored(iap('1')), stored(iap('old'), T0)],
        groups: [stored(group('g1'))],
        grace: stored(grace()),
      }),
      catalog,
    );
    expect(diff).toEqual({ products: [], groups: [], grace: null });
    expect(isEmptyDiff(diff)).toBe(true);
    expect(countChanges(diff)).toEqual({});
  });

  it('refuses a catalog that lists one Apple id twice', () => {
    const run = () => diffCatalog(storedCatalog(), fetched({ products: [iap('1'), iap('1')] }));
    expect(run).toThrow(AppError);
    expect(run).toThrow(/product 1 twice/);
  });
});

describe('countChanges', () => {
  it('counts each entity and action that occurs, under <entity>.<action>', () => {
    const diff = diffCatalog(
      storedCatalog({
        products: [stored(iap('1')), stored(iap('2')), stored(iap('3'), T0), stored(iap('4'))],
        groups: [stored(group('g1'))],
        grace: stored(grace()),
      }),
      fetched({
        products: [iap('2', { state: 'REJECTED' }), iap('3'), iap('5'), iap('6'), iap('7')],
        groups: [group('g2')],
        grace: grace({ optIn: false }),
      }),
    );
    expect(isEmptyDiff(diff)).toBe(false);
    expect(countChanges(diff)).toEqual({
      'grace_period.updated': 1,
      'product.added': 3,
      'product.removed': 2,
      'product.restored': 1,
      'product.updated': 1,
      'subscription_group.added': 1,
      'subscription_group.removed': 1,
    });
    expect(Object.keys(countChanges(diff))).toEqual(Object.keys(countChanges(diff)).sort());
  });

  it('counts grace additions and removals', () => {
    expect(countChanges(diffCatalog(storedCatalog(), fetched({ grace: grace() })))).toEqual({
      'grace_period.added': 1,
    });
    expect(countChanges(diffCatalog(storedCatalog({ grace: stored(grace()) }), fetched()))).toEqual({
      'grace_period.removed': 1,
    });
    expect(
      countChanges(diffCatalog(storedCatalog({ grace: stored(grace(), T0) }), fetched({ grace: grace() }))),
    ).toEqual({ 'grace_period.restored': 1 });
  });
});

describe('applyDiff', () => {
  const before = storedCatalog({
    products: [stored(iap('1')), stored(iap('2')), stored(iap('3'), T0), stored(iap('4'), T0)],
    groups: [stored(group('g1'))],
    grace: stored(grace()),
  });
  const after = fetched({
    products: [iap('5'), iap('3', { state: 'REJECTED' }), iap('1', { referenceName: 'Renamed' })],
    groups: [],
    grace: null,
  });

  it('writes fetched data for what is present and stamps what disappeared, keeping its data', () => {
    const applied = applyDiff(before, diffCatalog(before, after), T1);
    expect(applied.products).toEqual([
      stored(iap('1', { referenceName: 'Renamed' })),
      stored(iap('2'), T1),
      stored(iap('3', { state: 'REJECTED' })),
      stored(iap('4'), T0),
      stored(iap('5')),
    ]);
    expect(applied.groups).toEqual([stored(group('g1'), T1)]);
    expect(applied.grace).toEqual(stored(grace(), T1));
    expect(isEmptyDiff(diffCatalog(applied, after))).toBe(true);
  });

  it('does not change its input', () => {
    const snapshot = structuredClone(before);
    applyDiff(before, diffCatalog(before, after), T1);
    expect(before).toEqual(snapshot);
  });

  it('leaves everything as it was for an empty diff (a removed grace keeps its old stamp)', () => {
    const catalog = storedCatalog({ products: [stored(iap('1'))], grace: stored(grace(), T0) });
    expect(applyDiff(catalog, { products: [], groups: [], grace: null }, T1)).toEqual(catalog);
  });

  it('refuses a diff that does not match the stored catalog, such as one applied twice', () => {
    const diff = diffCatalog(before, after);
    const applied = applyDiff(before, diff, T1);
    expect(() => applyDiff(applied, diff, T1)).toThrow(/Compute the diff from the same stored catalog/);
    const bogus: CatalogDiff = {
      products: [],
      groups: [],
      grace: {
        entity: 'grace_period',
        entityId: 'g1',
        action: 'removed',
        changedFields: [],
        before: null,
        after: null,
      },
    };
    expect(() => applyDiff(storedCatalog(), bogus, T1)).toThrow(/not present/);
  });
});
