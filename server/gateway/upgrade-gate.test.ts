// The upgrade gate on a real HTTP server with real TCP sockets: upgrades that arrive together
// are handed to the listeners behind it a share per turn of the event loop, in arrival order;
// the share follows how long the loop's turns take; a socket that goes away while it waits is
// never handed over.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { io as ioClient } from 'socket.io-client';
import { Server as IoServer } from 'socket.io';
import { gateUpgrades } from './upgrade-gate.js';

const servers: Server[] = [];
const clientSockets: Socket[] = [];
const serverSockets: Socket[] = [];
afterEach(async () => {
  for (const s of [...clientSockets.splice(0), ...serverSockets.splice(0)]) s.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function listening(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  servers.push(server);
  server.on('connection', (s: Socket) => serverSockets.push(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port };
}

/** n server-side sockets of real connections, each with its upgrade request, once all are in. */
async function upgrades(n: number): Promise<{ req: IncomingMessage; socket: Duplex }[]> {
  const { server, port } = await listening();
  const arrived: { req: IncomingMessage; socket: Duplex }[] = [];
  const all = new Promise<void>((resolve) =>
    server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
      arrived.push({ req, socket });
      if (arrived.length === n) resolve();
    }),
  );
  for (let i = 0; i < n; i++) {
    const c = connect(port, '127.0.0.1');
    clientSockets.push(c);
    c.write(`GET /x?i=${i} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`);
  }
  await all;
  server.removeAllListeners('upgrade');
  return arrived;
}

/** A fresh server with the gate in front of `listener`; `deliver` emits upgrades into it. */
async function gated(listener: (req: IncomingMessage, socket: Duplex) => void, turnTargetMs?: number) {
  const { server } = await listening();
  server.on('upgrade', listener);
  const gate = gateUpgrades(server, turnTargetMs === undefined ? {} : { turnTargetMs });
  return {
    gate,
    deliver: (list: { req: IncomingMessage; socket: Duplex }[]) => {
      for (const { req, socket } of list) server.emit('upgrade', req, socket, Buffer.alloc(0));
    },
  };
}

const turn = () => new Promise<void>((r) => setImmediate(r));
const busy = (ms: number) => {
  const end = performance.now() + ms;
  while (performance.now() < end);
};

describe('upgrade gate', () => {
  it('hands upgrades that arrived in one turn over a few per turn, in arrival order', async () => {
    const list = await upgrades(60);
    const handed: string[] = [];
    const perTurn: number[] = [];
    const { gate, deliver } = await gated((req) => handed.push(req.url!), 10_000);
    deliver(list);
    expect(handed).toHaveLength(0); // nothing runs in the poll phase that read them
    expect(gate.waiting()).toBe(60);
    let before = 0;
    while (handed.length < 60) {
      await turn();
      perTurn.push(handed.length - before);
      before = handed.length;
    }
    // Ungated, all 60 would be handed over at once; here 8 first, then a growing share.
    expect(perTurn[0]).toBe(8);
    expect(perTurn.length).toBeGreaterThan(3);
    for (let i = 1; i < perTurn.length - 1; i++) expect(perTurn[i]).toBeGreaterThan(perTurn[i - 1]!);
    expect(handed).toEqual(list.map((u) => u.req.url));
    expect(gate.waiting()).toBe(0);
  });

  it('halves the share after a turn longer than the target', async () => {
    const list = await upgrades(40);
    let handed = 0;
    // Each upgrade costs 2 ms: the first turn's 8 take 16 ms, over the 5 ms target.
    const { deliver } = await gated(() => {
      handed++;
      busy(2);
    }, 5);
    deliver(list);
    await turn();
    expect(handed).toBe(8);
    await turn();
    expect(handed).toBe(12);
    await turn();
    expect(handed).toBe(14);
  });

  it('never hands over a socket that closed while it waited, and survives its errors', async () => {
    const list = await upgrades(20);
    const handed: string[] = [];
    const { deliver } = await gated((req) => handed.push(req.url!), 10_000);
    deliver(list);
    // While they wait: one resets with an error (no listener of Node's is left on it), one closes.
    list[10]!.socket.emit('error', new Error('ECONNRESET'));
    list[11]!.socket.destroy();
    while (handed.length < 18) await turn();
    for (let i = 0; i < 5; i++) await turn();
    expect(handed).toHaveLength(18);
    expect(handed).not.toContain(list[10]!.req.url);
    expect(handed).not.toContain(list[11]!.req.url);
  });

  it('lets a burst of Socket.IO clients through: every one connects', async () => {
    const { server, port } = await listening();
    const io = new IoServer(server);
    gateUpgrades(server);
    const clients = Array.from({ length: 150 }, () =>
      ioClient(`http://127.0.0.1:${port}`, { transports: ['websocket'], reconnection: false, forceNew: true }),
    );
    try {
      await Promise.all(clients.map((c) => new Promise<void>((resolve, reject) => (c.once('connect', resolve), c.once('connect_error', reject)))));
      expect(io.of('/').sockets.size).toBe(150);
    } finally {
      for (const c of clients) c.close();
      io.close();
    }
  });
});
