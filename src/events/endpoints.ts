import { eq } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { webhookEndpoints } from '../../db/schema.ts';
import type { Config } from '../config/env.ts';
import { decryptSecret } from '../secrets/crypto.ts';

/** The secrets a request to this endpoint is signed with now: the current one, then a rotated-out one in its grace. */
export async function signingSecrets(
  config: Config,
  endpoint: {
    secretEncrypted: string;
    previousSecretEncrypted: string | null;
    previousSecretExpiresAt: Date | null;
  },
  now = new Date(),
): Promise<string[]> {
  const secrets = [await decryptSecret(config, endpoint.secretEncrypted)];
  if (
    endpoint.previousSecretEncrypted &&
    endpoint.previousSecretExpiresAt &&
    new Date(endpoint.previousSecretExpiresAt).getTime() > now.getTime()
  ) {
    secrets.push(await decryptSecret(config, endpoint.previousSecretEncrypted));
  }
  return secrets;
}

export async function loadEndpointRow(db: Db, id: string) {
  const [row] = await db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, id));
  return row;
}
