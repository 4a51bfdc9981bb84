// The client library's connection and side channels on a real two-node cluster: the token
// provider (refreshed ahead of expiry and after `session:expired`), `server:draining` honoured
// before reconnecting elsewhere, a RATE_LIMITED handshake's retryAfterMs honoured, receipts
// coalesced and seen as member watermarks, typing throttled.
import { describe, expect, it } from 'vitest';
import { createClient, type ClientOptions, type ConnectionState, type RelaygateClient, type TokenReason } from '../../client/src/index.js';
import type { Receipt, TypingEvent } from '../../protocol/index.js';
import { balancer } from './support/balancer.js';
import { clientLibResources } from './support/client-lib.js';
import { startCluster } from './support/cluster.js';
import { mintToken } from './support/tokens.js';

const { clusters, clients, servers } = clientLibResources();

function client(url: string, userId: string, extra: Partial<ClientOptions> = {}): RelaygateClient {
  const c = createClient({ url, token: () => mintToken(userId), reconnect: { minMs: 100, maxMs: 1_000 }, ...extra });
  clients.push(c);
  return c;
}

/** Every state change with its time. */
function states(c: RelaygateClient) {
  const log: { state: ConnectionState; at: number }[] = [];
  const waiters = new Set<() => void>();
  c.on('state', (state) => {
    log.push({ state, at: Date.now() });
    waiters.forEach((w) => w());
  });
  return {
    log,
    /** Resolves once the client is in `state` (now, or later). */
    reach(state: ConnectionState, after = 0, timeoutMs = 20_000): Promise<void> {
      const done = () => (after === 0 && c.state === state) || log.some((e, i) => i >= after && e.state === state);
      if (done()) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`never ${state}: ${log.map((e) => e.state).join(' ')}`)), timeoutMs);
        const check = () => done() && (clearTimeout(t), waiters.delete(check), resolve());
        waiters.add(check);
      });
    },
  };
}

describe('client connection', () => {
  it('asks the provider again after session:expired and comes back online with the new token', async () => {
    const cluster = await startCluster();
    clusters.push(cluster);
    const reasons: TokenReason[] = [];
    const c = client(cluster.nodes[0]!.url, 't-exp', {
      refreshBeforeExpiryMs: 0,
      token: (reason) => (reasons.push(reason), mintToken('t-exp', { expiresInSec: reasons.length === 1 ? 2 : 3600 })),
    });
    const s = states(c);
    await s.reach('online');
    await s.reach('offline', s.log.length, 10_000); // the server ended the session at exp
    await s.reach('online', s.log.length);
    expect(reasons).toEqual(['initial', 'expired']);
  });

  it('refreshes the token ahead of exp, so the reconnection after session:expired needs no new call', async () => {
    const cluster = await startCluster();
    clusters.push(cluster);
    const reasons: TokenReason[] = [];
    const c = client(cluster.nodes[0]!.url, 't-ahead', {
      refreshBeforeExpiryMs: 1_500,
      token: (reason) => (reasons.push(reason), mintToken('t-ahead', { expiresInSec: reasons.length === 1 ? 3 : 3600 })),
    });
    const s = states(c);
    await s.reach('online');
    const expired = new Promise<void>((resolve) => c.connection.socket.once('session:expired', () => resolve()));
    await expired;
    await s.reach('online', s.log.length);
    expect(reasons).toEqual(['initial', 'expiring']);
  });

  it('server:draining: waits the announced delay, then reconnects (to the other node)', async () => {
    const cluster = await startCluster();
    clusters.push(cluster);
    const url = await balancer([cluster.nodes[0]!.port, cluster.nodes[1]!.port], servers);
    const c = client(url, 'dr-alice');
    const s = states(c);
    await s.reach('online');
    let announced = 0;
    c.connection.socket.on('server:draining', ({ reconnectAfterMs }) => (announced = reconnectAfterMs));
    const from = s.log.length;
    await cluster.nodes[0]!.app.shutdown('test: draining');
    await s.reach('online', from);
    const seq = s.log.slice(from);
    const drainedAt = seq.find((e) => e.state === 'draining')?.at;
    const retriedAt = seq.find((e) => e.state === 'connecting')?.at;
    expect(announced).toBeGreaterThan(0);
    expect(drainedAt).toBeDefined();
    // Timers may fire a millisecond early by Date.now(); the jitter on top is at least 0.
    expect(retriedAt! - drainedAt!).toBeGreaterThanOrEqual(announced - 5);
  });

  it('a RATE_LIMITED handshake is retried no sooner than its retryAfterMs', async () => {
    const cluster = await startCluster({ env: { MAX_CONNECTIONS_PER_USER: '1' } });
    clusters.push(cluster);
    const first = client(cluster.nodes[0]!.url, 'rl-alice');
    await states(first).reach('online');
    const second = client(cluster.nodes[0]!.url, 'rl-alice');
    const s = states(second);
    const refused = await new Promise<{ code?: string; retryAfterMs?: number }>((resolve) =>
      second.connection.socket.once('connect_error', (err: Error & { data?: { code?: string; retryAfterMs?: number } }) => resolve(err.data ?? {})),
    );
    const refusedAt = Date.now();
    expect(refused.code).toBe('RATE_LIMITED');
    first.close();
    await s.reach('online', 0, 20_000);
    const retriedAt = s.log.find((e) => e.state === 'connecting' && e.at >= refusedAt)!.at;
    expect(retriedAt - refusedAt).toBeGreaterThanOrEqual(refused.retryAfterMs! - 50);
  });

  it('receipts are coalesced, forward only, and arrive as member watermarks; typing is throttled', async () => {
    const cluster = await startCluster();
    clusters.push(cluster);
    const alice = client(cluster.nodes[0]!.url, 'rc-alice', { receiptIntervalMs: 300 });
    const bob = client(cluster.nodes[1]!.url, 'rc-bob', { receiptIntervalMs: 300 });
    await Promise.all([states(alice).reach('online'), states(bob).reach('online')]);
    const { conversation } = await alice.connection.call('conversation:create', { type: 'group', title: 'receipts', memberIds: ['rc-bob'] });
    const id = conversation.id;
    const receipts: Receipt[] = [];
    const typing: TypingEvent[] = [];
    alice.on('receipt', (r) => receipts.push(r));
    alice.on('typing', (t) => typing.push(t));
    const sent = await Promise.all(Array.from({ length: 30 }, (_, i) => alice.send(id, { kind: 'text', text: `r${i}` }).stored));
    const last = sent.at(-1)!.seq;
    // Bob reads each message as it arrives, and once more an old one.
    await new Promise<void>((resolve) =>
      bob.subscribe(id, {
        onMessage: (m) => {
          bob.markDelivered(id, m.seq);
          bob.markRead(id, m.seq);
          if (m.seq === last) {
            bob.markRead(id, 1);
            resolve();
          }
        },
      }),
    );
    await new Promise<void>((resolve) => alice.on('receipt', () => alice.watermarks(id).get('rc-bob')?.read === last && resolve()));
    const reads = receipts.filter((r) => r.type === 'read' && r.userId === 'rc-bob');
    expect(reads.length).toBeLessThanOrEqual(3); // 30 marks, a few intervals
    expect(reads.map((r) => r.seq)).toEqual([...reads.map((r) => r.seq)].sort((a, b) => a - b));
    expect(alice.watermarks(id).get('rc-bob')).toEqual({ delivered: last, read: last });

    for (let i = 0; i < 5; i++) bob.typing(id, true);
    bob.typing(id, false);
    await new Promise<void>((resolve) => alice.on('typing', (t) => !t.typing && resolve()));
    expect(typing.map((t) => t.typing)).toEqual([true, false]);
  });
});

describe('client outbox and stream endings', () => {
  it('permanent send errors surface once (rejected `stored`, one sendFailed) and are not retried; later sends still go', async () => {
    const cluster = await startCluster();
    clusters.push(cluster);
    const alice = client(cluster.nodes[0]!.url, 'pe-alice');
    const bob = client(cluster.nodes[1]!.url, 'pe-bob');
    await Promise.all([states(alice).reach('online'), states(bob).reach('online')]);
    const { conversation: mine } = await alice.connection.call('conversation:create', { type: 'group', title: 'not bob' });
    const { conversation: channel } = await alice.connection.call('conversation:create', { type: 'channel', title: 'news', memberIds: ['pe-bob'] });
    const failed: string[] = [];
    bob.on('sendFailed', ({ error }) => failed.push(error.code));
    const outcomes = await Promise.all(
      [
        bob.send(mine.id, { kind: 'text', text: 'not a member' }),
        bob.send(channel.id, { kind: 'text', text: 'members may not post' }),
        bob.send(channel.id, { kind: 'text', text: 'x'.repeat(4_001) }),
      ].map((p) => p.stored.then(() => 'stored', (err: { code: string }) => err.code)),
    );
    expect(outcomes).toEqual(['NOT_FOUND', 'FORBIDDEN', 'INVALID_ARGUMENT']);
    expect(failed.sort()).toEqual(['FORBIDDEN', 'INVALID_ARGUMENT', 'NOT_FOUND']);
    expect(bob.pending()).toEqual([]);
    // The conversation's queue is not wedged by a refusal.
    const ok = await alice.send(channel.id, { kind: 'text', text: 'owner posts' }).stored;
    expect(ok.text).toBe('owner posts');
    const { messages } = await bob.rest.history(channel.id);
    expect(messages.filter((m) => m.senderId === 'pe-bob')).toEqual([]);
  });

  it('a subscriber removed from the conversation gets a discontinuity, not a silent stall', async () => {
    const cluster = await startCluster();
    clusters.push(cluster);
    const alice = client(cluster.nodes[0]!.url, 'dc-alice');
    const bob = client(cluster.nodes[1]!.url, 'dc-bob');
    await Promise.all([states(alice).reach('online'), states(bob).reach('online')]);
    const { conversation } = await alice.connection.call('conversation:create', { type: 'group', title: 'removal', memberIds: ['dc-bob'] });
    const first = await alice.send(conversation.id, { kind: 'text', text: 'before' }).stored;
    const seen: number[] = [];
    let caughtUp!: () => void;
    const upToDate = new Promise<void>((resolve) => (caughtUp = resolve));
    const ended = new Promise<{ afterSeq: number; code: string }>((resolve) =>
      bob.subscribe(conversation.id, { onMessage: (m) => seen.push(m.seq), onCaughtUp: (v) => v && caughtUp(), onDiscontinuity: resolve }),
    );
    await upToDate;
    await alice.connection.call('conversation:removeMember', { conversationId: conversation.id, userId: 'dc-bob' });
    const d = await ended;
    expect(['NOT_FOUND', 'FORBIDDEN']).toContain(d.code);
    expect(d.afterSeq).toBeGreaterThanOrEqual(first.seq);
    expect(seen).toContain(first.seq);
  });
});
