import path from 'node:path';
import type { Command } from 'commander';
import type { DiscoveredApp } from '../../onboarding/apps.ts';
import { printResult, renderTable } from '../output.ts';
import { type JsonOption, runCommand, withJson } from '../run.ts';

/*
 * Onboarding: `credentials set`, `verify`, `apps`, `select-app`. Each parses its arguments, calls
 * the application layer (src/app/credentials.ts) and renders; nothing else.
 */

interface SetOptions extends JsonOption {
  keyId: string;
  issuerId: string;
  privateKeyFile: string;
  enqueue: boolean;
}

function appsTable(apps: DiscoveredApp[], selectedId?: string | null): string {
  const withSelected = selectedId !== undefined;
  return renderTable(
    ['App Store ID', 'Bundle ID', 'Name', 'SKU', 'Primary locale', ...(withSelected ? ['Selected'] : [])],
    apps.map((app) => [
      app.appStoreId,
      app.bundleId,
      app.name,
      app.sku,
      app.primaryLocale,
      ...(withSelected ? [app.appStoreId === selectedId ? 'yes' : ''] : []),
    ]),
  );
}

export function registerCredentials(program: Command): void {
  const credentials = program.command('credentials').description('App Store Connect API keys');
  withJson(
    credentials
      .command('set <project>')
      .description(
        "check and store a project's API key (Key ID, Issuer ID, .p8), then queue its verification " +
          '(and a sync when an app is selected)',
      )
      .requiredOption('--key-id <id>', 'the Key ID (10 characters)')
      .requiredOption('--issuer-id <uuid>', 'the Issuer ID')
      .requiredOption('--private-key-file <path>', 'the AuthKey_<KEYID>.p8 file')
      .option('--no-enqueue', 'store the key only; queue nothing (no Redis needed)'),
  ).action((project: string, options: SetOptions) =>
    runCommand(options, async (cli) => {
      const { readPrivateKeyFile } = await import('../../credentials/key-file.ts');
      const { saveCredentials } = await import('../../app/credentials.ts');
      const privateKey = await readPrivateKeyFile(options.privateKeyFile);
      const saved = await saveCredentials(await cli.app(), {
        projectId: project,
        keyId: options.keyId,
        issuerId: options.issuerId,
        privateKey,
        fileName: path.basename(options.privateKeyFile),
        enqueue: options.enqueue,
      });
      const next = saved.verification
        ? `catalog-sync status ${saved.projectId}`
        : `catalog-sync verify ${saved.projectId}`;
      printResult(options, { ok: true, ...saved, next }, () =>
        [
          `Stored the App Store Connect API key for project ${saved.projectId}:`,
          `  Key ID     ${saved.keyId}`,
          `  Issuer ID  ${saved.issuerId}`,
          `  .p8        encrypted at rest (encryption key ${saved.encryptionKeyId})`,
          `  Status     ${saved.status}`,
          saved.verification
            ? `Queued its verification (job ${saved.verification.jobId})` +
              (saved.sync ? ` and a sync (job ${saved.sync.jobId}).` : '.')
            : 'Nothing was queued (--no-enqueue).',
          saved.verification
            ? `Next: a worker checks it; follow with \`${next}\`, or check it here with \`catalog-sync verify ${saved.projectId}\`.`
            : `Next: check it and fetch the apps it can see with \`${next}\`.`,
        ].join('\n'),
      );
    }),
  );

  withJson(program.command('verify <project>').description('Verify & Fetch Apps, inline')).action(
    (project: string, options: JsonOption) =>
      runCommand(options, async (cli) => {
        const { verifyCredentials } = await import('../../app/credentials.ts');
        const result = await verifyCredentials(await cli.app(), { projectId: project });
        const ok = result.status === 'valid';
        printResult(options, { ok, ...result }, () => {
          const lines = [`Project ${result.projectId}: credentials ${result.status}`];
          if (result.detail) lines.push(result.detail);
          if (result.apps.length > 0) {
            lines.push(`${result.apps.length} app(s) visible to the key:`, appsTable(result.apps));
          }
          if (ok) {
            lines.push(
              `Next: bind the project to one app with \`catalog-sync select-app ${result.projectId} <App Store ID>\`.`,
            );
          }
          return lines.join('\n');
        });
        // The check ran, but the key is not usable: scripts must see a failure.
        if (!ok) process.exitCode = 1;
      }),
  );

  withJson(program.command('apps <project>').description('apps seen by the key')).action(
    (project: string, options: JsonOption) =>
      runCommand(options, async (cli) => {
        const { listApps } = await import('../../app/credentials.ts');
        const listing = await listApps(await cli.app(), { projectId: project });
        printResult(options, { ok: true, ...listing }, () => {
          const head = `Project ${listing.projectId}: credentials ${listing.credentialStatus ?? 'not set'}`;
          if (listing.apps.length === 0) {
            return `${head}\nNo apps are known for this project yet: run \`catalog-sync verify ${listing.projectId}\`.`;
          }
          return `${head}\n${appsTable(listing.apps, listing.selectedAppStoreId)}`;
        });
      }),
  );

  withJson(
    program.command('select-app <project> <appStoreId>').description('bind the project to one app'),
  ).action((project: string, appStoreId: string, options: JsonOption) =>
    runCommand(options, async (cli) => {
      const { selectApp } = await import('../../app/credentials.ts');
      const app = await selectApp(await cli.app(), { projectId: project, appStoreId });
      printResult(
        options,
        { ok: true, ...app },
        () =>
          `Project ${app.projectId} is now bound to ${app.name} (bundle ID ${app.bundleId}, App Store ID ${app.appStoreId}).\n` +
          `Next: sync its catalog with \`catalog-sync sync ${app.projectId}\`.`,
      );
    }),
  );
}
