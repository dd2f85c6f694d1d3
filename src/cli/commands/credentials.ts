import type { Command } from 'commander';
import { AppError } from '../../errors.ts';
import { runCommand, withJson } from '../context.ts';

// Stub: the issue that owns these commands replaces this module.
const notYet = (options: { json?: boolean }) =>
  runCommand(options, async () => {
    throw new AppError('not_implemented', 'This command is not implemented yet.');
  });

export function registerCredentials(program: Command): void {
  const credentials = program.command('credentials').description('App Store Connect API keys');
  withJson(
    credentials
      .command('set <project>')
      .description("check and store a project's API key (Key ID, Issuer ID, .p8)")
      .requiredOption('--key-id <id>', 'the Key ID (10 characters)')
      .requiredOption('--issuer-id <uuid>', 'the Issuer ID')
      .requiredOption('--private-key-file <path>', 'the AuthKey_<KEYID>.p8 file'),
  ).action(notYet);
  withJson(program.command('verify <project>').description('Verify & Fetch Apps, inline')).action(notYet);
  withJson(program.command('apps <project>').description('apps seen by the key')).action(notYet);
  withJson(
    program.command('select-app <project> <appStoreId>').description('bind the project to one app'),
  ).action(notYet);
}
