import { describe, expect, it } from 'vitest';
import { AppStoreError } from '../../../src/appstore/errors.ts';
import { formatPath, parseBody } from '../../../src/appstore/parse.ts';
import {
  appsDocumentSchema,
  errorBodySchema,
  gracePeriodDocumentSchema,
  inAppPurchasesDocumentSchema,
  isRelationshipTruncated,
  subscriptionGroupsDocumentSchema,
} from '../../../src/appstore/resources.ts';

const iap = (i: number, attributes: Record<string, unknown> = {}) => ({
  type: 'inAppPurchases',
  id: String(6444000000 + i),
  attributes: {
    name: `Coins ${i}`,
    productId: `com.example.coins${i}`,
    inAppPurchaseType: 'CONSUMABLE',
    state: 'APPROVED',
    reviewNote: null,
    familySharable: false,
    contentHosting: false,
    ...attributes,
  },
  links: { self: `https://api.appstoreconnect.apple.com/v2/inAppPurchases/${6444000000 + i}` },
});

const page = (data: unknown[], extra: Record<string, unknown> = {}) => ({
  data,
  links: { self: 'https://api.appstoreconnect.apple.com/v1/apps/1/inAppPurchasesV2' },
  meta: { paging: { total: data.length, limit: 200 } },
  ...extra,
});

function schemaFailure(run: () => unknown): AppStoreError {
  try {
    run();
  } catch (error) {
    if (error instanceof AppStoreError) return error;
    throw error;
  }
  throw new Error('expected a schema error');
}

describe('schema errors', () => {
  it('names the JSON path of a wrong attribute', () => {
    const body = page([iap(0), iap(1), iap(2), iap(3, { productId: 42 })]);
    const error = schemaFailure(() =>
      parseBody(inAppPurchasesDocumentSchema, body, 'GET /v1/apps/1/inAppPurchasesV2'),
    );
    expect(error.kind).toBe('schema');
    expect(error.message).toContain('data[3].attributes.productId: expected string, got integer');
    expect(error.message).toContain('GET /v1/apps/1/inAppPurchasesV2');
  });

  it('names a missing field and counts the other problems', () => {
    const broken = iap(1);
    delete (broken.attributes as Record<string, unknown>).productId;
    const body = page([iap(0), broken, { ...iap(2), type: 'inAppPurchasesV2' }]);
    const error = schemaFailure(() => parseBody(inAppPurchasesDocumentSchema, body, 'GET /x'));
    expect(error.message).toContain('data[1].attributes.productId: expected string, got nothing');
    expect(error.message).toContain('(and 1 more problem)');
  });

  it('rejects a document without data', () => {
    const error = schemaFailure(() =>
      parseBody(appsDocumentSchema, { links: { self: 'x' } }, 'GET /v1/apps'),
    );
    expect(error.message).toContain('data: expected array, got nothing');
  });

  it('names paths inside included resources by their index', () => {
    const body = {
      data: [
        {
          type: 'subscriptionGroups',
          id: '1',
          attributes: { referenceName: 'Premium' },
          relationships: { subscriptions: { data: [{ type: 'subscriptions', id: '10' }] } },
        },
      ],
      included: [
        { type: 'subscriptionGroupLocalizations', id: 'loc', attributes: { name: 'x' } },
        { type: 'subscriptions', id: '10', attributes: { productId: 'p', groupLevel: 'one' } },
      ],
      links: { self: 'x' },
    };
    const error = schemaFailure(() => parseBody(subscriptionGroupsDocumentSchema, body, 'GET /x'));
    expect(error.message).toContain('included[1].attributes.groupLevel: expected number, got string');
  });

  it('formats odd keys safely', () => {
    expect(formatPath([])).toBe('(body)');
    expect(formatPath(['links', 'limit[subscriptions]', 0])).toBe('links["limit[subscriptions]"][0]');
  });
});

describe('unknown attributes and enum values', () => {
  it('keeps unknown attributes, relationships and top-level members', () => {
    const body = page([iap(0, { brandNewAttribute: { nested: true } })], { somethingNew: 1 });
    const { value } = parseBody(inAppPurchasesDocumentSchema, body, 'GET /x');
    expect(value.data[0]!.attributes).toMatchObject({ brandNewAttribute: { nested: true } });
    expect((value as Record<string, unknown>).somethingNew).toBe(1);
  });

  it('keeps an unknown enum value raw and reports it with its field', () => {
    const body = page([iap(0, { state: 'WAITING_FOR_SOMETHING_NEW', inAppPurchaseType: 'CONSUMABLE' })]);
    const { value, unknownEnumValues } = parseBody(inAppPurchasesDocumentSchema, body, 'GET /x');
    expect(value.data[0]!.attributes.state).toBe('WAITING_FOR_SOMETHING_NEW');
    expect(unknownEnumValues).toEqual([
      { field: 'inAppPurchases.state', value: 'WAITING_FOR_SOMETHING_NEW' },
    ]);
  });

  it('reports unknown values inside included resources and arrays', () => {
    const body = {
      data: [{ type: 'subscriptionGroups', id: '1', attributes: { referenceName: 'Premium' } }],
      included: [
        {
          type: 'subscriptions',
          id: '10',
          attributes: {
            productId: 'p',
            subscriptionPeriod: 'TWO_WEEKS',
            marketSettings: ['APP_STORE', 'APPLE_CAR'],
          },
        },
      ],
      links: { self: 'x' },
    };
    const { value, unknownEnumValues } = parseBody(subscriptionGroupsDocumentSchema, body, 'GET /x');
    expect(unknownEnumValues).toEqual([
      { field: 'subscriptions.subscriptionPeriod', value: 'TWO_WEEKS' },
      { field: 'subscriptions.marketSettings', value: 'APPLE_CAR' },
    ]);
    expect(value.included?.[0]).toMatchObject({ attributes: { subscriptionPeriod: 'TWO_WEEKS' } });
  });

  it('parses Apple’s grace period example', () => {
    const { value, unknownEnumValues } = parseBody(
      gracePeriodDocumentSchema,
      {
        data: {
          type: 'subscriptionGracePeriods',
          id: '6446671329',
          attributes: {
            optIn: true,
            sandboxOptIn: false,
            duration: 'THREE_DAYS',
            renewalType: 'ALL_RENEWALS',
          },
          links: { self: 'https://api.appstoreconnect.apple.com/v1/subscriptionGracePeriods/6446671329' },
        },
        links: { self: 'https://api.appstoreconnect.apple.com/v1/subscriptionGracePeriods/6446671329' },
      },
      'GET /x',
    );
    expect(value.data.attributes.duration).toBe('THREE_DAYS');
    expect(unknownEnumValues).toEqual([]);
  });

  it('parses Apple’s error bodies, with or without detail', () => {
    expect(
      errorBodySchema.safeParse({
        errors: [
          {
            status: '401',
            code: 'NOT_AUTHORIZED',
            title: 'Authentication credentials are missing or invalid.',
          },
        ],
      }).success,
    ).toBe(true);
    expect(errorBodySchema.safeParse({ errors: [] }).success).toBe(false);
  });
});

describe('isRelationshipTruncated', () => {
  const links = (n: number) =>
    Array.from({ length: n }, (_, i) => ({ type: 'subscriptions', id: String(i) }));
  it('compares meta.paging.total with the linkages included', () => {
    expect(isRelationshipTruncated({ data: links(50), meta: { paging: { total: 73, limit: 50 } } })).toBe(
      true,
    );
    expect(isRelationshipTruncated({ data: links(3), meta: { paging: { total: 3, limit: 50 } } })).toBe(
      false,
    );
  });
  it('treats a relationship without linkage, or a full page without total, as truncated', () => {
    expect(isRelationshipTruncated(undefined)).toBe(true);
    expect(isRelationshipTruncated({ links: { related: 'x' } })).toBe(true);
    expect(isRelationshipTruncated({ data: links(50) })).toBe(true);
    expect(isRelationshipTruncated({ data: links(49) })).toBe(false);
  });
});
