// Foundation (#2): two real gateway nodes on one Redis. Handshake authentication, the generic
// handler's error shape, cross-node room emits, token expiry, health and readiness.
import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, disconnected, nextEvent, type ConnectError } from './support/clients.js';
import { startCluster, type Cluster } from './support/cluster.js';
import { TEST_SECRET } from './support/tokens.js';

const AUD = 'relaygate-test';
let cluster: Cluster;

beforeAll(async () => {
  cluster = await startCluster({ nodes: 2, env: { JWT_AUDIENCE: AUD } });
});
afterAll(() => cluster?.close());

const sign = (claims: object, opts: jwt.SignOptions = {}, secret = TEST_SECRET) =>
  jwt.sign({ aud: AUD, ...claims }, secret, { algorithm: 'HS256', expiresIn: 60, ...opts });

async function refusal(url: string, token: string | undefined): Promise<ConnectError> {
  try {
    const s = await connectClient(url, token);
    s.close();
  } catch (err) {
    return err as ConnectError;
  }
  throw new Error('connection was accepted');
}

describe('handshake', () => {
  it('accepts a valid token on both nodes', async () => {
    for (const node of cluster.nodes) {
      const socket = await connectClient(node.url, sign({ sub: 'alice' }));
      expect(socket.connected).toBe(true);
      socket.close();
    }
  });

  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const bad: [string, () => string | undefined][] = [
    ['missing', () => undefined],
    ['malformed', () => 'definitely-not-a-jwt'],
    ['expired', () => jwt.sign({ sub: 'alice', aud: AUD, exp: Math.floor(Date.now() / 1000) - 5 }, TEST_SECRET)],
    ['wrong secret', () => sign({ sub: 'alice' }, {}, 'another-secret')],
    ['alg none', () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'alice', aud: AUD, exp: Math.floor(Date.now() / 1000) + 60 })}.`],
    ['wrong aud', () => jwt.sign({ sub: 'alice', aud: 'someone-else' }, TEST_SECRET, { expiresIn: 60 })],
  ];
  it.each(bad)('refuses a %s token with connect_error UNAUTHENTICATED on both nodes', async (_name, make) => {
    for (const node of cluster.nodes) {
      const err = await refusal(node.url, make());
      expect(err.data?.code).toBe('UNAUTHENTICATED');
    }
  });
});

describe('events', () => {
  it('an invalid payload gets INVALID_ARGUMENT naming the field, and the socket stays usable', async () => {
    const socket = await connectClient(cluster.nodes[0]!.url, sign({ sub: 'bob' }));
    const res = await socket.emitWithAck('conversation:create', { type: 'group', title: 42 } as never);
    expect(res).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT', field: 'title' } });
    const res2 = await socket.emitWithAck('message:send', { conversationId: { $ne: null }, clientMsgId: 'x', kind: 'text', text: 'hi' } as never);
    expect(res2).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT', field: 'conversationId' } });
    // Still connected and served.
    const ok = await socket.emitWithAck('conversation:create', { type: 'group', title: 'after the bad one' });
    expect(ok.ok).toBe(true);
    expect(socket.connected).toBe(true);
    socket.close();
  });

  it('an unknown event with an ack gets INVALID_ARGUMENT', async () => {
    const socket = await connectClient(cluster.nodes[1]!.url, sign({ sub: 'bob' }));
    const res = await (socket as unknown as { emitWithAck(e: string, p: unknown): Promise<unknown> }).emitWithAck('admin:dropEverything', {});
    expect(res).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
    socket.close();
  });

  it('a server-side emit to a room reaches a client connected to the other node', async () => {
    const carol = await connectClient(cluster.nodes[1]!.url, sign({ sub: 'carol' }));
    const got = nextEvent(carol, 'typing');
    cluster.nodes[0]!.app.io!.to('u:carol').emit('typing', { conversationId: 'c1', userId: 'zed', typing: true });
    expect(await got).toEqual({ conversationId: 'c1', userId: 'zed', typing: true });
    carol.close();
  });

  it('a token that expires while connected ends the socket with session:expired', async () => {
    // Valid long enough for a handshake on a loaded machine, short enough to wait for.
    const exp = Math.floor(Date.now() / 1000) + 4;
    const socket = await connectClient(cluster.nodes[0]!.url, jwt.sign({ sub: 'dave', aud: AUD, exp }, TEST_SECRET));
    const expired = nextEvent(socket, 'session:expired', 15_000);
    const gone = disconnected(socket, 15_000);
    await expired;
    // Not before `exp` (same clock), and soon after it.
    expect(Date.now()).toBeGreaterThanOrEqual(exp * 1000);
    expect(await gone).toBe('io server disconnect');
    expect(Date.now()).toBeLessThan(exp * 1000 + 5_000);
  });
});

describe('health', () => {
  it('serves /healthz and /readyz on every node', async () => {
    for (const node of cluster.nodes) {
      expect((await fetch(`${node.url}/healthz`)).status).toBe(200);
      const ready = await fetch(`${node.url}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ status: 'ready', failing: [] });
    }
  });
});
