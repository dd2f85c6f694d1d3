import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

/*
 * A platform's webhook receiver, on loopback: every request is verified with the standardwebhooks
 * package exactly as a receiver would (`Webhook.verify` with the endpoint's secret), then recorded.
 * Per path: the secret to verify with and how to answer (ok, an HTTP status, or hang).
 */

export type Mode = 'ok' | 'hang' | number;

export interface Received {
  path: string;
  id: string;
  type: string;
  projectId: string | null;
  data: Record<string, unknown>;
  verified: boolean;
  /** What the receiver answered (undefined: it never answered). */
  answered: number | undefined;
  headers: http.IncomingHttpHeaders;
  raw: string;
  /** The envelope's per-project sequence number. */
  sequence: number | undefined;
  /** When the request arrived (ms since the epoch). */
  at: number;
}

/** Overrides a path's mode for some requests (by their verified body); undefined: the path's mode. */
export type Rule = (body: Record<string, unknown>) => Mode | undefined;

export interface Receiver {
  port: number;
  url(path: string): string;
  received: Received[];
  /** Requests answered 2xx for `path`. */
  acknowledged(path: string): Received[];
  route(path: string, secret: string, mode?: Mode): void;
  setMode(path: string, mode: Mode): void;
  /** Answers the requests `rule` picks its own way (null: no rule). */
  setRule(path: string, rule: Rule | null): void;
  close(): Promise<void>;
}

export async function startReceiver(
  options: { port?: number; received?: Received[] } = {},
): Promise<Receiver> {
  const routes = new Map<string, { secrets: string[]; mode: Mode; rule?: Rule | null }>();
  const received = options.received ?? [];
  const hanging = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const path = req.url ?? '/';
      const route = routes.get(path);
      let verified = false;
      let body: Record<string, unknown> = {};
      for (const secret of route?.secrets ?? []) {
        try {
          body = new Webhook(secret).verify(raw, req.headers as Record<string, string>) as Record<
            string,
            unknown
          >;
          verified = true;
          break;
        } catch {
          // try the next secret
        }
      }
      const mode = (verified ? route?.rule?.(body) : undefined) ?? route?.mode ?? 404;
      const status = !verified ? 400 : mode === 'ok' ? 200 : mode === 'hang' ? undefined : mode;
      received.push({
        path,
        id: String(req.headers['webhook-id']),
        type: String(body['type'] ?? ''),
        projectId: (body['projectId'] as string | null) ?? null,
        data: (body['data'] as Record<string, unknown>) ?? {},
        verified,
        answered: status,
        headers: req.headers,
        raw,
        sequence: typeof body['sequence'] === 'number' ? body['sequence'] : undefined,
        at: Date.now(),
      });
      if (status === undefined) {
        hanging.add(res);
        return;
      }
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : `status ${status}`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: (path) => `http://127.0.0.1:${port}${path}`,
    received,
    acknowledged: (path) =>
      received.filter((r) => r.path === path && r.answered !== undefined && r.answered < 300),
    route(path, secret, mode = 'ok') {
      const existing = routes.get(path);
      routes.set(path, { secrets: [secret, ...(existing?.secrets ?? [])], mode });
    },
    setMode(path, mode) {
      const route = routes.get(path);
      if (route) route.mode = mode;
    },
    setRule(path, rule) {
      const route = routes.get(path);
      if (route) route.rule = rule;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
