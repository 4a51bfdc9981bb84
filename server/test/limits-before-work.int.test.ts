// PROTOCOL.md §7 "limits before work" on two gateway nodes: a flood aimed at a conversation that
// does not exist is throttled like any other. Without the point taken before the membership
// read, every answer would be NOT_FOUND and the store would be read once per event.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientEventName } from '../../protocol/index.js';
import { DEFAULT_LIMITS } from '../limits.js';
import type { LimitFamily } from '../messaging/ports.js';
import { clientMsgId, raw } from './support/chat.js';
import type { ClientSocket } from './support/clients.js';
import { startCluster, type Cluster } from './support/cluster.js';

let cluster: Cluster;

beforeAll(async () => {
  cluster = await startCluster({ nodes: 2 });
});
afterAll(async () => {
  await cluster?.close();
});

// An id of the right shape that names no conversation.
const MISSING = 'nope0000000000000000';
/** Events per socket: inside the per-socket burst (200), so only the family's limit refuses. */
const PER_SOCKET = 150;

const floods: [ClientEventName, LimitFamily, () => unknown][] = [
  ['message:send', 'send', () => ({ conversationId: MISSING, clientMsgId: clientMsgId('lbw'), kind: 'text', text: 'x' })],
  ['message:read', 'receipt', () => ({ conversationId: MISSING, seq: 1 })],
  ['message:delivered', 'receipt', () => ({ conversationId: MISSING, seq: 1 })],
  ['conversation:sync', 'read', () => ({ conversationId: MISSING, afterSeq: 0 })],
  ['typing', 'typing', () => ({ conversationId: MISSING, typing: true })],
];

describe('limits before work (§7)', () => {
  it.each(floods)('a flood of %s at a missing conversation turns RATE_LIMITED once the %s budget is spent, on both nodes', async (event, family, payload) => {
    const { points, seconds } = DEFAULT_LIMITS[family];
    const total = points * 3;
    const user = `lbw-${event.replace(':', '-')}`;
    const sockets: ClientSocket[] = [];
    for (let i = 0; i < Math.ceil(total / PER_SOCKET); i++) sockets.push(await cluster.connect(user, i % 2));
    const started = Date.now();
    const codes = new Map<string, number>();
    // One event at a time per socket (the in-flight bound refuses nothing), sockets in parallel.
    await Promise.all(
      sockets.map(async (socket, i) => {
        const mine = Math.min(PER_SOCKET, total - i * PER_SOCKET);
        for (let n = 0; n < mine; n++) {
          const res = await raw(socket, event, payload());
          const code = res.ok ? 'ok' : res.error.code;
          codes.set(code, (codes.get(code) ?? 0) + 1);
        }
      }),
    );
    const elapsed = Date.now() - started;
    const notFound = codes.get('NOT_FOUND') ?? 0;
    const limited = codes.get('RATE_LIMITED') ?? 0;
    expect([...codes.keys()].sort(), JSON.stringify([...codes])).toEqual(['NOT_FOUND', 'RATE_LIMITED']);
    // At most the budget of the windows the flood spanned reached the store.
    const allowed = points * Math.ceil(elapsed / (seconds * 1000));
    expect(notFound).toBeLessThanOrEqual(allowed);
    expect(limited).toBe(total - notFound);
    // Within one window (the usual case) two thirds of the flood is refused.
    if (elapsed < seconds * 1000) expect(limited / total).toBeGreaterThanOrEqual(0.6);
    for (const s of sockets) s.close();
  }, 60_000);
});
