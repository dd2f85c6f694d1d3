import type { Db } from '../db/client.ts';
import type { Config } from './config/env.ts';
import type { Logger } from './log/logger.ts';

/** What the domain operations need from the outside world, passed explicitly (no globals). */
export interface ServiceContext {
  db: Db;
  config: Config;
  logger: Logger;
}
