import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { InvalidInputError } from '../errors.ts';
import type { Logger } from '../log/logger.ts';
import { type ProbeOptions, probesRouter } from './probes.ts';
import { problem, sendProblem } from './problem.ts';

/*
 * The one HTTP server of the service, on express: the probes (/healthz, /readyz, /metrics), the
 * HTTP API (/api/v1) and mounted handlers such as the operator console (/console, with Bull
 * Board). The worker serves it on METRICS_PORT; `catalog-sync serve` and `catalog-sync console`
 * serve it on their own. Each part is optional: the caller says what this process offers.
 */

/** A handler mounted under a path prefix; it sees the whole URL (e.g. the console under /console). */
export interface MountedRoute {
  prefix: string;
  handle(req: IncomingMessage, res: ServerResponse): void;
}

export interface HttpAppOptions {
  logger: Logger;
  probes?: ProbeOptions;
  /** The API's router (src/http/api), mounted at /api/v1. */
  api?: express.Router;
  mounts?: MountedRoute[];
  /** Where `GET /` sends a browser (the console's first page), if anywhere. */
  home?: string;
}

export function createHttpApp(options: HttpAppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  // Query strings are parsed flat (`a[b]=1` stays a key): the API's schemas name every field.
  app.set('query parser', 'simple');
  for (const mount of options.mounts ?? []) {
    app.use((req: Request, res: Response, next: NextFunction) => {
      const path = req.path;
      if (path === mount.prefix || path.startsWith(`${mount.prefix}/`)) return mount.handle(req, res);
      next();
    });
  }
  if (options.api) app.use('/api/v1', options.api);
  if (options.probes) app.use(probesRouter(options.probes));
  if (options.home) {
    const home = options.home;
    app.get('/', (_req, res) => res.redirect(303, home));
  }
  const endpoints = [
    ...(options.probes ? ['/healthz', '/readyz', '/metrics'] : []),
    ...(options.api ? ['/api/v1', '/api/v1/openapi.json'] : []),
    ...(options.mounts ?? []).map((m) => m.prefix),
  ];
  app.use((_req: Request, res: Response) => {
    sendProblem(
      res,
      problem(404, 'not_found', `No such endpoint; this server answers ${endpoints.join(', ')}.`),
    );
  });
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    options.logger.error({ err: error }, 'HTTP request failed');
    if (res.headersSent) return res.end();
    sendProblem(
      res,
      problem(500, 'internal', 'The request failed unexpectedly; the service log has the details.'),
    );
  });
  return app;
}

export interface Listening {
  server: Server;
  port: number;
  close(): Promise<void>;
}

/** Listens on host:port (0 picks a free port); a port in use is an InvalidInputError on `port`. */
export async function listen(app: Express, port: number, host: string): Promise<Listening> {
  const { createServer } = await import('node:http');
  const server = createServer(app);
  // A scrape or API call in flight must not hold a shutting-down process.
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new InvalidInputError(
              'port',
              `${port} is already in use; choose another port (0 picks a free one).`,
            )
          : error,
      );
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  return {
    server,
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
