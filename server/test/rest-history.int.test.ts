// REST history (#5, PROTOCOL.md §6) on both store lanes: keyset paging in both directions over
// ~500 messages returns each visible message exactly once, respects membership periods (a
// leaver's gap, a late joiner's start) and the cursor rules, and the page ETag answers 304.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HistoryResponse, Message } from '../../protocol/index.js';
import type { NewMessage } from '../store/store.js';
import { call } from './support/chat.js';
import { startCluster, type Cluster, type StoreKind } from './support/cluster.js';
import { client } from './support/http.js';

const LANES: StoreKind[] = ['postgres', 'mongo'];

describe.each(LANES)('REST history on %s', (store) => {
  let cluster: Cluster;
  let conversationId: string;
  /** Every seq of the conversation, and what each user may see. */
  const all: number[] = [];
  const visible: Record<'alice' | 'bob' | 'carol', number[]> = { alice: [], bob: [], carol: [] };
  let carolJoinedSeq = 0;
  const api = (user: string) => client(cluster.nodes[user === 'bob' ? 1 : 0]!.url, cluster.token(user));

  /** Appends `n` text messages from alice straight into the store (in batches) and returns their seqs. */
  async function appendMany(n: number, tag: string): Promise<number[]> {
    const seqs: number[] = [];
    for (let i = 0; i < n; i += 100) {
      const batch: NewMessage[] = Array.from({ length: Math.min(100, n - i) }, (_, j) => ({
        conversationId,
        senderId: 'alice',
        clientMsgId: `${tag}-${i + j}`,
        kind: 'text',
        text: `${tag} ${i + j}`,
      }));
      const results = await cluster.nodes[0]!.app.store.appendMessages(batch);
      seqs.push(...results.map((r) => r.message.seq));
    }
    return seqs;
  }

  const lastSeq = async () => {
    const res = await api('alice').get(`/v1/conversations/${conversationId}`);
    if (res.status !== 200) throw new Error(`${res.status} ${JSON.stringify(res.body)}`);
    return res.body.conversation.lastSeq as number;
  };

  beforeAll(async () => {
    cluster = await startCluster({ nodes: 2, store });
    const alice = await cluster.connect('alice', 0);
    const bob = await cluster.connect('bob', 1);
    const { conversation } = await call(alice, 'conversation:create', { type: 'group', title: 'paging', memberIds: ['bob'] });
    conversationId = conversation.id;
    const created = conversation.lastSeq;
    const first = await appendMany(200, 'a');
    await call(bob, 'conversation:leave', { conversationId });
    const left = await lastSeq();
    const gap = await appendMany(100, 'b');
    await call(alice, 'conversation:addMembers', { conversationId, userIds: ['bob', 'carol'] });
    const added = await lastSeq();
    const last = await appendMany(200, 'c');

    all.push(created, ...first, left, ...gap, added, ...last);
    visible.alice = all;
    visible.bob = [created, ...first, added, ...last];
    visible.carol = [added, ...last];
    const carolView = await api('carol').get(`/v1/conversations/${conversationId}`);
    expect(carolView.status).toBe(200);
    carolJoinedSeq = carolView.body.membership.joinedSeq;
  });
  afterAll(() => cluster?.close());

  /** Follows the cursors of one direction to the end; checks each page's shape on the way. */
  async function pageAll(user: string, dir: 'before' | 'after', limit?: number): Promise<Message[]> {
    const seen: Message[] = [];
    let cursor: number | undefined = dir === 'after' ? 0 : undefined;
    for (let pages = 0; pages < 100; pages++) {
      const qs = new URLSearchParams();
      if (limit !== undefined) qs.set('limit', String(limit));
      if (cursor !== undefined) qs.set(dir, String(cursor));
      const res = await api(user).get<HistoryResponse>(`/v1/conversations/${conversationId}/messages?${qs}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('private, no-store');
      const { messages, nextBefore, nextAfter } = res.body;
      const next = dir === 'before' ? nextBefore : nextAfter;
      expect(dir === 'before' ? nextAfter : nextBefore).toBeUndefined();
      seen.push(...messages);
      if (next === undefined) return seen;
      // A cursor means a further page exists, so this one is full and ends at the cursor.
      expect(messages).toHaveLength(limit ?? 50);
      expect(next).toBe(messages.at(-1)!.seq);
      cursor = next;
    }
    throw new Error('paging did not end');
  }

  const seqs = (messages: Message[]) => messages.map((m) => m.seq);
  const desc = (xs: number[]) => [...xs].sort((a, b) => b - a);
  const asc = (xs: number[]) => [...xs].sort((a, b) => a - b);

  it('has about 500 messages to page through', () => {
    expect(all).toHaveLength(503);
    expect(new Set(all).size).toBe(503);
  });

  it.each([
    ['alice', 37],
    ['bob', undefined],
    ['bob', 200],
    ['carol', 67],
  ] as const)('%s pages backward (limit %s): newest first, every visible message exactly once', async (user, limit) => {
    const got = await pageAll(user, 'before', limit);
    expect(seqs(got)).toEqual(desc(visible[user]));
    expect(got.every((m) => m.conversationId === conversationId)).toBe(true);
  });

  it.each([
    ['alice', 37],
    ['bob', 50],
    ['carol', 67],
  ] as const)('%s pages forward from after=0 (limit %s): oldest first, every visible message exactly once', async (user, limit) => {
    const got = await pageAll(user, 'after', limit);
    expect(seqs(got)).toEqual(asc(visible[user]));
  });

  it('a full last page carries no cursor (201 messages in pages of 67)', async () => {
    expect(visible.carol).toHaveLength(201);
    const q = (s: string) => api('carol').get<HistoryResponse>(`/v1/conversations/${conversationId}/messages?${s}`);
    const third = await q(`limit=67&before=${desc(visible.carol)[133]!}`);
    expect(third.body.messages).toHaveLength(67);
    expect(third.body.nextBefore).toBeUndefined();
  });

  it('a late joiner sees history from their join on, never before', async () => {
    const got = await pageAll('carol', 'before', 200);
    expect(got.length).toBeGreaterThan(0);
    expect(Math.min(...seqs(got))).toBe(carolJoinedSeq + 1);
    expect(got[got.length - 1]!.system).toMatchObject({ action: 'added' });
    // Asking explicitly for older messages returns nothing rather than leaking them.
    const older = await api('carol').get<HistoryResponse>(`/v1/conversations/${conversationId}/messages?before=${carolJoinedSeq + 1}`);
    expect(older.status).toBe(200);
    expect(older.body).toEqual({ messages: [] });
    const fromZero = await api('carol').get<HistoryResponse>(`/v1/conversations/${conversationId}/messages?after=0&limit=1`);
    expect(fromZero.body.messages[0]!.seq).toBe(carolJoinedSeq + 1);
  });

  it('a cursor inside a gap of the membership skips what the caller may not see', async () => {
    const gapSeq = all.find((s) => !visible.bob.includes(s) && s > visible.bob[1]!)!;
    const page = await api('bob').get<HistoryResponse>(`/v1/conversations/${conversationId}/messages?before=${gapSeq}&limit=3`);
    const lastOfFirstPeriod = Math.max(...visible.bob.filter((s) => s < gapSeq));
    expect(seqs(page.body.messages)).toEqual(desc(visible.bob.filter((s) => s <= lastOfFirstPeriod)).slice(0, 3));
  });

  it('neither before nor after: the newest page, default limit 50', async () => {
    const res = await api('alice').get<HistoryResponse>(`/v1/conversations/${conversationId}/messages`);
    expect(seqs(res.body.messages)).toEqual(desc(all).slice(0, 50));
    expect(res.body.nextBefore).toBe(desc(all)[49]);
  });

  it('the page ETag turns a repeat into 304 until the page changes', async () => {
    const path = `/v1/conversations/${conversationId}/messages?limit=5`;
    const first = await api('alice').get(path);
    const etag = first.headers.get('etag');
    expect(etag).toMatch(/^W\/"h-/);
    const again = await api('alice').get(path, { headers: { 'if-none-match': etag! } });
    expect(again.status).toBe(304);
    expect(again.body).toBe('');
    expect(again.headers.get('etag')).toBe(etag);
    // Another page of the same conversation has another tag.
    const older = await api('alice').get(`${path}&before=${first.body.nextBefore}`, { headers: { 'if-none-match': etag! } });
    expect(older.status).toBe(200);
    expect(older.headers.get('etag')).not.toBe(etag);
    // A new message changes the newest page.
    const [added] = await appendMany(1, 'etag');
    for (const user of ['bob', 'carol'] as const) visible[user] = [...visible[user], added!];
    all.push(added!);
    const changed = await api('alice').get(path, { headers: { 'if-none-match': etag! } });
    expect(changed.status).toBe(200);
    expect(changed.headers.get('etag')).not.toBe(etag);
  });
});
