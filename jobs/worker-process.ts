// First: the worker's modules below load drizzle-orm (why: the module's comment). They are
// imported dynamically because an ES module's static imports are all resolved before any runs.
import '../src/startup/resolve-hook.ts';

/*
 * The entry point of each child of `catalog-sync worker --processes N` (node:cluster runs this
 * file, not the CLI): it loads only the worker, not every command the CLI offers (the simulator,
 * the operator queries…), so N children do not each pay for them in start-up and memory.
 * The supervisor has already validated the configuration.
 */
const { loadConfig } = await import('../src/config/env.ts');
const { createLogger, setLogger } = await import('../src/log/logger.ts');
const { runWorkerChild } = await import('./supervisor.ts');

const config = loadConfig();
// As the CLI does: logs on stderr.
const logger = createLogger({ level: config.log.level, format: config.log.format, fd: 2 });
setLogger(logger);
let code = 1;
try {
  code = await runWorkerChild(config, logger);
} catch (error) {
  logger.error({ err: error }, 'worker process failed');
}
process.exitCode = code;
// Everything is closed; a stray handle must not keep the child alive.
setTimeout(() => process.exit(code), 2_000).unref();
