// PROTOCOL.md §7 "per-socket budget" on two gateway nodes: a burst of 3,000 malformed events is
// parsed only up to the budget and the rest answered RATE_LIMITED, other users on both nodes
// are served meanwhile; a socket that stays over budget is disconnected; handlers in flight per
// socket are bounded.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { disconnected, type ClientSocket } from './support/clients.js';
import { call, clientMsgId } from './support/chat.js';
import { startCluster, type Cluster } from './support/cluster.js';

const OVER_MS = 1_500;
const IN_FLIGHT = 4;
let cluster: Cluster;

beforeAll(async () => {
  cluster = await startCluster({ nodes: 2, env: { SOCKET_MAX_IN_FLIGHT: String(IN_FLIGHT), SOCKET_OVER_BUDGET_MS: String(OVER_MS) } });
});
afterAll(async () => {
  await cluster?.close();
});

type Ack = { ok: boolean; error?: { code: string; message: string; retryAfterMs?: number } };
const emit = (s: ClientSocket, event: string, payload: unknown) => (s.timeout(20_000).emitWithAck as (e: string, p: unknown) => Promise<Ack>)(event, payload);

describe('per-socket budget (§7)', () => {
  it('3,000 malformed events in a burst: at most the budget is parsed, the rest RATE_LIMITED; others are served on both nodes', async () => {
    const flooder = await cluster.connect('bu-flooder', 0);
    const others = [await cluster.connect('bu-other', 0), await cluster.connect('bu-other', 1)];
    const { conversation } = await call(others[0]!, 'conversation:create', { type: 'group', title: 'calm' });
    const started = Date.now();
    const flood = Promise.all(Array.from({ length: 3_000 }, (_, i) => emit(flooder, i % 2 ? 'message:send' : 'no-such-event', { junk: i })));
    // Served while the flood is being answered.
    for (const s of others) await call(s, 'message:send', { conversationId: conversation.id, clientMsgId: clientMsgId(), kind: 'text', text: 'still here' });
    const acks = await flood;
    const seconds = (Date.now() - started) / 1000;
    const codes = new Map<string, number>();
    for (const a of acks) codes.set(a.ok ? 'OK' : a.error!.code, (codes.get(a.ok ? 'OK' : a.error!.code) ?? 0) + 1);
    const parsed = codes.get('INVALID_ARGUMENT') ?? 0;
    const limited = codes.get('RATE_LIMITED') ?? 0;
    expect(parsed + limited).toBe(3_000);
    expect(parsed).toBeGreaterThanOrEqual(200); // the burst
    expect(parsed).toBeLessThanOrEqual(200 + Math.ceil(seconds * 100) + 1); // burst + refill, no more
    expect(limited / 3_000).toBeGreaterThan(0.5);
    const sample = acks.find((a) => a.error?.code === 'RATE_LIMITED')!;
    expect(sample.error!.retryAfterMs).toBeGreaterThan(0);
  });

  it('a socket refused at least once a second for the configured spell is disconnected; a polite one stays', async () => {
    const flooder = await cluster.connect('bu-spell', 1);
    const polite = await cluster.connect('bu-polite', 1);
    const gone = disconnected(flooder, 10_000);
    const started = Date.now();
    const timer = setInterval(() => {
      for (let i = 0; i < 100; i++) (flooder.emit as (e: string, p: unknown) => void)('typing', {});
    }, 200);
    try {
      expect(await gone).toBe('io server disconnect');
    } finally {
      clearInterval(timer);
    }
    const after = Date.now() - started;
    expect(after).toBeGreaterThanOrEqual(OVER_MS);
    expect(after).toBeLessThan(OVER_MS + 5_000);
    expect(polite.connected).toBe(true);
    await call(polite, 'conversation:create', { type: 'group', title: 'polite' });
  });

  it(`at most ${IN_FLIGHT} handlers run at once per socket; the rest are answered RATE_LIMITED at once`, async () => {
    const reader = await cluster.connect('bu-reader', 0);
    const { conversation } = await call(reader, 'conversation:create', { type: 'group', title: 'reads' });
    const acks = await Promise.all(Array.from({ length: 40 }, () => emit(reader, 'conversation:sync', { conversationId: conversation.id, afterSeq: 0 })));
    const ok = acks.filter((a) => a.ok).length;
    const inFlight = acks.filter((a) => a.error?.code === 'RATE_LIMITED' && /in flight/.test(a.error.message)).length;
    expect(ok + inFlight).toBe(40);
    expect(ok).toBeGreaterThanOrEqual(IN_FLIGHT);
    expect(inFlight).toBeGreaterThan(0);
  });
});
