import type { Command } from 'commander';
import { runCommand, withJson } from '../run.ts';
import type { SimulatorOptions } from './simulator-run.ts';

export const DEFAULT_SIMULATOR_PORT = 4010;

export function registerSimulator(program: Command): void {
  withJson(
    program
      .command('simulator')
      .description('run the App Store Connect simulator')
      .option('--port <n>', `port to listen on (default ${DEFAULT_SIMULATOR_PORT}; 0 picks a free one)`)
      .option('--catalog <file>', 'catalog JSON file')
      .option('--host <address>', 'interface to listen on (default 127.0.0.1; 0.0.0.0 in a container)')
      .option('--public-url <url>', 'base URL put in links (default: from the request Host header)'),
  ).action((options: SimulatorOptions) =>
    runCommand(options, async (cli) => (await import('./simulator-run.ts')).runSimulator(cli, options)),
  );
}
