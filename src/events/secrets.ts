import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

/*
 * Standard Webhooks secrets: `whsec_` + base64 of 32 random bytes. They are sealed at rest with
 * the same JWE as the .p8 (src/credentials/crypto.ts) and shown once, when made.
 */

export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/**
 * The `webhook-signature` header: `v1,<sig>` per secret, space-separated (the spec's way of
 * carrying several signatures while a secret is being rotated).
 */
export function signatureHeader(secrets: readonly string[], msgId: string, at: Date, body: string): string {
  return secrets.map((secret) => new Webhook(secret).sign(msgId, at, body)).join(' ');
}
