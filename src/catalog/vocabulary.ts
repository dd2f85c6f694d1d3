/*
 * The catalog's vocabulary: the words the domain speaks and the tables store as text. It lives at
 * the bottom (it imports nothing), so the pure domain and db/schema.ts both take it from here.
 */

export const productKinds = [
  'consumable',
  'non_consumable',
  'non_renewing_subscription',
  'auto_renewable_subscription',
] as const;
export type ProductKind = (typeof productKinds)[number];

export const changeActions = ['added', 'updated', 'removed', 'restored'] as const;
export type ChangeAction = (typeof changeActions)[number];
export const changeEntities = [
  'product',
  'subscription_group',
  'grace_period',
  // Catalog details (src/details): each product's prices, offers, localizations and availability.
  'price',
  'offer',
  'localization',
  'availability',
  // Apple's 4.x metadata of products and groups (src/details/model.ts metadataKinds).
  'version',
  'plan_availability',
  'promoted_purchase',
  'review_screenshot',
  'image',
  'group_localization',
] as const;
export type ChangeEntity = (typeof changeEntities)[number];

export const environments = ['production', 'sandbox'] as const;
export type Environment = (typeof environments)[number];
export const renewalKinds = ['paid_to_paid', 'offer_to_paid'] as const;
export type RenewalKind = (typeof renewalKinds)[number];
