import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';

/**
 * Where the integration tests find Postgres and Redis, in order:
 * TEST_DATABASE_URL / TEST_REDIS_URL; the local services on their standard ports;
 * testcontainers when Docker is available; otherwise one error naming these options.
 */
export interface Services {
  /** A URL to a database the tests may create databases from (a superuser or CREATEDB role). */
  adminDatabaseUrl: string;
  redisUrl: string;
  stop(): Promise<void>;
}

const LOCAL_POSTGRES = 'postgres://postgres@127.0.0.1:5432/postgres';
const LOCAL_REDIS = 'redis://127.0.0.1:6379';

/** Whether something accepts TCP connections at the URL's host and port. */
export function answers(url: string, fallbackPort: number, timeoutMs = 1000): Promise<boolean> {
  const parsed = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: parsed.hostname, port: Number(parsed.port || fallbackPort) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** The same server's URL for another database. */
export function databaseUrl(adminUrl: string, database: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

function dockerAvailable(): boolean {
  if (!existsSync('/var/run/docker.sock') && !process.env.DOCKER_HOST) return false;
  try {
    execFileSync('docker', ['info'], { stdio: 'ignore', timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}

export async function findServices(): Promise<Services> {
  let adminDatabaseUrl = process.env.TEST_DATABASE_URL;
  let redisUrl = process.env.TEST_REDIS_URL;
  if (!adminDatabaseUrl && (await answers(LOCAL_POSTGRES, 5432))) adminDatabaseUrl = LOCAL_POSTGRES;
  if (!redisUrl && (await answers(LOCAL_REDIS, 6379))) redisUrl = LOCAL_REDIS;
  if (adminDatabaseUrl && redisUrl) return { adminDatabaseUrl, redisUrl, stop: async () => {} };

  if (dockerAvailable()) {
    const { GenericContainer, Wait } = await import('testcontainers');
    const started: { stop(): Promise<unknown> }[] = [];
    if (!adminDatabaseUrl) {
      const pg = await new GenericContainer('postgres:17-alpine')
        .withEnvironment({ POSTGRES_HOST_AUTH_METHOD: 'trust' })
        .withExposedPorts(5432)
        .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
        .start();
      started.push(pg);
      adminDatabaseUrl = `postgres://postgres@${pg.getHost()}:${pg.getMappedPort(5432)}/postgres`;
    }
    if (!redisUrl) {
      const redis = await new GenericContainer('redis:7-alpine')
        .withCommand(['redis-server', '--maxmemory-policy', 'noeviction'])
        .withExposedPorts(6379)
        .start();
      started.push(redis);
      redisUrl = `redis://${redis.getHost()}:${redis.getMappedPort(6379)}`;
    }
    return {
      adminDatabaseUrl: adminDatabaseUrl!,
      redisUrl: redisUrl!,
      stop: async () => {
        await Promise.all(started.map((container) => container.stop()));
      },
    };
  }

  const missing = [!adminDatabaseUrl && 'Postgres', !redisUrl && 'Redis'].filter(Boolean).join(' and ');
  throw new Error(
    `Integration tests need ${missing}, and none was found. Either set TEST_DATABASE_URL / TEST_REDIS_URL, ` +
      'or run Postgres on 127.0.0.1:5432 (user postgres, trust auth) and Redis on 127.0.0.1:6379, ' +
      'or make Docker available so testcontainers can start them.',
  );
}
