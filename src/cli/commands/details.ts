import type { Command } from 'commander';
import { environments, renewalKinds } from '../../catalog/vocabulary.ts';
import { InvalidInputError } from '../../errors.ts';
import { printResult, renderTable } from '../output.ts';
import { type JsonOption, runCommand, withJson } from '../run.ts';

// The operations load with the command that uses them, not with `--help`.
const detailsApp = () => import('../../app/details.ts');

/* Catalog details: prices and proceeds, offers, the attribution query, catalog health. */

const yesNo = (value: boolean | null | undefined) =>
  value === null || value === undefined ? '' : value ? 'yes' : 'no';

function parseAt(text: string | undefined, flag: string): Date | undefined {
  if (text === undefined) return undefined;
  const date = new Date(text.trim());
  if (Number.isNaN(date.getTime())) {
    throw new InvalidInputError(
      flag,
      `${JSON.stringify(text)} is not an ISO date or date-time (2026-03-01 or 2026-03-01T12:00:00Z).`,
    );
  }
  return date;
}

function oneOf<T extends string>(
  value: string | undefined,
  allowed: readonly T[],
  flag: string,
): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) {
    throw new InvalidInputError(flag, `${JSON.stringify(value)} is not one of ${allowed.join(', ')}.`);
  }
  return value as T;
}

export function registerDetails(program: Command): void {
  withJson(
    program
      .command('prices <project>')
      .description('prices and proceeds per territory (every version, or those in force at --at)')
      .option('--product <product>', 'product id or Apple id')
      .option('--territory <territory>', 'territory code, such as USA')
      .option('--at <time>', 'only the prices in force at this ISO date-time'),
  ).action((project: string, options: JsonOption & { product?: string; territory?: string; at?: string }) =>
    runCommand(options, async (cli) => {
      const result = await (await detailsApp()).listPrices(await cli.app(), {
        projectId: project,
        productId: options.product,
        territory: options.territory,
        at: parseAt(options.at, 'at'),
      });
      printResult(options, { ok: true, ...result }, () =>
        result.prices.length === 0
          ? `No prices stored for ${project}${options.product ? ` / ${options.product}` : ''} (details are read after a sync).`
          : renderTable(
              [
                'product',
                'territory',
                'currency',
                'price',
                'proceeds',
                'proceeds y2',
                'from',
                'until',
                'source',
                'preserved',
              ],
              result.prices.map((p) => [
                p.productId,
                p.territory,
                p.currency,
                p.customerPrice,
                p.proceeds,
                p.proceedsYear2,
                p.from ?? 'initial',
                p.until ?? (p.scheduled ? 'scheduled' : ''),
                p.source,
                yesNo(p.preserved),
              ]),
            ),
      );
    }),
  );

  withJson(program.command('offers <project>').description('offers of every kind, with their prices')).action(
    (project: string, options: JsonOption) =>
      runCommand(options, async (cli) => {
        const result = await (await detailsApp()).listOffers(await cli.app(), { projectId: project });
        printResult(options, { ok: true, ...result }, () =>
          result.offers.length === 0
            ? `No offers stored for ${project}.`
            : renderTable(
                [
                  'product',
                  'kind',
                  'offer',
                  'name',
                  'mode',
                  'duration',
                  'periods',
                  'territories',
                  'start',
                  'end',
                  'active',
                  'removed',
                ],
                result.offers.map((o) => [
                  o.productId,
                  o.kind,
                  o.appleId,
                  o.name,
                  o.offerMode,
                  o.duration,
                  o.numberOfPeriods,
                  o.territory ?? o.prices.length,
                  o.startDate,
                  o.endDate,
                  yesNo(o.active),
                  o.removedAt,
                ]),
              ),
        );
      }),
  );

  withJson(
    program
      .command('attribute <project>')
      .description('price, proceeds, offer and grace rule in force for a transaction or renewal')
      .requiredOption('--product <product>', 'product id or Apple id')
      .requiredOption('--territory <territory>', 'territory code, such as USA')
      .requiredOption('--at <time>', 'when the transaction or renewal happened (ISO date-time)')
      .option('--environment <environment>', `${environments.join(' | ')} (default production)`)
      .option('--renewal <kind>', `${renewalKinds.join(' | ')} (default paid_to_paid)`),
  ).action(
    (
      project: string,
      options: JsonOption & {
        product: string;
        territory: string;
        at: string;
        environment?: string;
        renewal?: string;
      },
    ) =>
      runCommand(options, async (cli) => {
        const result = await (await detailsApp()).attribute(await cli.app(), {
          projectId: project,
          productId: options.product,
          territory: options.territory,
          at: parseAt(options.at, 'at')!,
          environment: oneOf(options.environment, environments, 'environment'),
          renewal: oneOf(options.renewal, renewalKinds, 'renewal'),
        });
        printResult(options, { ok: true, ...result }, () => {
          const price = result.price
            ? `${result.price.customerPrice} ${result.price.currency} (since ${result.price.from ?? 'first priced'}${result.price.until ? `, until ${result.price.until}` : ''}, ${result.price.source})`
            : 'not priced in this territory at that time';
          const proceeds = result.proceeds
            ? `${result.proceeds.firstYear} first year, ${result.proceeds.afterFirstYear} after`
            : '';
          const offer = result.offer
            ? `${result.offer.kind} ${result.offer.appleId} (${result.offer.offerMode ?? ''} ${result.offer.duration ?? ''}${result.offer.price?.customerPrice ? `, ${result.offer.price.customerPrice} ${result.offer.price.currency}` : ''})` +
              (result.offers.length > 1 ? ` and ${result.offers.length - 1} more` : '')
            : 'none';
          const rule = result.rule
            ? `${result.rule.graceDays} grace days, recovered revenue dated to ${result.rule.recoveredRevenueDatedTo}, access during grace ${yesNo(result.rule.accessDuringGrace)}, unrecovered churn at ${result.rule.unrecoveredChurnAt}`
            : 'none (no sync yet)';
          return [
            `${result.productId} in ${result.territory} at ${result.at} (${result.environment}, ${result.renewal})`,
            `  Price:    ${price}`,
            `  Proceeds: ${proceeds}`,
            `  Offer:    ${offer}`,
            `  Grace:    ${rule}`,
            `  Details read: ${result.detailsReadAt ?? 'never'}`,
          ].join('\n');
        });
      }),
  );

  withJson(
    program.command('health <project>').description('catalog health: what would hurt revenue or review'),
  ).action((project: string, options: JsonOption) =>
    runCommand(options, async (cli) => {
      const result = await (await detailsApp()).catalogHealth(await cli.app(), { projectId: project });
      printResult(options, { ok: true, ...result }, () =>
        result.issues.length === 0
          ? `No catalog health issues for ${project}.`
          : renderTable(
              ['issue', 'product', 'what'],
              result.issues.map((i) => [i.kind, i.productId, i.message]),
            ),
      );
    }),
  );
}
