// The hand-rolled peer (bench/peer.ts) as the benchmark runs it: two child processes on one
// database and one Redis, driven by the load generator. It must be a fair third variant: every
// acked message stored once and delivered to every member, a retry answered with the stored
// message, and the membership rules it claims enforced.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLoad } from '../loadtest/run.js';
import { connectClient, record, type ClientSocket } from '../server/test/support/clients.js';
import { deleteRedisPrefix, freshPostgresUrl, freshRedisPrefix, redisUrl } from '../server/test/support/env.js';
import { mintToken, TEST_SECRET } from '../server/test/support/tokens.js';
import { startNodeProcess, type NodeProcess } from '../tools/spawn-node.js';

const peers: NodeProcess[] = [];
const urls: string[] = [];
const sockets: ClientSocket[] = [];
let prefix: string;

beforeAll(async () => {
  prefix = freshRedisPrefix();
  const env = { PORT: '0', DATABASE_URL: await freshPostgresUrl(), REDIS_URL: redisUrl(), REDIS_PREFIX: prefix, JWT_SECRET: TEST_SECRET };
  // One after the other: the first creates the tables.
  for (let i = 0; i < 2; i++) {
    const peer = startNodeProcess({ entry: 'bench/peer.ts', env });
    peers.push(peer);
    urls.push(`http://127.0.0.1:${await peer.listening(30_000)}`);
  }
});
afterAll(async () => {
  for (const s of sockets) s.close();
  await Promise.all(peers.map((p) => p.stop(5_000)));
  await deleteRedisPrefix(prefix);
});

const connect = async (userId: string, node: number) => {
  const s = await connectClient(urls[node]!, mintToken(userId));
  sockets.push(s);
  return s;
};

it('serves a short load run over two nodes: nothing lost, nothing stored twice', async () => {
  const report = await runLoad({
    urls,
    jwtSecret: TEST_SECRET,
    users: 16,
    rate: 40,
    duration: 2,
    groupSize: 4,
    channelSize: 8,
    channelPosters: 2,
    receiptSample: 0.5,
    receiptIntervalMs: 300,
    drainMs: 5_000,
    scrapeIntervalMs: 500,
    progress: false,
    hardDeadlineSeconds: 25,
  });
  expect(report.sends.acked).toBeGreaterThan(0);
  expect(report.errors).toEqual({});
  expect(report.storage).toMatchObject({ checked: true, duplicates: 0, missingAcked: 0, duplicateIdsLive: 0 });
  expect(report.delivery.lostPairs).toBe(0);
  // Live, not recovered by the final sync: members on the other node get it through the adapter.
  expect(report.delivery.recoveredBySync).toBe(0);
  expect(report.cost?.gatewayCpuMsPerAcceptedSend).toBeGreaterThan(0); // /metrics is scraped like a gateway's
}, 30_000);

describe('a send', () => {
  it('is delivered across nodes once, and a retry gets the stored message back without a second delivery', async () => {
    const [a, b] = [`pa-${randomUUID()}`, `pb-${randomUUID()}`];
    const alice = await connect(a, 0);
    const bob = await connect(b, 1);
    const seen = record(bob, 'message:new');
    const created = await alice.emitWithAck('conversation:create', { type: 'group', title: 'peer', memberIds: [b] });
    if (!created.ok) throw new Error(created.error.message);
    const send = { conversationId: created.conversation.id, clientMsgId: randomUUID(), kind: 'text' as const, text: 'once' };
    const first = await alice.emitWithAck('message:send', send);
    const retry = await alice.emitWithAck('message:send', send);
    expect(first).toMatchObject({ ok: true, duplicate: false, message: { seq: 1, text: 'once', senderId: a } });
    expect(retry).toMatchObject({ ok: true, duplicate: true });
    if (!first.ok || !retry.ok) return;
    expect(retry.message).toEqual(first.message);
    // A later send on the same socket is ordered after the first's emit: when it arrives, a
    // second copy of the first would have too.
    const later = await alice.emitWithAck('message:send', { ...send, clientMsgId: randomUUID(), text: 'later' });
    expect(later).toMatchObject({ ok: true, message: { seq: 2 } });
    await seen.until((items) => items.some((m) => m.message.text === 'later'));
    expect(seen.items.map((m) => m.message.text)).toEqual(['once', 'later']);
    const sync = await bob.emitWithAck('conversation:sync', { conversationId: created.conversation.id, afterSeq: 0 });
    expect(sync).toMatchObject({ ok: true, hasMore: false, messages: [{ seq: 1, text: 'once' }, { seq: 2, text: 'later' }] });
  });

  it('is refused to a non-member and to a plain channel member, and stores nothing', async () => {
    const [owner, member, stranger] = [`po-${randomUUID()}`, `pm-${randomUUID()}`, `ps-${randomUUID()}`];
    const o = await connect(owner, 0);
    const channel = await o.emitWithAck('conversation:create', { type: 'channel', title: 'news', memberIds: [member] });
    if (!channel.ok) throw new Error(channel.error.message);
    const conversationId = channel.conversation.id;
    const send = (s: ClientSocket) => s.emitWithAck('message:send', { conversationId, clientMsgId: randomUUID(), kind: 'text', text: 'x' });
    expect(await send(await connect(stranger, 1))).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    const m = await connect(member, 1);
    expect(await send(m)).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    expect(await o.emitWithAck('conversation:setRole', { conversationId, userId: member, role: 'admin' })).toEqual({ ok: true });
    expect(await send(m)).toMatchObject({ ok: true, message: { seq: 1 } });
  });
});
