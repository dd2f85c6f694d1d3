import { Redis } from 'ioredis';
import type { Cleanup } from './cleanup.ts';

/** A Redis connection for measurements, plus a key prefix of this run's own, emptied afterwards. */
export function openBenchRedis(url: string, prefix: string, cleanup: Cleanup): Redis {
  const client = new Redis(url, { maxRetriesPerRequest: null });
  cleanup.defer(`redis keys ${prefix}:*`, async () => {
    await deleteKeys(client, `${prefix}:*`);
    client.disconnect();
  });
  return client;
}

export async function deleteKeys(client: Redis, pattern: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) deleted += await client.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}

export async function keysUnder(client: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys.sort();
}

function infoField(info: string, field: string): number {
  const match = new RegExp(`^${field}:(\\S+)`, 'm').exec(info);
  return match?.[1] ? Number(match[1]) : Number.NaN;
}

/** `used_memory` in bytes. */
export async function usedMemory(client: Redis): Promise<number> {
  return infoField(await client.info('memory'), 'used_memory');
}

/**
 * Server-wide write counter (`rdb_changes_since_last_save` grows by one per key modified) and
 * calls per command. Both are global to the server, so other clients' writes show up too;
 * `fingerprint` below is the exact check for our own prefix.
 */
export async function writeCounters(
  client: Redis,
): Promise<{ dirty: number; calls: Record<string, number> }> {
  const persistence = await client.info('persistence');
  const stats = await client.info('commandstats');
  const calls: Record<string, number> = {};
  for (const match of stats.matchAll(/^cmdstat_(\S+?):calls=(\d+)/gm)) calls[match[1]!] = Number(match[2]);
  let dirty = infoField(persistence, 'rdb_changes_since_last_save');
  // A background save resets the counter; add what it had saved so deltas stay right.
  if (Number.isNaN(dirty)) dirty = 0;
  return { dirty, calls };
}

export function callDeltas(
  before: Record<string, number>,
  after: Record<string, number>,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, n] of Object.entries(after)) {
    const d = n - (before[name] ?? 0);
    if (d > 0) out[name] = d;
  }
  return out;
}

/**
 * A digest of every key under the prefix (its name and DUMP payload): equal digests mean
 * nothing under the prefix was written in between, whatever else the server did.
 */
export async function fingerprint(client: Redis, prefix: string): Promise<Map<string, string>> {
  const keys = await keysUnder(client, prefix);
  const out = new Map<string, string>();
  for (let i = 0; i < keys.length; i += 500) {
    const batch = keys.slice(i, i + 500);
    const pipeline = client.pipeline();
    for (const key of batch) pipeline.dumpBuffer(key);
    const results = (await pipeline.exec()) ?? [];
    batch.forEach((key, j) => {
      const value = results[j]?.[1] as Buffer | null | undefined;
      out.set(key, value ? value.toString('base64') : '');
    });
  }
  return out;
}

export function fingerprintDiff(
  before: Map<string, string>,
  after: Map<string, string>,
): { added: number; removed: number; changed: number } {
  let added = 0;
  let changed = 0;
  for (const [key, value] of after) {
    const old = before.get(key);
    if (old === undefined) added++;
    else if (old !== value) changed++;
  }
  let removed = 0;
  for (const key of before.keys()) if (!after.has(key)) removed++;
  return { added, removed, changed };
}

/** Commands a Redis connection sends, by name (scripts by their ioredis name), counted client-side. */
export interface CommandTally {
  snapshot(): Record<string, number>;
  total(): number;
  reset(): void;
}

/** Wraps `sendCommand` of one ioredis connection to count what goes through it (no MONITOR). */
export function tallyCommands(client: Redis): CommandTally {
  let counts: Record<string, number> = {};
  const shaNames = new Map<string, string>();
  const scriptName = (sha: string): string => {
    if (!shaNames.has(sha)) {
      const scripts =
        (client as unknown as { scriptsSet?: Record<string, { sha: string }> }).scriptsSet ?? {};
      for (const [name, script] of Object.entries(scripts)) shaNames.set(script.sha, name);
    }
    return shaNames.get(sha) ?? `evalsha:${sha.slice(0, 8)}`;
  };
  const original = client.sendCommand.bind(client);
  client.sendCommand = ((command: { name: string; args: unknown[] }, stream?: unknown) => {
    const name =
      command.name === 'evalsha' && typeof command.args[0] === 'string'
        ? `script:${scriptName(command.args[0])}`
        : command.name;
    counts[name] = (counts[name] ?? 0) + 1;
    return (original as (c: unknown, s?: unknown) => unknown)(command, stream);
  }) as Redis['sendCommand'];
  return {
    snapshot: () => ({ ...counts }),
    total: () => Object.values(counts).reduce((a, b) => a + b, 0),
    reset: () => {
      counts = {};
    },
  };
}
