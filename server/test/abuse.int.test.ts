// Abuse (#6) over real sockets on two nodes: hostile payloads at every event, authorisation
// for outsiders and plain members, rate limits that hold across nodes, foreign origins and
// oversized frames.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { CLIENT_EVENT_NAMES, ERROR_CODES, type ClientEventName } from '../../protocol/index.js';
import { DEFAULT_LIMITS } from '../limits.js';
import { connectClient, disconnected, type ConnectError } from './support/clients.js';
import { call, clientMsgId, raw } from './support/chat.js';
import { startCluster, type Cluster } from './support/cluster.js';
import { BAD_BOOLEANS, BAD_IDS, BAD_NUMBERS, BAD_STRINGS, BAD_USER_IDS, mutate } from './support/hostile.js';
import { mintToken } from './support/tokens.js';
import { snapshot as dbSnapshot } from './support/db-snapshot.js';

let cluster: Cluster;
let db: pg.Client;
let groupId: string;

const ORIGIN = 'https://chat.example.com';

beforeAll(async () => {
  cluster = await startCluster({ nodes: 2, env: { CORS_ORIGINS: ORIGIN } });
  db = new pg.Client({ connectionString: cluster.env.DATABASE_URL });
  await db.connect();
  const owner = await cluster.connect('ab-owner', 0);
  groupId = (await call(owner, 'conversation:create', { type: 'group', title: 'guarded', memberIds: ['ab-member'] })).conversation.id;
  const sent = await call(owner, 'message:send', { conversationId: groupId, clientMsgId: clientMsgId(), kind: 'text', text: 'members only' });
  // The sender's own watermarks move after the ack (not awaited by the send); these awaited
  // receipts land on the same keys, so the snapshots below start from a settled database.
  await call(owner, 'message:delivered', { conversationId: groupId, seq: sent.message.seq });
  await call(owner, 'message:read', { conversationId: groupId, seq: sent.message.seq });
});
afterAll(async () => {
  await db?.end();
  await cluster?.close();
});

const snapshot = () => dbSnapshot(db);

function templates(conversationId: string): Record<ClientEventName, unknown[]> {
  const conv = { conversationId };
  return {
    'conversation:create': [
      ...mutate({ type: 'group', title: 'fuzz' }, { type: BAD_STRINGS, title: BAD_STRINGS }),
      ...mutate({ type: 'direct', peerId: 'someone' }, { peerId: BAD_USER_IDS }),
      { type: 'group', title: 'fuzz', memberIds: BAD_USER_IDS },
      { type: 'group', title: 'fuzz', memberIds: Array.from({ length: 5_000 }, (_, i) => `u${i}`) },
    ],
    'conversation:join': mutate(conv, { conversationId: BAD_IDS }),
    'conversation:leave': mutate(conv, { conversationId: BAD_IDS }),
    'conversation:addMembers': [
      ...mutate({ ...conv, userIds: ['x'] }, { conversationId: BAD_IDS, userIds: BAD_STRINGS }),
      { ...conv, userIds: [] },
      { ...conv, userIds: BAD_USER_IDS },
    ],
    'conversation:removeMember': mutate({ ...conv, userId: 'x' }, { conversationId: BAD_IDS, userId: BAD_USER_IDS }),
    'conversation:setRole': mutate({ ...conv, userId: 'x', role: 'admin' }, { conversationId: BAD_IDS, userId: BAD_USER_IDS, role: [...BAD_STRINGS, 'god', 'OWNER'] }),
    'message:send': [
      ...mutate(
        { ...conv, clientMsgId: 'fuzz-1', kind: 'text', text: 'hi' },
        { conversationId: BAD_IDS, clientMsgId: BAD_IDS, kind: [...BAD_STRINGS, 'system', 'html'], text: [...BAD_STRINGS, '\u0000\u0001\u0002', ' \t\n ', '😀'.repeat(4_001)] },
      ),
      { ...conv, clientMsgId: 'fuzz-2', kind: 'file', attachment: { url: 'javascript:alert(1)', name: 'x', size: 1, mime: 'image/png' } },
      { ...conv, clientMsgId: 'fuzz-3', kind: 'file', attachment: { url: 'https://x/y', name: 'x', size: 1e12, mime: 'image/png' } },
      { ...conv, clientMsgId: 'fuzz-4', kind: 'file', attachment: { url: 'https://x/y', name: 'x', size: 1, mime: 'text/html' } },
      { ...conv, clientMsgId: 'fuzz-5', kind: 'file', attachment: { url: 'https://x/y', name: 'x', size: 1, mime: 'image/png', $where: '1' } },
      { ...conv, clientMsgId: 'fuzz-6', kind: 'file', attachment: { url: 'https://x/y', name: 'invoice\u202Egnp.exe', size: 1, mime: 'image/png' } },
      { ...conv, clientMsgId: 'fuzz-7', kind: 'file', attachment: { url: 'https://x/y', name: 'a\u0000\nb.png', size: 1, mime: 'image/png' } },
    ],
    'message:delivered': mutate({ ...conv, seq: 1 }, { conversationId: BAD_IDS, seq: BAD_NUMBERS }),
    'message:read': mutate({ ...conv, seq: 1 }, { conversationId: BAD_IDS, seq: BAD_NUMBERS }),
    'conversation:sync': [...mutate({ ...conv, afterSeq: 0 }, { conversationId: BAD_IDS, afterSeq: BAD_NUMBERS }), { ...conv, afterSeq: 0, limit: 201 }, { ...conv, afterSeq: 0, limit: 0 }],
    typing: mutate({ ...conv, typing: true }, { conversationId: BAD_IDS, typing: BAD_BOOLEANS }),
    'message:edit': mutate({ ...conv, messageId: 'x', text: 'hi' }, { conversationId: BAD_IDS, messageId: BAD_IDS, text: [...BAD_STRINGS, ' \t\n ', '😀'.repeat(4_001)] }),
    'message:delete': mutate({ ...conv, messageId: 'x' }, { conversationId: BAD_IDS, messageId: BAD_IDS }),
    'message:react': mutate({ ...conv, messageId: 'x', emoji: '👍', on: true }, { conversationId: BAD_IDS, messageId: BAD_IDS, emoji: [...BAD_STRINGS, '😀'.repeat(33)], on: BAD_BOOLEANS }),
    // Not mutate(): an empty list is a valid subscription (it clears the watched set).
    'presence:subscribe': [
      ...BAD_STRINGS.filter((v) => !Array.isArray(v)).map((userIds) => ({ userIds })),
      { userIds: BAD_USER_IDS },
      { userIds: Array.from({ length: 201 }, (_, i) => `u${i}`) },
      { userIds: ['x'], extra: 1 },
      {},
    ],
  };
}

describe('hostile payloads', () => {
  it('every generated payload at every event is refused with a §4 code, nothing crashes, nothing changes', async () => {
    const before = await snapshot();
    const fuzzer = await cluster.connect('ab-fuzzer', 0);
    const member = await cluster.connect('ab-member', 1);
    let total = 0;
    const codes = new Map<string, number>();
    for (const socket of [fuzzer, member]) {
      const all = templates(groupId);
      for (const event of CLIENT_EVENT_NAMES) {
        for (const payload of all[event]) {
          const res = await raw(socket, event, payload);
          total++;
          expect(res.ok, `${event} ${JSON.stringify(payload)?.slice(0, 200)}`).toBe(false);
          if (!res.ok) {
            expect(ERROR_CODES).toContain(res.error.code);
            expect(res.error.code).not.toBe('INTERNAL');
            codes.set(res.error.code, (codes.get(res.error.code) ?? 0) + 1);
          }
        }
      }
      expect(socket.connected).toBe(true);
    }
    expect(total).toBeGreaterThanOrEqual(500);
    expect(await snapshot()).toBe(before);
    // Both nodes still serve.
    for (const node of cluster.nodes) expect((await fetch(`${node.url}/healthz`)).status).toBe(200);
  });

  it('a 100 KB frame closes only that socket', async () => {
    const victim = await cluster.connect('ab-big', 0);
    const bystander = await cluster.connect('ab-member', 0);
    const gone = disconnected(victim);
    victim.emit('message:send', { conversationId: groupId, clientMsgId: 'big', kind: 'text', text: 'x'.repeat(100 * 1024) }, () => {});
    expect(await gone).toBe('transport close');
    const res = await call(bystander, 'conversation:sync', { conversationId: groupId, afterSeq: 0 });
    expect(res.messages.length).toBeGreaterThan(0);
    expect(bystander.connected).toBe(true);
  });
});

describe('authorisation', () => {
  it('an outsider can neither read, join, post, acknowledge, type nor manage a private group', async () => {
    const before = await snapshot();
    const outsider = await cluster.connect('ab-outsider', 1);
    const conv = { conversationId: groupId };
    const attempts: [ClientEventName, unknown][] = [
      ['conversation:join', conv],
      ['conversation:leave', conv],
      ['conversation:addMembers', { ...conv, userIds: ['ab-outsider'] }],
      ['conversation:removeMember', { ...conv, userId: 'ab-member' }],
      ['conversation:setRole', { ...conv, userId: 'ab-outsider', role: 'owner' }],
      ['message:send', { ...conv, clientMsgId: 'sneak', kind: 'text', text: 'let me in' }],
      ['message:delivered', { ...conv, seq: 1 }],
      ['message:read', { ...conv, seq: 1 }],
      ['conversation:sync', { ...conv, afterSeq: 0 }],
      ['typing', { ...conv, typing: true }],
    ];
    for (const [event, payload] of attempts) {
      const res = await raw(outsider, event, payload);
      expect(res, event).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    }
    expect(await snapshot()).toBe(before);
  });

  it('a plain member cannot add, remove or promote; a former member cannot read', async () => {
    const owner = await cluster.connect('az-owner', 0);
    const { conversation } = await call(owner, 'conversation:create', { type: 'group', title: 'roles', memberIds: ['az-a', 'az-b'] });
    const a = await cluster.connect('az-a', 1);
    const conv = { conversationId: conversation.id };
    expect(await raw(a, 'conversation:addMembers', { ...conv, userIds: ['az-c'] })).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    expect(await raw(a, 'conversation:removeMember', { ...conv, userId: 'az-b' })).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    expect(await raw(a, 'conversation:setRole', { ...conv, userId: 'az-b', role: 'admin' })).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    expect(await raw(a, 'conversation:setRole', { ...conv, userId: 'az-owner', role: 'member' })).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    await call(a, 'conversation:leave', conv);
    expect(await raw(a, 'conversation:sync', { ...conv, afterSeq: 0 })).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    expect(await raw(a, 'conversation:join', conv)).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
  });
});

describe('rate limits', () => {
  it('a user sending 10x the send limit across two nodes is held to the limit (±10 %)', async () => {
    const owner = await cluster.connect('rl-user', 0);
    const { conversation } = await call(owner, 'conversation:create', { type: 'group', title: 'flood' });
    const other = await cluster.connect('rl-user', 1);
    const { points, seconds } = DEFAULT_LIMITS.send;
    const started = Date.now();
    let accepted = 0;
    let limited = 0;
    let retryAfterSeen = false;
    // Two windows' worth of time at ten times the allowed rate, alternating nodes.
    const durationMs = seconds * 1000 * 1.5;
    const perTick = Math.ceil((points / seconds) * 10 * 0.05); // every 50 ms
    while (Date.now() - started < durationMs) {
      const tick = Date.now();
      const batch = Array.from({ length: perTick }, (_, i) =>
        raw(i % 2 ? other : owner, 'message:send', { conversationId: conversation.id, clientMsgId: clientMsgId('rl'), kind: 'text', text: 'flood' }),
      );
      for (const res of await Promise.all(batch)) {
        if (res.ok) accepted++;
        else if (res.error.code === 'RATE_LIMITED') {
          limited++;
          retryAfterSeen ||= (res.error.retryAfterMs ?? 0) > 0;
        } else throw new Error(`unexpected ${res.error.code}`);
      }
      await new Promise((r) => setTimeout(r, Math.max(0, 50 - (Date.now() - tick)))); // pacing, not synchronisation
    }
    // Windows are fixed and start at the first send: 1.5 windows of time allow two windows of points.
    const allowed = points * Math.ceil((Date.now() - started) / (seconds * 1000));
    expect(accepted).toBeGreaterThanOrEqual(allowed * 0.9);
    expect(accepted).toBeLessThanOrEqual(allowed * 1.1);
    // The offered load really was well over the limit (on a busy machine it may fall short of 10x).
    expect(limited).toBeGreaterThan(accepted);
    expect(retryAfterSeen).toBe(true);
  }, 30_000);
});

describe('handshake origin', () => {
  it('refuses a WebSocket handshake from a foreign Origin and accepts the allowed one', async () => {
    const node = cluster.nodes[0]!;
    let refused: (ConnectError & { type?: string; description?: { message?: string } }) | undefined;
    try {
      const s = await connectClient(node.url, mintToken('ab-origin'), { extraHeaders: { Origin: 'https://evil.example' } });
      s.close();
    } catch (err) {
      refused = err as typeof refused;
    }
    // Refused by the origin check at the HTTP upgrade (allowRequest), not by the handshake
    // middleware (which answers with a wire error in `data`) and not by anything else.
    expect(refused).toMatchObject({ type: 'TransportError', description: { message: 'Unexpected server response: 400' } });
    expect(refused!.data).toBeUndefined();
    // The same check on Engine.IO's HTTP handshake says which refusal it is.
    const poll = (origin: string) => fetch(`${node.url}/socket.io/?EIO=4&transport=polling`, { headers: { Origin: origin } });
    const foreign = await poll('https://evil.example');
    expect(foreign.status).toBe(403);
    expect(await foreign.json()).toEqual({ code: 4, message: 'Forbidden' });
    const allowed = await poll(ORIGIN);
    expect(allowed.status).toBe(200);
    await allowed.text();
    const ok = await connectClient(node.url, mintToken('ab-origin'), { extraHeaders: { Origin: ORIGIN } });
    expect(ok.connected).toBe(true);
    ok.close();
  });
});
