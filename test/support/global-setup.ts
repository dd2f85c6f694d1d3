import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import postgres from 'postgres';
import type { TestProject } from 'vitest/node';
import { migrateDatabase, migrationsFolder } from '../../db/migrate.ts';
import { databaseUrl, findServices } from './services.ts';

export { databaseUrl };

declare module 'vitest' {
  export interface ProvidedContext {
    adminDatabaseUrl: string;
    templateDatabase: string;
    redisUrl: string;
    runId: string;
  }
}

/** The template's name follows the migrations' content, so a schema change builds a new one. */
function templateName(): string {
  const folder = migrationsFolder();
  const hash = createHash('sha256');
  for (const file of readdirSync(folder)
    .filter((f) => f.endsWith('.sql'))
    .sort()) {
    hash.update(file).update(readFileSync(path.join(folder, file)));
  }
  return `catalog_sync_tpl_${hash.digest('hex').slice(0, 12)}`;
}

export default async function setup(project: TestProject) {
  const services = await findServices();
  const template = templateName();
  const runId = randomBytes(3).toString('hex');
  const admin = postgres(services.adminDatabaseUrl, { max: 1, onnotice: () => {} });
  try {
    // Several test runs may start together (developers, CI): build the template once, under a lock.
    await admin`select pg_advisory_lock(7243002)`;
    const [existing] = await admin`select 1 from pg_database where datname = ${template}`;
    if (!existing) {
      const building = `${template}_building_${runId}`;
      await admin.unsafe(`drop database if exists "${building}"`);
      await admin.unsafe(`create database "${building}"`);
      await migrateDatabase({ databaseUrl: databaseUrl(services.adminDatabaseUrl, building) });
      await admin.unsafe(`alter database "${building}" rename to "${template}"`);
    }
    await admin`select pg_advisory_unlock(7243002)`;
  } finally {
    await admin.end();
  }
  project.provide('adminDatabaseUrl', services.adminDatabaseUrl);
  project.provide('templateDatabase', template);
  project.provide('redisUrl', services.redisUrl);
  project.provide('runId', runId);

  return async () => {
    // Drop whatever this run's files left behind (a crashed file skips its own afterAll).
    const cleanup = postgres(services.adminDatabaseUrl, { max: 1, onnotice: () => {} });
    try {
      const rows = await cleanup`select datname from pg_database where datname like ${`cst_${runId}_%`}`;
      for (const row of rows) await cleanup.unsafe(`drop database if exists "${row.datname}" with (force)`);
    } finally {
      await cleanup.end();
    }
    await services.stop();
  };
}
