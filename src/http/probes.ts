import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import express, { type Request, type Response } from 'express';
import { failureReason } from '../errors.ts';
import type { Logger } from '../log/logger.ts';

/*
 * `/healthz`: the process is up. `/readyz`: the caller's readiness decision (503 naming what is
 * not ready, never an error text: the log has it). `/metrics`: Prometheus text format. With a
 * token, `/readyz` and `/metrics` want `Authorization: Bearer <token>`; `/healthz` stays open.
 * Only the HTTP handling lives here: what "ready" means is the worker's (jobs/health.ts).
 */

export interface ProbeOptions {
  logger: Logger;
  readiness: () => Promise<{ ready: boolean } & Record<string, unknown>>;
  metrics: () => Promise<{ contentType: string; text: string }>;
  /** METRICS_TOKEN: when set, /readyz and /metrics require it. */
  token?: string | undefined;
}

/** Whether the request carries `Authorization: Bearer <token>`, compared in constant time. */
export function hasBearerToken(req: Pick<IncomingMessage, 'headers'>, token: string): boolean {
  const header = req.headers.authorization ?? '';
  const match = /^Bearer (.+)$/i.exec(header);
  if (!match) return false;
  // Hashing first gives equal lengths, so timingSafeEqual leaks neither content nor length.
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(match[1]!), digest(token));
}

export function probesRouter(options: ProbeOptions): express.Router {
  const router = express.Router();
  const json = (res: Response, status: number, body: unknown) => {
    res
      .status(status)
      .set({ 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
    res.send(`${JSON.stringify(body)}\n`);
  };
  const probe = (path: string, handler: (req: Request, res: Response) => void) => {
    router.all(path, (req, res) => {
      if (req.method !== 'GET' && req.method !== 'HEAD')
        return json(res, 405, { error: 'method not allowed' });
      handler(req, res);
    });
  };
  const guarded = (req: Request, res: Response): boolean => {
    if (!options.token || hasBearerToken(req, options.token)) return true;
    res.setHeader('www-authenticate', 'Bearer');
    json(res, 401, { error: 'unauthorized: send Authorization: Bearer <METRICS_TOKEN>' });
    return false;
  };
  probe('/healthz', (_req, res) => json(res, 200, { status: 'ok' }));
  probe('/readyz', (req, res) => {
    if (!guarded(req, res)) return;
    options
      .readiness()
      .then(({ ready, ...rest }) =>
        json(res, ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', ...rest }),
      )
      .catch((error: unknown) => {
        options.logger.warn({ reason: failureReason(error, 500) }, 'readiness check failed');
        json(res, 503, { status: 'not ready' });
      });
  });
  probe('/metrics', (req, res) => {
    if (!guarded(req, res)) return;
    options
      .metrics()
      .then(({ contentType, text }) => {
        res.status(200).set({ 'content-type': contentType, 'cache-control': 'no-store' }).send(text);
      })
      .catch((error: unknown) => {
        options.logger.warn({ err: error }, 'metrics collection failed');
        res.status(500).set('content-type', 'text/plain; charset=utf-8').send('metrics collection failed\n');
      });
  });
  return router;
}
