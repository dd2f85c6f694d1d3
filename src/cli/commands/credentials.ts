import path from 'node:path';
import type { Command } from 'commander';
import type { ServiceContext } from '../../context.ts';
import { readPrivateKeyFile } from '../../credentials/key-file.ts';
import { loadCredentials, saveCredentials } from '../../credentials/store.ts';
import { InvalidInputError, PreconditionError } from '../../errors.ts';
import { type DiscoveredApp, listDiscoveredApps, selectApp, selectedApp } from '../../onboarding/apps.ts';
import { verifyCredentials } from '../../onboarding/verify.ts';
import { type CliContext, runCommand, withJson } from '../context.ts';
import { printResult, renderTable } from '../output.ts';

interface JsonOption {
  json?: boolean;
}

interface SetOptions extends JsonOption {
  keyId: string;
  issuerId: string;
  privateKeyFile: string;
}

/** The API's field names as the options a person typed, so a refusal names what to fix. */
const OPTION_FOR_FIELD: Record<string, string> = {
  keyId: '--key-id',
  issuerId: '--issuer-id',
  privateKey: '--private-key-file',
  privateKeyFile: '--private-key-file',
  project: '<project>',
  appStoreId: '<appStoreId>',
};

function asCliError(error: unknown): unknown {
  if (!(error instanceof InvalidInputError)) return error;
  const option = OPTION_FOR_FIELD[error.field];
  if (!option) return error;
  const prefix = `${error.field}: `;
  const text = error.message.startsWith(prefix) ? error.message.slice(prefix.length) : error.message;
  return new InvalidInputError(option, text);
}

async function serviceContext(context: CliContext): Promise<ServiceContext> {
  const { db } = await context.database();
  return { db, config: context.config, logger: context.logger };
}

function appsTable(apps: DiscoveredApp[], selectedId?: string | null): string {
  return renderTable(
    [
      'App Store ID',
      'Bundle ID',
      'Name',
      'SKU',
      'Primary locale',
      ...(selectedId === undefined ? [] : ['Selected']),
    ],
    apps.map((app) => [
      app.appStoreId,
      app.bundleId,
      app.name,
      app.sku,
      app.primaryLocale,
      ...(selectedId === undefined ? [] : [app.appStoreId === selectedId ? 'yes' : '']),
    ]),
  );
}

export function registerCredentials(program: Command): void {
  const credentials = program.command('credentials').description('App Store Connect API keys');
  withJson(
    credentials
      .command('set <project>')
      .description("check and store a project's API key (Key ID, Issuer ID, .p8)")
      .requiredOption('--key-id <id>', 'the Key ID (10 characters)')
      .requiredOption('--issuer-id <uuid>', 'the Issuer ID')
      .requiredOption('--private-key-file <path>', 'the AuthKey_<KEYID>.p8 file'),
  ).action((project: string, options: SetOptions) =>
    runCommand(options, async (context) => {
      try {
        const privateKey = await readPrivateKeyFile(options.privateKeyFile);
        const ctx = await serviceContext(context);
        const saved = await saveCredentials(ctx, project, {
          keyId: options.keyId,
          issuerId: options.issuerId,
          privateKey,
          fileName: path.basename(options.privateKeyFile),
        });
        const next = `catalog-sync verify ${saved.projectId}`;
        printResult(
          options,
          {
            ok: true,
            projectId: saved.projectId,
            keyId: saved.keyId,
            issuerId: saved.issuerId,
            status: saved.status,
            encryptionKeyId: saved.encryptionKeyId,
            next,
          },
          () =>
            [
              `Stored the App Store Connect API key for project ${saved.projectId}:`,
              `  Key ID     ${saved.keyId}`,
              `  Issuer ID  ${saved.issuerId}`,
              `  .p8        encrypted at rest (encryption key ${saved.encryptionKeyId})`,
              `  Status     ${saved.status}`,
              `Next: check it and fetch the apps it can see with \`${next}\`.`,
            ].join('\n'),
        );
      } catch (error) {
        throw asCliError(error);
      }
    }),
  );

  withJson(program.command('verify <project>').description('Verify & Fetch Apps, inline')).action(
    (project: string, options: JsonOption) =>
      runCommand(options, async (context) => {
        try {
          const ctx = await serviceContext(context);
          const result = await verifyCredentials(ctx, project);
          const projectId = project.trim();
          const ok = result.status === 'valid';
          printResult(options, { ok, projectId, ...result }, () => {
            const lines = [`Project ${projectId}: credentials ${result.status}`];
            if (result.detail) lines.push(result.detail);
            if (result.apps.length > 0) {
              lines.push(`${result.apps.length} app(s) visible to the key:`, appsTable(result.apps));
            }
            if (ok)
              lines.push(
                `Next: bind the project to one app with \`catalog-sync select-app ${projectId} <App Store ID>\`.`,
              );
            return lines.join('\n');
          });
          // The check ran, but the key is not usable: scripts must see a failure.
          if (!ok) process.exitCode = 1;
        } catch (error) {
          throw asCliError(error);
        }
      }),
  );

  withJson(program.command('apps <project>').description('apps seen by the key')).action(
    (project: string, options: JsonOption) =>
      runCommand(options, async (context) => {
        try {
          const ctx = await serviceContext(context);
          const apps = await listDiscoveredApps(ctx, project);
          const selected = await selectedApp(ctx, project);
          const status = await loadCredentials(ctx, project).then(
            (c) => c.status,
            (error: unknown) => {
              if (error instanceof PreconditionError) return null;
              throw error;
            },
          );
          const projectId = project.trim();
          printResult(
            options,
            {
              ok: true,
              projectId,
              credentialStatus: status,
              selectedAppStoreId: selected?.appStoreId ?? null,
              apps,
            },
            () => {
              const head = `Project ${projectId}: credentials ${status ?? 'not set'}`;
              if (apps.length === 0) {
                return `${head}\nNo apps are known for this project yet: run \`catalog-sync verify ${projectId}\`.`;
              }
              return `${head}\n${appsTable(apps, selected?.appStoreId ?? null)}`;
            },
          );
        } catch (error) {
          throw asCliError(error);
        }
      }),
  );

  withJson(
    program.command('select-app <project> <appStoreId>').description('bind the project to one app'),
  ).action((project: string, appStoreId: string, options: JsonOption) =>
    runCommand(options, async (context) => {
      try {
        const ctx = await serviceContext(context);
        const app = await selectApp(ctx, project, appStoreId);
        const projectId = project.trim();
        printResult(
          options,
          { ok: true, projectId, ...app },
          () =>
            `Project ${projectId} is now bound to ${app.name} (bundle ID ${app.bundleId}, App Store ID ${app.appStoreId}).\n` +
            `Next: sync its catalog with \`catalog-sync sync ${projectId}\`.`,
        );
      } catch (error) {
        throw asCliError(error);
      }
    }),
  );
}
