// `conversation:sync` from a cursor at or past the conversation's lastSeq answers "nothing after"
// from the membership check's read alone (a reconnect storm's caught-up clients). These tests
// pin both sides on both store lanes: the short answer costs no page read, and a sync from below
// lastSeq — a new message, or only a change (which takes a seq without adding a message) —
// still returns it, also when the message was acknowledged on the other node a moment before.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../app.js';
import { call, clientMsgId } from './support/chat.js';
import { startCluster, type Cluster, type StoreKind } from './support/cluster.js';

const LANES: StoreKind[] = ['postgres', 'mongo'];
const PAGE_READS = ['pageChanges', 'pageMessages', 'listPeriods'];

/** Store calls of node `app` that read a sync page. */
async function pageReads(app: App): Promise<number> {
  const metric = await app.metrics.storeSeconds.get();
  return metric.values
    .filter((v) => v.metricName?.endsWith('_count') && PAGE_READS.includes(String(v.labels.op)))
    .reduce((n, v) => n + v.value, 0);
}

describe.each(LANES)('sync of a caught-up client on %s', (store) => {
  let cluster: Cluster;
  let n = 0;
  beforeAll(async () => {
    cluster = await startCluster({ nodes: 2, store, env: { RATE_LIMIT_SCALE: '50' } });
  });
  afterAll(() => cluster?.close());

  async function pair() {
    const users = [`${store}-cu-${++n}-a`, `${store}-cu-${n}-b`];
    const alice = await cluster.connect(users[0]!, 0);
    const bob = await cluster.connect(users[1]!, 1);
    const { conversation } = await call(alice, 'conversation:create', { type: 'group', title: 'caught up', memberIds: [users[1]!] });
    return { alice, bob, id: conversation.id };
  }
  const send = async (socket: Awaited<ReturnType<Cluster['connect']>>, conversationId: string, text: string) =>
    (await call(socket, 'message:send', { conversationId, clientMsgId: clientMsgId('cu'), kind: 'text', text })).message;

  it('answers empty from lastSeq and above without reading a page', async () => {
    const { alice, bob, id } = await pair();
    const last = await send(alice, id, 'only');
    const before = await pageReads(cluster.nodes[1]!.app);
    for (const afterSeq of [last.seq, last.seq + 5]) expect(await call(bob, 'conversation:sync', { conversationId: id, afterSeq })).toEqual({ messages: [], hasMore: false });
    expect(await pageReads(cluster.nodes[1]!.app)).toBe(before);
    // One below: the page is read and the message is there.
    const page = await call(bob, 'conversation:sync', { conversationId: id, afterSeq: last.seq - 1 });
    expect(page.messages.map((m) => m.id)).toEqual([last.id]);
    expect(await pageReads(cluster.nodes[1]!.app)).toBeGreaterThan(before);
  });

  it('a change after the cursor, with no message after it, is still returned', async () => {
    const { alice, bob, id } = await pair();
    const m = await send(alice, id, 'draft');
    await call(alice, 'message:edit', { conversationId: id, messageId: m.id, text: 'edited' });
    const page = await call(bob, 'conversation:sync', { conversationId: id, afterSeq: m.seq });
    expect(page.messages).toHaveLength(1);
    expect(page.messages[0]).toMatchObject({ id: m.id, text: 'edited', updatedSeq: m.seq + 1 });
    expect(await call(bob, 'conversation:sync', { conversationId: id, afterSeq: m.seq + 1 })).toMatchObject({ messages: [], hasMore: false });
  });

  it('a message acknowledged on one node is in a sync on the other right after the ack', async () => {
    const { alice, bob, id } = await pair();
    let after = (await send(alice, id, 'start')).seq;
    for (let round = 0; round < 20; round++) {
      const m = await send(alice, id, `r${round}`);
      const page = await call(bob, 'conversation:sync', { conversationId: id, afterSeq: after });
      expect(page.messages.map((x) => x.id), `round ${round}`).toEqual([m.id]);
      after = m.seq;
    }
  });
});
