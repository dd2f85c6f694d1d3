import { type Command, InvalidArgumentError } from 'commander';
import type { WebhookEndpoint } from '../../app/webhooks.ts';
import { printResult, renderTable } from '../output.ts';
import { type JsonOption, runCommand, withJson } from '../run.ts';

// The operations load with the command that uses them, not with `--help`.
const webhooksApp = () => import('../../app/webhooks.ts');
const eventsApp = () => import('../../app/events.ts');

/* `webhooks add|list|remove|rotate|test|enable`, `events`, `deliveries`, `redeliver`. */

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 1000)
    throw new InvalidArgumentError('must be a whole number from 1 to 1000');
  return n;
}

function endpointTable(endpoints: WebhookEndpoint[]): string {
  if (endpoints.length === 0) return 'No webhook endpoints. Add one with `catalog-sync webhooks add <url>`.';
  return renderTable(
    ['id', 'project', 'url', 'events', 'status', 'failing since'],
    endpoints.map((e) => [
      e.id,
      e.projectId ?? '(all)',
      e.url,
      e.eventTypes.length ? e.eventTypes.join(', ') : '(all)',
      e.status === 'disabled' ? `disabled: ${e.disabledReason ?? ''}` : 'enabled',
      e.failingSince,
    ]),
  );
}

function secretNotice(secret: string): string {
  return `Signing secret (shown once; store it in the receiver now): ${secret}`;
}

export function registerWebhooks(program: Command): void {
  const webhooks = program.command('webhooks').description('signed webhook endpoints (Standard Webhooks)');

  withJson(
    webhooks
      .command('add <url>')
      .description('register an endpoint; prints its signing secret once')
      .option('--project <project>', 'only this project’s events (default: every project)')
      .option('--events <types>', 'comma-separated event types (default: all)')
      .option('--description <text>', 'a note for operators'),
  ).action((url: string, options: JsonOption & { project?: string; events?: string; description?: string }) =>
    runCommand(options, async (cli) => {
      const result = await (await webhooksApp()).addWebhook(await cli.app(), {
        url,
        projectId: options.project ?? null,
        eventTypes: options.events?.split(','),
        description: options.description ?? null,
      });
      printResult(
        options,
        { ok: true, ...result },
        () => `${endpointTable([result.endpoint])}\n${secretNotice(result.secret)}`,
      );
    }),
  );

  withJson(
    webhooks
      .command('list')
      .description('registered endpoints')
      .option('--project <project>', 'those that get this project’s events'),
  ).action((options: JsonOption & { project?: string }) =>
    runCommand(options, async (cli) => {
      const endpoints = await (await webhooksApp()).listWebhooks(await cli.app(), {
        projectId: options.project,
      });
      printResult(options, { ok: true, endpoints }, () => endpointTable(endpoints));
    }),
  );

  withJson(webhooks.command('remove <id>').description('remove an endpoint and its delivery log')).action(
    (id: string, options: JsonOption) =>
      runCommand(options, async (cli) => {
        const result = await (await webhooksApp()).removeWebhook(await cli.app(), { id });
        printResult(options, { ok: true, ...result }, () => `Removed ${id}.`);
      }),
  );

  withJson(
    webhooks
      .command('rotate <id>')
      .description('new signing secret; the old one keeps signing too for WEBHOOKS_ROTATION_GRACE_MS'),
  ).action((id: string, options: JsonOption) =>
    runCommand(options, async (cli) => {
      const result = await (await webhooksApp()).rotateWebhookSecret(await cli.app(), { id });
      printResult(
        options,
        { ok: true, ...result },
        () =>
          `${secretNotice(result.secret)}\nThe previous secret signs too until ${result.endpoint.previousSecretValidUntil ?? 'now'}.`,
      );
    }),
  );

  withJson(
    webhooks
      .command('enable <id>')
      .description('re-enable a disabled endpoint')
      .option(
        '--replay-since <time>',
        'also send it, in order, the events since then it never received (ISO time or 30m, 24h, 7d)',
      ),
  ).action((id: string, options: JsonOption & { replaySince?: string }) =>
    runCommand(options, async (cli) => {
      const result = await (await webhooksApp()).enableWebhook(await cli.app(), {
        id,
        ...(options.replaySince ? { replaySince: options.replaySince } : {}),
      });
      printResult(options, { ok: true, ...result }, () =>
        [
          endpointTable([result.endpoint]),
          result.replayed
            ? `${result.replayed.events} missed events queued for it again; the worker sends them in order.`
            : 'Events from now on reach it. To send what it missed: `catalog-sync webhooks enable <id> --replay-since <time>`.',
        ].join('\n'),
      );
    }),
  );

  withJson(webhooks.command('test <id>').description('send a signed webhook.test event now')).action(
    (id: string, options: JsonOption) =>
      runCommand(options, async (cli) => {
        const result = await (await webhooksApp()).testWebhook(await cli.app(), { id });
        printResult(options, result, () =>
          result.ok
            ? `Delivered: HTTP ${result.statusCode} in ${result.latencyMs} ms.`
            : `Not delivered: ${result.statusCode ? `HTTP ${result.statusCode}` : (result.error ?? 'no response')}.`,
        );
        if (!result.ok) process.exitCode = 1;
      }),
  );

  withJson(
    program
      .command('events <project>')
      .description('events of a project (the outbox)')
      .option('--since <time>', 'ISO time or a duration back (30m, 24h, 7d)')
      .option('--type <type>', 'one event type')
      .option('--limit <n>', 'at most n (default 100)', positiveInt),
  ).action((project: string, options: JsonOption & { since?: string; type?: string; limit?: number }) =>
    runCommand(options, async (cli) => {
      const events = await (await eventsApp()).listEvents(await cli.app(), {
        projectId: project,
        ...(options.since ? { since: options.since } : {}),
        ...(options.type ? { type: options.type } : {}),
        ...(options.limit ? { limit: options.limit } : {}),
      });
      printResult(options, { ok: true, projectId: project, events }, () =>
        events.length === 0
          ? 'No events.'
          : renderTable(
              ['seq', 'id', 'time', 'type', 'deliveries (ok/pending/failed)'],
              events.map((e) => [
                e.sequence,
                e.id,
                e.timestamp,
                e.type,
                `${e.deliveries.succeeded}/${e.deliveries.pending}/${e.deliveries.failed + e.deliveries.cancelled}`,
              ]),
            ),
      );
    }),
  );

  withJson(
    program
      .command('deliveries')
      .description('webhook deliveries and their attempts')
      .option('--endpoint <id>', 'one endpoint')
      .option('--event <id>', 'one event')
      .option('--project <project>', 'one project')
      .option('--status <status>', 'pending | succeeded | failed | cancelled')
      .option('--limit <n>', 'at most n (default 100)', positiveInt),
  ).action(
    (
      options: JsonOption & {
        endpoint?: string;
        event?: string;
        project?: string;
        status?: string;
        limit?: number;
      },
    ) =>
      runCommand(options, async (cli) => {
        const deliveries = await (await eventsApp()).listDeliveries(await cli.app(), {
          ...(options.endpoint ? { endpointId: options.endpoint } : {}),
          ...(options.event ? { eventId: options.event } : {}),
          ...(options.project ? { projectId: options.project } : {}),
          ...(options.status ? { status: options.status } : {}),
          ...(options.limit ? { limit: options.limit } : {}),
        });
        printResult(options, { ok: true, deliveries }, () =>
          deliveries.length === 0
            ? 'No deliveries.'
            : renderTable(
                ['event', 'type', 'endpoint', 'status', 'attempts', 'last HTTP', 'last error / next'],
                deliveries.map((d) => [
                  d.eventId,
                  d.eventType,
                  d.endpointId,
                  d.status,
                  d.attempts,
                  d.lastStatusCode,
                  d.status === 'pending'
                    ? `next ${d.nextAttemptAt}${d.lastError ? ` (${d.lastError})` : ''}`
                    : d.lastError,
                ]),
              ),
        );
      }),
  );

  withJson(
    program
      .command('redeliver')
      .description('send one event, or every event since a time, again')
      .option('--event <id>', 'one event')
      .option('--since <time>', 'every event since (ISO time or 30m, 24h, 7d)')
      .option('--project <project>', 'with --since: one project’s events')
      .option('--endpoint <id>', 'only to this endpoint'),
  ).action((options: JsonOption & { event?: string; since?: string; project?: string; endpoint?: string }) =>
    runCommand(options, async (cli) => {
      const result = await (await eventsApp()).redeliver(await cli.app(), {
        ...(options.event ? { eventId: options.event } : {}),
        ...(options.since ? { since: options.since } : {}),
        ...(options.project ? { projectId: options.project } : {}),
        ...(options.endpoint ? { endpointId: options.endpoint } : {}),
      });
      printResult(
        options,
        { ok: true, ...result },
        () => `${result.deliveries} deliveries of ${result.events} events queued; the worker sends them.`,
      );
    }),
  );
}
