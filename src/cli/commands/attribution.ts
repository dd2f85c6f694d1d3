import { createReadStream } from 'node:fs';
import type { Command } from 'commander';
import { InvalidInputError } from '../../errors.ts';
import { printResult, renderTable } from '../output.ts';
import { type JsonOption, runCommand, withJson } from '../run.ts';

// The operations load with the command that uses them, not with `--help`.
const attributionApp = () => import('../../app/attribution.ts');

/*
 * Transaction attribution: `attribute-transactions` streams NDJSON in and out (results on stdout
 * as each chunk is stored, a progress line and the summary on stderr), `revenue` sums the stored
 * attributions.
 */

function environmentOption(value: string | undefined): 'production' | 'sandbox' {
  if (value === undefined || value === 'production' || value === 'sandbox') return value ?? 'production';
  throw new InvalidInputError('--environment', `${JSON.stringify(value)} is not production or sandbox.`);
}

/** Writes one line to stdout, waiting when the reader is slower (memory stays bounded). */
function writeLine(text: string): Promise<void> | undefined {
  if (process.stdout.write(`${text}\n`)) return undefined;
  return new Promise((resolve) => process.stdout.once('drain', () => resolve()));
}

export function registerAttribution(program: Command): void {
  withJson(
    program
      .command('attribute-transactions <project>')
      .description(
        'attribute App Store transactions from NDJSON (signed notifications, signed or decoded transactions; `-` reads stdin): results as NDJSON on stdout',
      )
      .requiredOption('--file <file>', 'the NDJSON file, or - for stdin')
      .option('--environment <environment>', 'production or sandbox (default production)'),
  ).action((project: string, options: JsonOption & { file: string; environment?: string }) =>
    runCommand(options, async (cli) => {
      const environment = environmentOption(options.environment);
      const { ndjsonItems } = await import('../../attribution/ndjson.ts');
      const input = options.file === '-' ? process.stdin : createReadStream(options.file);
      const opened = new Promise<void>((resolve, reject) => {
        if (options.file === '-') return resolve();
        input.once('open', () => resolve());
        input.once('error', (error: NodeJS.ErrnoException) =>
          reject(
            new InvalidInputError(
              '--file',
              `${options.file} cannot be read (${error.code ?? error.message}).`,
            ),
          ),
        );
      });
      await opened;
      const started = Date.now();
      let lastProgress = started;
      let lines = 0;
      const { summary } = await (await attributionApp()).attributeStream(
        await cli.app(),
        ndjsonItems(input),
        {
          projectId: project,
          environment,
          onResults: async (results) => {
            for (const { index, ...result } of results) {
              await writeLine(JSON.stringify({ line: index + 1, ...result }));
            }
            lines += results.length;
            const now = Date.now();
            if (now - lastProgress >= 2000) {
              lastProgress = now;
              const rate = Math.round(lines / ((now - started) / 1000));
              process.stderr.write(`attribute-transactions: ${lines} lines (${rate}/s)\n`);
            }
          },
        },
      );
      const seconds = (Date.now() - started) / 1000;
      const refusedBy = Object.entries(summary.refusedBy)
        .map(([code, n]) => `${code} ${n}`)
        .join(', ');
      process.stderr.write(
        options.json
          ? `${JSON.stringify({ ok: true, summary })}\n`
          : `${summary.items} lines in ${seconds.toFixed(1)} s: ${summary.stored} stored, ${summary.newVersions} new versions, ` +
              `${summary.duplicates} duplicates, ${summary.refused} refused${refusedBy ? ` (${refusedBy})` : ''}, ` +
              `${summary.unknownProceeds} with unknown proceeds, ${summary.pricePointLookups} price points looked up\n`,
      );
    }),
  );

  withJson(
    program
      .command('revenue <project>')
      .description('customer price and proceeds summed per currency from the stored attributions')
      .requiredOption('--from <time>', 'start (inclusive), an ISO date or date-time')
      .requiredOption('--to <time>', 'end (exclusive), an ISO date or date-time')
      .option('--by <grouping>', 'day, month, product or territory', 'day')
      .option('--environment <environment>', 'production or sandbox (default production)'),
  ).action(
    (project: string, options: JsonOption & { from: string; to: string; by: string; environment?: string }) =>
      runCommand(options, async (cli) => {
        const result = await (await attributionApp()).revenue(await cli.app(), {
          projectId: project,
          from: options.from,
          to: options.to,
          by: options.by as 'day',
          environment: environmentOption(options.environment),
        });
        printResult(options, { ok: true, ...result }, () =>
          result.rows.length === 0
            ? `No attributed revenue for ${project} from ${result.from} to ${result.to}.`
            : `${renderTable(
                [options.by, 'currency', 'customer price', 'proceeds', 'unknown proceeds', 'count'],
                result.rows.map((r) => [
                  r.key,
                  r.currency,
                  r.customerPrice,
                  r.proceeds,
                  r.unknownProceeds,
                  r.count,
                ]),
              )}\n${renderTable(
                ['total', 'customer price', 'proceeds', 'unknown proceeds', 'count'],
                result.totals.map((t) => [
                  t.currency,
                  t.customerPrice,
                  t.proceeds,
                  t.unknownProceeds,
                  t.count,
                ]),
              )}`,
        );
      }),
  );
}
