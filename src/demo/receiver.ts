import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

/*
 * The platform's side of the webhooks, as a platform would write it: a loopback HTTP server that
 * verifies every request with the standardwebhooks package before trusting it.
 */

export interface ReceivedEvent {
  id: string;
  type: string;
  verified: boolean;
  data: Record<string, unknown>;
}

export interface DemoReceiver {
  url: string;
  received: ReceivedEvent[];
  /** The secret to verify with, once the endpoint is registered. */
  setSecret(secret: string): void;
  close(): Promise<void>;
}

export async function startDemoReceiver(): Promise<DemoReceiver> {
  let secret: string | undefined;
  const received: ReceivedEvent[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      try {
        if (!secret) throw new Error('no secret yet');
        const body = new Webhook(secret).verify(
          Buffer.concat(chunks).toString('utf8'),
          req.headers as Record<string, string>,
        ) as {
          id: string;
          type: string;
          data: Record<string, unknown>;
        };
        received.push({ id: body.id, type: body.type, verified: true, data: body.data });
        res.writeHead(204).end();
      } catch {
        res.writeHead(400).end('signature did not verify');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/catalog-sync/events`,
    received,
    setSecret: (value) => {
      secret = value;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
