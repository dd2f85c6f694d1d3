import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, inject } from 'vitest';

export interface TestRedis {
  url: string;
  /** A BullMQ prefix of this test file's own; every key under it is deleted afterwards. */
  prefix: string;
  /** A connection for assertions (keys, memory). */
  client: Redis;
}

export async function deleteKeys(client: Redis, pattern: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await client.unlink(...keys);
  } while (cursor !== '0');
}

/** A Redis prefix for this test file (as BullMQ's own tests use a random queue name). */
export function useTestRedis(): TestRedis {
  const url = inject('redisUrl');
  const prefix = `test-${inject('runId')}-${randomBytes(4).toString('hex')}`;
  const client = new Redis(url, { maxRetriesPerRequest: null, lazyConnect: false });
  afterAll(async () => {
    await deleteKeys(client, `${prefix}:*`);
    client.disconnect();
  });
  return { url, prefix, client };
}
