import { desc, eq, isNull, or } from 'drizzle-orm';
import { z } from 'zod';
import { webhookEndpoints } from '../../db/schema.ts';
import { InvalidInputError, NotFoundError } from '../errors.ts';
import { signingSecrets } from '../events/endpoints.ts';
import { newEndpointId, newEventId } from '../events/ids.ts';
import { checkWebhookUrl } from '../events/policy.ts';
import { generateWebhookSecret } from '../events/secrets.ts';
import { sendWebhook } from '../events/send.ts';
import { EVENT_TYPES, TEST_EVENT_TYPE } from '../events/types.ts';
import { parseProjectId } from '../projects/id.ts';
import { requireProject } from '../projects/store.ts';
import { encryptSecret } from '../secrets/crypto.ts';
import { parseInstant } from '../time/duration.ts';
import { replayMissed } from './events.ts';

/*
 * Webhook endpoints. The secret exists in plain text only in the answer to
 * addWebhook / rotateWebhookSecret (shown once) and in memory while a request is signed.
 */

import type { DataContext } from './context.ts';

export interface WebhookEndpoint {
  id: string;
  /** Null: every project. */
  projectId: string | null;
  url: string;
  /** Empty: every event type. */
  eventTypes: string[];
  description: string | null;
  status: 'enabled' | 'disabled';
  disabledReason: string | null;
  disabledAt: string | null;
  failingSince: string | null;
  /** Until when requests are also signed with the secret before the last rotation. */
  previousSecretValidUntil: string | null;
  createdAt: string;
}

export interface WebhookWithSecret {
  endpoint: WebhookEndpoint;
  /** `whsec_…`: shown this once; store it in the receiver to verify signatures. */
  secret: string;
}

const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);

function summary(row: typeof webhookEndpoints.$inferSelect, now = new Date()): WebhookEndpoint {
  const graceOpen =
    row.previousSecretExpiresAt && new Date(row.previousSecretExpiresAt).getTime() > now.getTime();
  return {
    id: row.id,
    projectId: row.projectId,
    url: row.url,
    eventTypes: row.eventTypes,
    description: row.description,
    status: row.status,
    disabledReason: row.disabledReason,
    disabledAt: iso(row.disabledAt),
    failingSince: iso(row.failingSince),
    previousSecretValidUntil: graceOpen ? iso(row.previousSecretExpiresAt) : null,
    createdAt: iso(row.createdAt)!,
  };
}

const addSchema = z.object({
  url: z.string({ message: 'the receiver’s https:// URL is required' }),
  projectId: z.string().nullish(),
  eventTypes: z.array(z.string()).max(EVENT_TYPES.length).optional(),
  description: z.string().max(500).nullish(),
});
export type AddWebhookInput = z.input<typeof addSchema>;

function parse<T>(schema: z.ZodType<T>, input: unknown): T {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  throw new InvalidInputError(issue.path.join('.') || 'input', issue.message);
}

function parseEventTypes(types: string[] | undefined): string[] {
  const list = [...new Set((types ?? []).map((t) => t.trim()).filter(Boolean))];
  for (const type of list) {
    if (!(EVENT_TYPES as readonly string[]).includes(type)) {
      throw new InvalidInputError(
        'events',
        `unknown event type ${JSON.stringify(type)}; use some of: ${EVENT_TYPES.join(', ')}.`,
      );
    }
  }
  return list.sort();
}

const policyOf = (ctx: DataContext) => ({
  allowHttpLoopback: ctx.config.webhooks.allowHttpLoopback,
  allowPrivateAddresses: ctx.config.webhooks.allowPrivateAddresses,
});

export async function addWebhook(ctx: DataContext, input: AddWebhookInput): Promise<WebhookWithSecret> {
  const parsed = parse(addSchema, input);
  const url = checkWebhookUrl(parsed.url, policyOf(ctx));
  // A typo in the project would register an endpoint that never fires: the project must exist.
  const projectId = parsed.projectId == null ? null : (await requireProject(ctx, parsed.projectId)).id;
  const eventTypes = parseEventTypes(parsed.eventTypes);
  const secret = generateWebhookSecret();
  const sealed = await encryptSecret(ctx.config, secret);
  const [row] = await ctx.db
    .insert(webhookEndpoints)
    .values({
      id: newEndpointId(),
      projectId,
      url,
      eventTypes,
      description: parsed.description ?? null,
      secretEncrypted: sealed.jwe,
      encryptionKeyId: sealed.kid,
    })
    .returning();
  ctx.logger.info({ endpointId: row!.id, projectId, eventTypes }, 'webhook endpoint added');
  return { endpoint: summary(row!), secret };
}

export async function listWebhooks(
  ctx: DataContext,
  input: { projectId?: string | null | undefined } = {},
): Promise<WebhookEndpoint[]> {
  const projectId = input.projectId == null ? undefined : parseProjectId(input.projectId);
  const rows = await ctx.db
    .select()
    .from(webhookEndpoints)
    .where(
      projectId === undefined
        ? undefined
        : or(eq(webhookEndpoints.projectId, projectId), isNull(webhookEndpoints.projectId)),
    )
    .orderBy(desc(webhookEndpoints.createdAt));
  return rows.map((row) => summary(row));
}

async function load(ctx: DataContext, id: string) {
  if (typeof id !== 'string' || !/^we_[0-9a-f]{32}$/.test(id)) {
    throw new InvalidInputError(
      'id',
      'must be a webhook endpoint id (we_…); list them with `catalog-sync webhooks list`.',
    );
  }
  const [row] = await ctx.db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, id));
  if (!row)
    throw new NotFoundError(
      `Webhook endpoint ${id} does not exist; list them with \`catalog-sync webhooks list\`.`,
    );
  return row;
}

export async function removeWebhook(
  ctx: DataContext,
  input: { id: string },
): Promise<{ id: string; removed: true }> {
  const row = await load(ctx, input.id);
  await ctx.db.delete(webhookEndpoints).where(eq(webhookEndpoints.id, row.id));
  ctx.logger.info({ endpointId: row.id }, 'webhook endpoint removed');
  return { id: row.id, removed: true };
}

export interface EnableWebhookResult {
  endpoint: WebhookEndpoint;
  /** With `replaySince`: the events since then it had not received, queued for it again. */
  replayed: { events: number; deliveries: number } | null;
}

/**
 * Re-enables a disabled endpoint (after its receiver is fixed). With `replaySince` (an ISO time or
 * a duration back, `24h`), the events it matches since then that it never received are sent to it
 * again, in order, with their original ids (receivers deduplicate by `webhook-id`).
 */
export async function enableWebhook(
  ctx: DataContext,
  input: { id: string; replaySince?: string | Date | undefined },
): Promise<EnableWebhookResult> {
  const since = input.replaySince === undefined ? undefined : parseReplaySince(input.replaySince);
  const row = await load(ctx, input.id);
  const [updated] = await ctx.db
    .update(webhookEndpoints)
    .set({
      status: 'enabled',
      disabledReason: null,
      disabledAt: null,
      failingSince: null,
      updatedAt: new Date(),
    })
    .where(eq(webhookEndpoints.id, row.id))
    .returning();
  const replayed = since === undefined ? null : await replayMissed(ctx, { endpointId: row.id, since });
  ctx.logger.info({ endpointId: row.id, replayed }, 'webhook endpoint enabled');
  return { endpoint: summary(updated!), replayed };
}

function parseReplaySince(value: string | Date): Date {
  return value instanceof Date
    ? parseInstant(value.toISOString(), 'replaySince', { allowDuration: false })
    : parseInstant(value, 'replaySince');
}

/**
 * A new secret; requests are signed with both the new and the old one for
 * WEBHOOKS_ROTATION_GRACE_MS (the receiver accepts either), then with the new one only.
 */
export async function rotateWebhookSecret(
  ctx: DataContext,
  input: { id: string },
): Promise<WebhookWithSecret> {
  const row = await load(ctx, input.id);
  const secret = generateWebhookSecret();
  const sealed = await encryptSecret(ctx.config, secret);
  const now = new Date();
  const [updated] = await ctx.db
    .update(webhookEndpoints)
    .set({
      secretEncrypted: sealed.jwe,
      encryptionKeyId: sealed.kid,
      previousSecretEncrypted: row.secretEncrypted,
      previousSecretExpiresAt: new Date(now.getTime() + ctx.config.webhooks.rotationGraceMs),
      updatedAt: now,
    })
    .where(eq(webhookEndpoints.id, row.id))
    .returning();
  ctx.logger.info({ endpointId: row.id }, 'webhook secret rotated');
  return { endpoint: summary(updated!, now), secret };
}

export interface TestWebhookResult {
  endpointId: string;
  eventId: string;
  ok: boolean;
  statusCode: number | null;
  latencyMs: number;
  responseExcerpt: string | null;
  error: string | null;
}

/** Sends a signed `webhook.test` event now (not through the outbox, not retried). */
export async function testWebhook(ctx: DataContext, input: { id: string }): Promise<TestWebhookResult> {
  const row = await load(ctx, input.id);
  const eventId = newEventId();
  const body = JSON.stringify({
    id: eventId,
    type: TEST_EVENT_TYPE,
    timestamp: new Date().toISOString(),
    projectId: row.projectId,
    data: { version: 1, endpointId: row.id },
  });
  const result = await sendWebhook({
    url: row.url,
    msgId: eventId,
    body,
    secrets: await signingSecrets(ctx.config, row),
    timeoutMs: ctx.config.webhooks.timeoutMs,
    policy: policyOf(ctx),
  });
  const ok = result.statusCode !== undefined && result.statusCode >= 200 && result.statusCode < 300;
  return {
    endpointId: row.id,
    eventId,
    ok,
    statusCode: result.statusCode ?? null,
    latencyMs: result.latencyMs,
    responseExcerpt: result.excerpt,
    error: result.error,
  };
}
