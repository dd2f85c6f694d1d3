import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { closeSharedAgents } from '../../../src/appstore/agents.ts';
import { createAppStoreClient } from '../../../src/appstore/client.ts';
import { app, captureLogger, sendJson, testKey } from './support/local-server.ts';

/*
 * The keep-alive agents are per process and per origin: clients share connections, a client's
 * close() leaves them open for the others, and closeSharedAgents() ends them.
 */

interface CountingServer {
  baseUrl: string;
  /** Every TCP connection the server accepted, in order. */
  sockets: Socket[];
  /** Connections still open. */
  open(): number;
  close(): Promise<void>;
}

const servers: CountingServer[] = [];

afterEach(async () => {
  closeSharedAgents();
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

const answer = (req: http.IncomingMessage, res: http.ServerResponse, id = '1') =>
  sendJson(res, 200, { data: [app(id)], links: { self: req.url } });

async function countingServer(
  handler: (req: http.IncomingMessage, res: http.ServerResponse) => void = answer,
): Promise<CountingServer> {
  const server = http.createServer(handler);
  const sockets: Socket[] = [];
  server.on('connection', (socket: Socket) => sockets.push(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const counting: CountingServer = {
    baseUrl: `http://127.0.0.1:${port}`,
    sockets,
    open: () => sockets.filter((socket) => !socket.destroyed).length,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  servers.push(counting);
  return counting;
}

function client(baseUrl: string) {
  return createAppStoreClient({
    baseUrl,
    keyId: 'ABCDE12345',
    issuerId: '57246542-96fe-1a63-e053-0824d011072a',
    loadPrivateKey: async () => testKey,
    maxRetries: 0,
    logger: captureLogger('silent').logger,
  });
}

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 2_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('shared keep-alive agents', () => {
  it('lets two clients of the same server reuse one connection, even after one is closed', async () => {
    const server = await countingServer();
    const first = client(server.baseUrl);
    const second = client(server.baseUrl);

    expect(await first.listApps()).toHaveLength(1);
    expect(await second.listApps()).toHaveLength(1);
    expect(server.sockets).toHaveLength(1);

    // A client's close() stops that client only: the shared socket stays open for the others.
    first.close();
    const third = client(server.baseUrl);
    expect(await third.listApps()).toHaveLength(1);
    expect(await second.listApps()).toHaveLength(1);
    expect(server.sockets).toHaveLength(1);
    expect(server.open()).toBe(1);

    // Stats stay per client.
    expect(first.stats().requests).toBe(1);
    expect(second.stats().requests).toBe(2);
    expect(third.stats().requests).toBe(1);
  });

  it('keeps separate connections per origin', async () => {
    const one = await countingServer();
    const two = await countingServer();
    await client(one.baseUrl).listApps();
    await client(two.baseUrl).listApps();
    await client(one.baseUrl).listApps();
    expect(one.sockets).toHaveLength(1);
    expect(two.sockets).toHaveLength(1);
  });

  it('closeSharedAgents() closes the shared connections; later clients open new ones', async () => {
    const server = await countingServer();
    await client(server.baseUrl).listApps();
    await client(server.baseUrl).listApps();
    expect(server.sockets).toHaveLength(1);
    expect(server.open()).toBe(1);

    closeSharedAgents();
    await waitFor(() => server.open() === 0, 'the server to see the connection close');

    expect(await client(server.baseUrl).listApps()).toHaveLength(1);
    expect(server.sockets).toHaveLength(2);
    expect(server.open()).toBe(1);
  });

  it('closeSharedAgents() lets requests in flight finish, then closes their connections', async () => {
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let requests = 0;
    const server = await countingServer((req, res) => {
      requests++;
      if (req.url?.includes('hold')) void held.then(() => answer(req, res));
      else answer(req, res);
    });
    const busy = client(server.baseUrl);
    const idle = client(server.baseUrl);

    const pending = busy.getDocument('/v1/apps', { hold: 1 }, z.unknown());
    await waitFor(() => requests === 1, 'the held request');
    await idle.listApps();
    expect(server.sockets).toHaveLength(2);

    closeSharedAgents();
    await waitFor(() => server.open() === 1, 'the idle connection to close');
    release();
    expect(await pending).toMatchObject({ data: [{ id: '1' }] });
    expect(busy.stats().byStatus).toEqual({ '200': 1 });
    await waitFor(() => server.open() === 0, 'the connection to close once its response ended');
  });
});

describe('client.close()', () => {
  it('refuses later requests without reaching the server', async () => {
    const server = await countingServer();
    const closed = client(server.baseUrl);
    closed.close();
    const error = await closed.listApps().catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: 'client_closed' });
    expect(server.sockets).toHaveLength(0);
  });

  it('aborts its own requests in flight, not those of other clients', async () => {
    const waiting: { req: http.IncomingMessage; res: http.ServerResponse }[] = [];
    const server = await countingServer((req, res) => void waiting.push({ req, res }));
    const stopped = client(server.baseUrl);
    const other = client(server.baseUrl);
    const stoppedRequest = stopped.listApps().catch((e: unknown) => e);
    const otherRequest = other.listApps();
    await waitFor(() => waiting.length === 2, 'both requests');

    stopped.close();
    expect(await stoppedRequest).toMatchObject({ kind: 'client_closed' });
    await waitFor(() => server.open() === 1, 'the aborted request to drop its connection');
    for (const { req, res } of waiting) if (!res.destroyed) answer(req, res, '2');
    expect(await otherRequest).toEqual([expect.objectContaining({ id: '2' })]);
  });
});
