import { execFile } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { attributeStream } from '../../../src/app/attribution.ts';
import {
  attributeTransaction,
  type CatalogView,
  type HistoryEntry,
  historyEntryOf,
} from '../../../src/attribution/attribute.ts';
import { type DecodedTransaction, decodedTransactionSchema } from '../../../src/attribution/model.ts';
import { loadProducts, loadProjectView } from '../../../src/attribution/store.ts';
import { createVerifier } from '../../../src/attribution/verify.ts';
import { refreshDetails } from '../../../src/details/refresh.ts';
import { generateCatalog, startSimulator } from '../../../src/simulator/index.ts';
import { createSigningChain, milliunits } from '../../../src/simulator/transactions.ts';
import { syncProject } from '../../../src/sync/run.ts';
import { benchConfig, benchEnv, openBenchDatabase, serviceContext } from '../lib/context.ts';
import { seedProjects } from '../lib/projects.ts';
import type { ResultTable, ScenarioResult, TargetCheck } from '../lib/report.ts';
import type { Scenario } from '../lib/scenario.ts';
import { createScratchDatabase } from '../lib/services.ts';
import { msSince, round } from '../lib/stats.ts';

/*
 * Scenario 10: transaction attribution. (1) Attributions per second on one core for decoded
 * transactions on a warm catalog (the pure attribution of src/attribution/attribute.ts, the
 * catalog loaded once), beside parsing the same transactions with their zod schema (the least
 * any attribution must do) in the same run; (2) verifying signed ones (Apple's library, the real
 * chain checks, offline); (3) end to end into Postgres (attributeStream: chunks of 500, history,
 * versions); (4) the CLI streaming an NDJSON file of 1,000,000 lines (100,000 with --quick):
 * its peak memory (GNU time's max RSS) beside the same CLI's `status`.
 */

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = path.join(ROOT, 'bin/catalog-sync.js');
const DAY = 86_400_000;
const TERRITORIES = ['USA', 'GBR', 'DEU', 'FRA', 'JPN', 'CAN', 'AUS', 'BRA', 'IND', 'KOR'];

/** `count` decoded transactions: subscribers of 12 monthly renewals across products and territories. */
function* transactions(
  catalog: CatalogView,
  bundleId: string,
  count: number,
  prefix: string,
): Generator<DecodedTransaction> {
  const products = [...catalog.products.values()];
  let n = 0;
  for (let subscriber = 0; n < count; subscriber++) {
    const product = products[subscriber % products.length]!;
    const territory = TERRITORIES[subscriber % TERRITORIES.length]!;
    const version = product.prices.get(territory)?.[0];
    const currency = catalog.currencies.get(territory) ?? 'USD';
    const price = milliunits(version?.customerPrice ?? '1.00');
    const original = `${prefix}${subscriber}x0`;
    const start = Date.UTC(2025, 0, 1) + (subscriber % 300) * DAY;
    for (let period = 0; period < 12 && n < count; period++, n++) {
      const purchaseDate = start + period * 30 * DAY;
      yield {
        transactionId: period === 0 ? original : `${prefix}${subscriber}x${period}`,
        originalTransactionId: original,
        bundleId,
        productId: product.productId,
        purchaseDate,
        originalPurchaseDate: start,
        expiresDate: purchaseDate + 30 * DAY,
        type: 'Auto-Renewable Subscription',
        inAppOwnershipType: 'PURCHASED',
        transactionReason: period === 0 ? 'PURCHASE' : 'RENEWAL',
        environment: 'Production',
        storefront: territory,
        price,
        currency,
        signedDate: purchaseDate,
      };
    }
  }
}

/** One process under GNU time: wall seconds and max RSS. */
async function measure(
  args: string[],
  env: Record<string, string>,
): Promise<{ wallS: number; peakMiB: number }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'cs-attr-time-'));
  const out = path.join(dir, 'time');
  try {
    await run(
      '/usr/bin/time',
      ['-q', '-o', out, '-f', '%e %M', 'sh', '-c', `"$0" "$@" > /dev/null`, process.execPath, ...args],
      {
        env,
        cwd: ROOT,
        timeout: 3_600_000,
        maxBuffer: 64 * 1024 * 1024,
      },
    );
    const [wall, rssKb] = (readFileSync(out, 'utf8').trim().split('\n').pop() ?? '').split(' ').map(Number);
    return { wallS: wall!, peakMiB: rssKb! / 1024 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const attributionScenario: Scenario = {
  id: 10,
  key: 'attribution',
  title: 'Transaction attribution: attributions/s on one core, signed verification, memory streaming NDJSON',
  async run(ctx): Promise<ScenarioResult> {
    const pureCount = ctx.quick ? 50_000 : 200_000;
    const signedCount = ctx.quick ? 200 : 1_000;
    const storedCount = ctx.quick ? 10_000 : 50_000;
    const fileLines = ctx.quick ? 100_000 : 1_000_000;
    ctx.progress('a catalog of 20 subscriptions in 175 territories, synced with its details');
    const catalog = generateCatalog({
      seed: 21,
      apps: [{ iaps: 0, groups: 2, subscriptionsPerGroup: 10 }],
      details: { scheduledShare: 0 },
    });
    const sim = await startSimulator({ catalog, port: 0, rateLimit: { perHour: 10_000_000 } });
    ctx.cleanup.defer('close simulator', () => sim.close());
    const key = await sim.createKey({ role: 'ADMIN', appIds: 'all' });
    const scratch = await createScratchDatabase(ctx.services, ctx.cleanup, 'attribution');
    const database = await openBenchDatabase(ctx.cleanup, scratch.url);
    const chain = await createSigningChain();
    const dir = mkdtempSync(path.join(tmpdir(), 'cs-attribution-'));
    ctx.cleanup.defer('remove the NDJSON file', () => rmSync(dir, { recursive: true, force: true }));
    const rootFile = path.join(dir, 'root.cer');
    writeFileSync(rootFile, chain.rootDer);
    const env = {
      DATABASE_URL: scratch.url,
      APP_STORE_CONNECT_BASE_URL: sim.baseUrl,
      APPLE_ROOT_CERTIFICATES: rootFile,
      APPLE_VERIFY_ONLINE: 'false',
    };
    const config = benchConfig(env);
    const service = serviceContext(database, config);
    const app = sim.catalog.apps[0]!;
    const projectId = 'bench-attribution';
    await seedProjects(database.db, config, [
      {
        id: projectId,
        keyId: key.keyId,
        issuerId: key.issuerId,
        privateKeyPem: key.privateKeyPem,
        app: { appStoreId: app.id, bundleId: app.bundleId, name: app.name },
      },
    ]);
    const synced = await syncProject(service, projectId, { trigger: 'manual' });
    await refreshDetails(service, { projectId, runId: synced.runId, budget: null });
    const productIds = app.groups.flatMap((g) => g.subscriptions.map((s) => s.productId));
    const view = await loadProjectView(database.db, projectId);
    const warm: CatalogView = { ...view, products: await loadProducts(database.db, projectId, productIds) };

    // (1) Pure attribution on one core, warm catalog; the baseline parses the same input.
    ctx.progress(`attributing ${pureCount} decoded transactions in memory`);
    const list = [...transactions(warm, app.bundleId, pureCount, 'p')];
    const histories = new Map<string, HistoryEntry[]>();
    for (const tx of list) {
      const h = histories.get(tx.originalTransactionId) ?? [];
      h.push(historyEntryOf(tx));
      histories.set(tx.originalTransactionId, h);
    }
    const lines = list.map((tx) => JSON.stringify(tx));
    let started = process.hrtime.bigint();
    for (const line of lines) decodedTransactionSchema.parse(JSON.parse(line));
    const parseMs = msSince(started);
    started = process.hrtime.bigint();
    let unknown = 0;
    for (const tx of list) {
      const result = attributeTransaction(
        { tx, history: histories.get(tx.originalTransactionId) ?? [] },
        warm,
      );
      if (!result.ok || result.entries[0]!.proceeds === null) unknown++;
    }
    const pureMs = msSince(started);
    const pureRate = pureCount / (pureMs / 1000);
    const parseRate = pureCount / (parseMs / 1000);
    if (unknown > 0)
      throw new Error(`${unknown} transactions were not attributed with proceeds: the bench data is wrong`);

    // (2) Verifying signed transactions (the real chain checks, offline).
    ctx.progress(`verifying ${signedCount} signed transactions`);
    const verifier = await createVerifier([chain.rootDer], false, {
      bundleId: app.bundleId,
      appStoreId: app.id,
      environment: 'production',
    });
    const signed = list.slice(0, signedCount).map((tx) => chain.sign(tx));
    started = process.hrtime.bigint();
    for (const jws of signed) await verifier.transaction(jws);
    const verifyMs = msSince(started);
    const verifyRate = signedCount / (verifyMs / 1000);

    // (3) End to end into Postgres.
    ctx.progress(`storing ${storedCount} attributions through attributeStream`);
    started = process.hrtime.bigint();
    const stored = await attributeStream(
      service,
      list.slice(0, storedCount).map((value, index) => ({ index, value })),
      { projectId },
    );
    const storedMs = msSince(started);
    if (stored.summary.stored !== storedCount)
      throw new Error(`stored ${stored.summary.stored} of ${storedCount}`);

    // (4) The CLI streaming a file, and one a tenth of its size: a bounded stream peaks the same.
    const writeNdjson = async (name: string, count: number, prefix: string) => {
      const file = path.join(dir, name);
      const out = createWriteStream(file);
      let size = 0;
      for (const tx of transactions(warm, app.bundleId, count, prefix)) {
        const line = `${JSON.stringify(tx)}\n`;
        size += line.length;
        if (!out.write(line)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
      }
      await new Promise<void>((resolve, reject) =>
        out.end((error?: Error | null) => (error ? reject(error) : resolve())),
      );
      return { file, bytes: size };
    };
    ctx.progress(`writing NDJSON files of ${fileLines / 10} and ${fileLines} lines`);
    const small = await writeNdjson('small.ndjson', fileLines / 10, 's');
    const { file, bytes } = await writeNdjson('transactions.ndjson', fileLines, 'f');
    const cliEnv = { ...process.env, ...benchEnv(env) } as Record<string, string>;
    ctx.progress('the CLI’s `status` (the yardstick)');
    const yard = await measure([BIN, 'status', projectId, '--json'], cliEnv);
    ctx.progress(`the CLI streaming ${fileLines / 10} lines into Postgres`);
    const tenth = await measure(
      [BIN, 'attribute-transactions', projectId, '--file', small.file, '--json'],
      cliEnv,
    );
    ctx.progress(`the CLI streaming ${fileLines} lines into Postgres`);
    const streamed = await measure(
      [BIN, 'attribute-transactions', projectId, '--file', file, '--json'],
      cliEnv,
    );

    const table: ResultTable = {
      title: 'Throughput (one core for the in-memory rows) and memory',
      columns: ['measure', 'count', 'seconds', 'per second', 'peak MiB'],
      rows: [
        [
          'baseline: JSON.parse + zod parse of decoded transactions',
          pureCount,
          round(parseMs / 1000, 2),
          Math.round(parseRate),
          '',
        ],
        [
          'attribute decoded transactions (warm catalog, in memory)',
          pureCount,
          round(pureMs / 1000, 2),
          Math.round(pureRate),
          '',
        ],
        [
          'verify signed transactions (x5c chain, ES256, offline)',
          signedCount,
          round(verifyMs / 1000, 2),
          Math.round(verifyRate),
          '',
        ],
        [
          'attributeStream into Postgres (decoded, chunks of 500)',
          storedCount,
          round(storedMs / 1000, 2),
          Math.round(storedCount / (storedMs / 1000)),
          '',
        ],
        ['CLI status (yardstick process)', '', round(yard.wallS, 2), '', round(yard.peakMiB, 0)],
        [
          `CLI attribute-transactions, ${fileLines / 10} lines (${Math.round(small.bytes / 1048576)} MiB)`,
          fileLines / 10,
          round(tenth.wallS, 1),
          Math.round(fileLines / 10 / tenth.wallS),
          round(tenth.peakMiB, 0),
        ],
        [
          `CLI attribute-transactions, ${fileLines} lines (${Math.round(bytes / 1048576)} MiB)`,
          fileLines,
          round(streamed.wallS, 1),
          Math.round(fileLines / streamed.wallS),
          round(streamed.peakMiB, 0),
        ],
      ],
    };
    const targets: TargetCheck[] = [
      {
        name: 'attributions per second, decoded, one core, warm catalog',
        target: '≥ 20,000/s',
        actual: `${Math.round(pureRate)}/s (parsing alone: ${Math.round(parseRate)}/s)`,
        met: pureRate >= 20_000,
      },
      {
        name: `peak memory streaming ${fileLines} lines`,
        target: 'bounded: within 25 % of the peak for a tenth of the lines',
        actual: `${round(streamed.peakMiB, 0)} MiB for ${Math.round(bytes / 1048576)} MiB; ${round(tenth.peakMiB, 0)} MiB for ${Math.round(small.bytes / 1048576)} MiB (status: ${round(yard.peakMiB, 0)} MiB)`,
        met: streamed.peakMiB <= tenth.peakMiB * 1.25,
      },
    ];
    return {
      tables: [table],
      targets,
      notes: [
        'The in-memory rows run in this process on one core: the catalog (prices of 20 subscriptions in 175 territories) is loaded once, as a stream loads it once.',
        `Verifying a signed transaction costs about ${round(1000 / verifyRate, 2)} ms (Apple's library checks the chain on every call when online checks are off; with them on it caches verified chains for 15 minutes but asks OCSP).`,
        'The stream keeps one chunk of 500 items in memory; its results are written as each chunk is stored.',
      ],
      data: {
        pureCount,
        pureMs,
        parseMs,
        signedCount,
        verifyMs,
        storedCount,
        storedMs,
        fileLines,
        bytes,
        yard,
        streamed,
      },
    };
  },
};
