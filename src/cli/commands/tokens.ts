import type { Command } from 'commander';
import type { ApiToken } from '../../app/tokens.ts';
import { printResult, renderTable } from '../output.ts';
import { runCommand, withJson } from '../run.ts';

/* `tokens create|list|revoke`: service tokens of the HTTP API. */

const tokensApp = () => import('../../app/tokens.ts');

function tokenTable(tokens: ApiToken[]): string {
  if (tokens.length === 0)
    return 'No API tokens. Create one with `catalog-sync tokens create --name N --scope read|write`.';
  return renderTable(
    ['id', 'name', 'scope', 'created', 'last used', 'revoked'],
    tokens.map((t) => [t.id, t.name, t.scope, t.createdAt, t.lastUsedAt, t.revokedAt]),
  );
}

export function registerTokens(program: Command): void {
  const tokens = program
    .command('tokens')
    .description('service tokens of the HTTP API (`catalog-sync serve`)');
  withJson(
    tokens
      .command('create')
      .description('create a token; its value is shown this once (only a hash is stored)')
      .requiredOption('--name <name>', 'who uses it (appears in the request logs)')
      .requiredOption('--scope <scope>', 'read (GET routes) or write (every route)'),
  ).action((options: { json?: boolean; name: string; scope: string }) =>
    runCommand(options, async (cli) => {
      const { db } = await cli.database();
      const created = await (await tokensApp()).createApiToken(
        { db, config: cli.config, logger: cli.logger },
        {
          name: options.name,
          scope: options.scope as 'read' | 'write',
        },
      );
      printResult(
        options,
        created,
        () =>
          `Token ${created.id} (${created.name}, ${created.scope}):\n${created.token}\n` +
          'Shown once: store it in the caller now (send it as Authorization: Bearer <token>).',
      );
    }),
  );
  withJson(
    tokens.command('list').description('tokens (never their values)').option('--all', 'include revoked ones'),
  ).action((options: { json?: boolean; all?: boolean }) =>
    runCommand(options, async (cli) => {
      const { db } = await cli.database();
      const listing = await (await tokensApp()).listApiTokens(
        { db, config: cli.config, logger: cli.logger },
        { includeRevoked: options.all ?? false },
      );
      printResult(options, listing, () => tokenTable(listing.tokens));
    }),
  );
  withJson(
    tokens
      .command('revoke')
      .description('revoke a token by id or name; refused from the next request on')
      .argument('<token>', 'the token id (tok_…) or name'),
  ).action((token: string, options: { json?: boolean }) =>
    runCommand(options, async (cli) => {
      const { db } = await cli.database();
      const revoked = await (await tokensApp()).revokeApiToken(
        { db, config: cli.config, logger: cli.logger },
        { token },
      );
      printResult(options, revoked, () => `Revoked ${revoked.id} (${revoked.name}).`);
    }),
  );
}
