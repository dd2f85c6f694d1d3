import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { eq } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { projects } from '../../db/schema.ts';
import { loadConfig } from '../../src/config/env.ts';
import type { ServiceContext } from '../../src/context.ts';
import { saveCredentials } from '../../src/credentials/index.ts';
import { createLogger } from '../../src/log/logger.ts';
import type { Simulator } from '../../src/simulator/index.ts';

/* A ServiceContext for in-process calls against a test database (and usually the simulator). */

export const newEncryptionKey = () => randomBytes(32).toString('base64');

export interface TestContext extends ServiceContext {
  /** Every line logged through this context so far; empty unless made with `captureLogs`. */
  logs(): string;
}

/**
 * A context whose config is `loadConfig(env)`, exactly: the caller's env says everything (the
 * simulator's URL, the encryption key, retries). The logger is silent (TEST_LOG_LEVEL to see it),
 * or with `captureLogs` keeps every line at trace level, for sweeps of what was logged.
 */
export function testContext(
  db: Db,
  env: Record<string, string | undefined>,
  options: { captureLogs?: boolean } = {},
): TestContext {
  const config = loadConfig(env);
  if (!options.captureLogs) {
    const logger = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
    return { db, config, logger, logs: () => '' };
  }
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const logger = createLogger({ level: 'trace', destination });
  return { db, config, logger, logs: () => lines.join('') };
}

/** A project with a simulator key saved through the credentials module and (unless null) the app bound directly. */
export async function createProject(
  ctx: ServiceContext,
  sim: Simulator,
  projectId: string,
  appId: string | null,
  keyOptions: Parameters<Simulator['createKey']>[0] = {},
): Promise<{ keyId: string }> {
  const key = await sim.createKey(keyOptions);
  await saveCredentials(ctx, projectId, {
    keyId: key.keyId,
    issuerId: key.issuerId,
    privateKey: key.privateKeyPem,
  });
  if (appId !== null) {
    await ctx.db
      .update(projects)
      .set({ appStoreId: appId, bundleId: `bundle.${appId}`, appName: `App ${appId}` })
      .where(eq(projects.id, projectId));
  }
  return { keyId: key.keyId };
}
