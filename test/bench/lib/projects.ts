import type { Db } from '../../../db/client.ts';
import { appStoreCredentials, projects } from '../../../db/schema.ts';
import type { Config } from '../../../src/config/env.ts';
import { encryptSecret } from '../../../src/secrets/crypto.ts';

/*
 * Projects for the benchmarks, inserted in batches: the same rows saveCredentials + selectApp
 * would leave (the .p8 sealed by the credentials module's own encryptSecret), without the
 * onboarding round trips, so that setting up 1,000 projects takes a second, not a minute.
 */

export interface SeedProject {
  id: string;
  keyId: string;
  issuerId: string;
  privateKeyPem: string;
  app: { appStoreId: string; bundleId: string; name: string };
}

const BATCH = 500;

export async function seedProjects(db: Db, config: Config, list: SeedProject[]): Promise<void> {
  for (let i = 0; i < list.length; i += BATCH) {
    const batch = list.slice(i, i + BATCH);
    const sealed = await Promise.all(batch.map((p) => encryptSecret(config, p.privateKeyPem)));
    await db.transaction(async (tx) => {
      await tx.insert(projects).values(
        batch.map((p) => ({
          id: p.id,
          appStoreId: p.app.appStoreId,
          bundleId: p.app.bundleId,
          appName: p.app.name,
        })),
      );
      await tx.insert(appStoreCredentials).values(
        batch.map((p, j) => ({
          projectId: p.id,
          keyId: p.keyId,
          issuerId: p.issuerId,
          privateKeyEncrypted: sealed[j]!.jwe,
          encryptionKeyId: sealed[j]!.kid,
          status: 'valid' as const,
          verifiedAt: new Date(),
        })),
      );
    });
  }
}
