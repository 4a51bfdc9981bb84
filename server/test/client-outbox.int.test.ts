// The client library's outbox on a real two-node cluster, where a send meets the failures the
// server tells clients to retry: an ack lost with the connection (the retry carries the same
// clientMsgId and the server answers `duplicate`), RATE_LIMITED with `retryAfterMs` (no try
// sooner), and a node draining mid-run (the rest go to the other node after the announced
// delay). In every case each send is stored exactly once, in the order it was sent.
import { describe, expect, it } from 'vitest';
import { createClient, type ClientError, type ClientOptions, type RelaygateClient } from '../../client/src/index.js';
import type { Message } from '../../protocol/index.js';
import { balancer } from './support/balancer.js';
import { clientLibResources } from './support/client-lib.js';
import { startCluster } from './support/cluster.js';
import { mintToken } from './support/tokens.js';

const { clusters, clients, servers } = clientLibResources();

async function online(url: string, userId: string, extra: Partial<ClientOptions> = {}): Promise<RelaygateClient> {
  const c = createClient({ url, token: () => mintToken(userId), reconnect: { minMs: 100, maxMs: 1_000 }, retry: { minMs: 50, maxMs: 500 }, ...extra });
  clients.push(c);
  if (c.state !== 'online') await new Promise<void>((resolve) => c.on('state', (s) => s === 'online' && resolve()));
  return c;
}

/** Every `message:send` try that left the socket: clientMsgId and time. */
function tries(c: RelaygateClient) {
  const log: { clientMsgId: string; at: number }[] = [];
  c.connection.socket.onAnyOutgoing((event: string, payload: { clientMsgId?: string }) => {
    if (event === 'message:send') log.push({ clientMsgId: payload.clientMsgId!, at: Date.now() });
  });
  return log;
}

/** The user's texts as the store holds them, oldest first. */
async function storedTexts(c: RelaygateClient, conversationId: string): Promise<string[]> {
  const out: Message[] = [];
  for await (const page of c.read(conversationId)) out.push(...page);
  return out.filter((m) => m.kind === 'text').map((m) => m.text!);
}

describe('client outbox against the server', () => {
  it('an ack lost with the connection: the retry carries the same clientMsgId, the server answers duplicate, stored once', async () => {
    const cluster = await startCluster();
    clusters.push(cluster);
    const alice = await online(cluster.nodes[0]!.url, 'la-alice');
    const { conversation } = await alice.connection.call('conversation:create', { type: 'group', title: 'lost ack' });
    const sent = tries(alice);
    // Close the transport as the send's ack arrives, before Socket.IO decodes it: the server has
    // stored the message (it acks only after that), and the client never sees the ack. Closing on
    // the way out instead raced the retry against the first try's append on a loaded machine.
    const engine = alice.connection.socket.io.engine;
    let pendingId = '';
    engine.on('packet', function dropAck(packet: { type: string; data?: unknown }) {
      const data = typeof packet.data === 'string' ? packet.data : '';
      // A Socket.IO ACK packet ("3<id>[...]") that names this send.
      if (packet.type !== 'message' || !data.startsWith('3') || !pendingId || !data.includes(pendingId)) return;
      engine.off('packet', dropAck);
      engine.close();
    });
    const outcomes: { duplicate: boolean }[] = [];
    alice.on('sent', ({ duplicate }) => outcomes.push({ duplicate }));
    const errors: ClientError[] = [];
    alice.on('sendError', ({ error }) => errors.push(error));
    const pending = alice.send(conversation.id, { kind: 'text', text: 'once' });
    pendingId = pending.clientMsgId;
    const message = await pending.stored;
    expect(errors.map((e) => e.local)).toEqual(['disconnected']);
    expect(sent.map((t) => t.clientMsgId)).toEqual([pending.clientMsgId, pending.clientMsgId]);
    expect(outcomes).toEqual([{ duplicate: true }]);
    expect(message.clientMsgId).toBe(pending.clientMsgId);
    expect(await storedTexts(alice, conversation.id)).toEqual(['once']);
  });

  it('RATE_LIMITED: each refused send is tried again no sooner than retryAfterMs, same clientMsgId; all stored once, in order', async () => {
    // 10 sends per 5 s window (100 × 0.1).
    const cluster = await startCluster({ env: { RATE_LIMIT_SCALE: '0.1' } });
    clusters.push(cluster);
    const alice = await online(cluster.nodes[1]!.url, 'rl-alice');
    const { conversation } = await alice.connection.call('conversation:create', { type: 'group', title: 'rate limited' });
    const sent = tries(alice);
    const refused: { clientMsgId: string; at: number; retryAfterMs: number }[] = [];
    alice.on('sendError', ({ error, pending }) => {
      expect(error.code).toBe('RATE_LIMITED');
      refused.push({ clientMsgId: pending.clientMsgId, at: Date.now(), retryAfterMs: error.retryAfterMs! });
    });
    const texts = Array.from({ length: 13 }, (_, i) => `rl ${i}`);
    const pending = texts.map((text) => alice.send(conversation.id, { kind: 'text', text }));
    await Promise.all(pending.map((p) => p.stored));
    expect(refused.length).toBeGreaterThan(0);
    for (const r of refused) {
      expect(r.retryAfterMs).toBeGreaterThan(0);
      const next = sent.find((t) => t.clientMsgId === r.clientMsgId && t.at > r.at);
      expect(next, `no retry of ${r.clientMsgId}`).toBeDefined();
      // Timers may fire a millisecond early by Date.now().
      expect(next!.at - r.at).toBeGreaterThanOrEqual(r.retryAfterMs - 5);
    }
    expect(new Set(sent.map((t) => t.clientMsgId))).toEqual(new Set(pending.map((p) => p.clientMsgId)));
    expect(await storedTexts(alice, conversation.id)).toEqual(texts);
  }, 30_000);

  it('a node draining while sends are queued: the rest go to the other node after the announced delay, each stored once, in order', async () => {
    const cluster = await startCluster();
    clusters.push(cluster);
    const url = await balancer([cluster.nodes[0]!.port, cluster.nodes[1]!.port], servers);
    const alice = await online(url, 'dn-alice');
    const { conversation } = await alice.connection.call('conversation:create', { type: 'group', title: 'draining' });
    let drainedAt = 0;
    let announced = 0;
    alice.connection.socket.on('server:draining', ({ reconnectAfterMs }) => ((drainedAt = Date.now()), (announced = reconnectAfterMs)));
    const sent = tries(alice);
    const texts = Array.from({ length: 30 }, (_, i) => `dn ${i}`);
    // The node starts draining with the 5th send in flight and the rest queued: its ack still
    // comes, but nothing more may go to the node after the notice.
    let shutdown: Promise<void> | undefined;
    alice.connection.socket.onAnyOutgoing((event: string) => {
      if (event === 'message:send' && sent.length === 5) shutdown ??= cluster.nodes[0]!.app.shutdown('test: draining');
    });
    const stored = await Promise.all(texts.map((text) => alice.send(conversation.id, { kind: 'text', text }).stored));
    await shutdown;
    expect(announced).toBeGreaterThan(0);
    const afterDrain = sent.filter((t) => t.at > drainedAt);
    expect(afterDrain.length).toBeGreaterThan(0); // some sends waited for the drain
    expect(afterDrain[0]!.at - drainedAt).toBeGreaterThanOrEqual(announced - 5);
    expect(stored.map((m) => m.text)).toEqual(texts);
    expect(await storedTexts(alice, conversation.id)).toEqual(texts);
  }, 30_000);
});
