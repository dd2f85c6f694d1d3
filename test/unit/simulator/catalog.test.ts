import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import {
  countProducts,
  generateCatalog,
  generateKeyPair,
  randomIssuerId,
  randomKeyId,
  type SimCatalog,
  saveCatalogFile,
  startSimulator,
  UNKNOWN_IAP_STATE,
} from '../../../src/simulator/index.ts';
import { get, mintToken } from './helpers.ts';

const dir = await mkdtemp(join(tmpdir(), 'catalog-sync-sim-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('catalog generator', () => {
  it('is deterministic for a seed and realistic', () => {
    const options = {
      seed: 5,
      apps: [{ iaps: 12, groups: 2, subscriptionsPerGroup: [6, 2] }],
    };
    const catalog = generateCatalog(options);
    expect(generateCatalog(options)).toEqual(catalog);
    expect(generateCatalog({ ...options, seed: 6 })).not.toEqual(catalog);
    const app = catalog.apps[0]!;
    expect(app.bundleId).toBe('com.example.app');
    expect(new Set(app.iaps.map((iap) => iap.inAppPurchaseType))).toEqual(
      new Set(['CONSUMABLE', 'NON_CONSUMABLE', 'NON_RENEWING_SUBSCRIPTION']),
    );
    const productIds = [...app.iaps, ...app.groups.flatMap((g) => g.subscriptions)].map((p) => p.productId);
    expect(new Set(productIds).size).toBe(productIds.length);
    for (const productId of productIds) expect(productId).toMatch(/^com\.example\.app\.[a-z0-9.]+$/);
    expect(app.groups.map((g) => g.subscriptions.length)).toEqual([6, 2]);
    expect(app.groups[0]!.subscriptions.map((s) => s.groupLevel)).toEqual([1, 2, 3, 4, 5, 6]);
    const subscription = app.groups[0]!.subscriptions[0]!;
    expect(subscription).toMatchObject({
      multiSeatStatus: expect.any(String),
      marketSettings: expect.any(Array),
    });
    expect(app.grace).toMatchObject({ duration: expect.stringMatching(/_DAYS$/), id: expect.any(String) });
    expect(app.grace!.id).not.toBe(app.id);
  });

  it('can add unknown enum values and nulls, and leave grace out', () => {
    const catalog = generateCatalog({
      seed: 1,
      unknownEnumValues: true,
      nullAttributes: true,
      apps: [{ iaps: 200, groups: 0, subscriptionsPerGroup: 0, grace: null }],
    });
    const app = catalog.apps[0]!;
    expect(app.iaps.some((iap) => iap.state === UNKNOWN_IAP_STATE)).toBe(true);
    expect(app.iaps.some((iap) => iap.reviewNote === null)).toBe(true);
    expect(app.grace).toBeNull();
  });

  it('starts quickly with 10,000 products and serves 200-item pages in milliseconds (printed)', async () => {
    let started = performance.now();
    const catalog = generateCatalog({
      seed: 9,
      apps: [{ iaps: 10_000, groups: 4, subscriptionsPerGroup: 25 }],
    });
    const generateMs = performance.now() - started;
    started = performance.now();
    const sim = await startSimulator({ catalog });
    const startMs = performance.now() - started;
    try {
      const key = await sim.createKey();
      const token = await mintToken(key);
      const app = catalog.apps[0]!;
      let next: string | undefined = `/v1/apps/${app.id}/inAppPurchasesV2?limit=200`;
      let pages = 0;
      while (next && pages < 5) {
        const reply = await get(sim, next, token);
        expect(reply.status).toBe(200);
        next = (reply.body as { links: { next?: string } }).links.next;
        pages++;
      }
      const served = sim.requests.map((entry) => entry.durationMs);
      const sorted = [...served].sort((a, b) => a - b);
      console.log(
        `simulator: generated ${countProducts(catalog)} products in ${generateMs.toFixed(1)} ms; ` +
          `started in ${startMs.toFixed(1)} ms; 200-item pages served in ${served.map((ms) => ms.toFixed(1)).join(', ')} ms ` +
          `(median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(1)} ms)`,
      );
      expect(pages).toBe(5);
    } finally {
      await sim.close();
    }
  });
});

describe('catalog file and CLI', () => {
  it('loads apps and public keys from a catalog file, and serves until SIGTERM', async () => {
    const pair = generateKeyPair();
    const key = { keyId: randomKeyId(), issuerId: randomIssuerId(), privateKeyPem: pair.privateKeyPem };
    const catalog: SimCatalog = {
      ...generateCatalog({
        seed: 2,
        apps: [{ id: '1700000001', iaps: 3, groups: 1, subscriptionsPerGroup: 2 }],
      }),
      keys: [
        {
          keyId: key.keyId,
          issuerId: key.issuerId,
          publicKeyPem: pair.publicKeyPem,
          role: 'APP_MANAGER',
          appIds: ['1700000001'],
          agreementsMissing: false,
        },
      ],
    };
    const file = join(dir, 'catalog.json');
    await saveCatalogFile(file, catalog);

    const child = spawn(
      process.execPath,
      ['src/cli/main.ts', 'simulator', '--port', '0', '--catalog', file, '--json'],
      {
        env: { ...process.env, DATA_DIR: join(dir, 'data'), LOG_LEVEL: 'warn' },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout! }).once('line', resolve);
        child.once('exit', () => reject(new Error('the simulator exited before printing its address')));
      });
      const printed = JSON.parse(line) as {
        ok: boolean;
        baseUrl: string;
        key: { keyId: string; issuerId: string; p8Path: string };
        apps: { id: string }[];
      };
      expect(printed.ok).toBe(true);
      expect(printed.apps.map((app) => app.id)).toEqual(['1700000001']);
      expect(printed.key.p8Path).toBe(join(dir, 'data', 'simulator', `AuthKey_${printed.key.keyId}.p8`));
      const sim = { baseUrl: printed.baseUrl } as Parameters<typeof get>[0];
      // The file's key (public half only) works with the private half kept here.
      const fileKeyReply = await get(sim, '/v1/apps', await mintToken(key));
      expect(fileKeyReply.status).toBe(200);
      // The operator key printed by the CLI works too.
      const operator = {
        keyId: printed.key.keyId,
        issuerId: printed.key.issuerId,
        privateKeyPem: await readFile(printed.key.p8Path, 'utf8'),
      };
      const grace = await get(sim, '/v1/apps/1700000001/subscriptionGracePeriod', await mintToken(operator));
      expect(grace.status).toBe(200);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  }, 20_000);
});
