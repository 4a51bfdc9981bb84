// REST (#5, PROTOCOL.md §6) on both store lanes, two gateway nodes each: the conversation list
// and unread counts, members and read-receipt privacy, bot sends through the socket send path,
// the rate limit and the dead-letter admin routes.
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ListConversationsResponse, Member, Message } from '../../protocol/index.js';
import { DEAD_LETTER_QUEUE, DELIVERY_QUEUE, JOB_NAME } from '../delivery/queue.js';
import { call, clientMsgId, inbox } from './support/chat.js';
import { startCluster, type Cluster, type StoreKind } from './support/cluster.js';
import { client } from './support/http.js';

const LANES: StoreKind[] = ['postgres', 'mongo'];

describe.each(LANES)('REST chat on %s', (store) => {
  let cluster: Cluster;
  const api = (user: string, node = 0, roles?: string[]) =>
    client(cluster.nodes[node]!.url, cluster.token(user, roles ? { roles } : {}));

  beforeAll(async () => {
    // Two attempts, so a poison job reaches the dead-letter queue quickly.
    cluster = await startCluster({ nodes: 2, store, env: { DELIVERY_ATTEMPTS: '2' } });
  });
  afterAll(() => cluster?.close());

  describe('conversations', () => {
    it('GET /v1/conversations/:id returns the conversation and the caller\'s membership', async () => {
      const alice = await cluster.connect('alice', 0);
      const id = (await call(alice, 'conversation:create', { type: 'group', title: 'private', memberIds: ['bob'] })).conversation.id;
      const res = await api('bob', 1).get(`/v1/conversations/${id}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('private, no-store');
      expect(res.body.conversation).toMatchObject({ id, type: 'group', title: 'private', public: false, createdBy: 'alice' });
      expect(res.body.membership).toMatchObject({ conversationId: id, userId: 'bob', role: 'member', joinedSeq: 0 });
    });

    it('the list is most recently active first, pages by cursor, and unread moves after message:read', async () => {
      const erin = await cluster.connect('erin', 0);
      const frank = api('frank', 1);
      const direct = (await call(erin, 'conversation:create', { type: 'direct', peerId: 'frank' })).conversation.id;
      const group = (await call(erin, 'conversation:create', { type: 'group', title: 'later', memberIds: ['frank'] })).conversation.id;
      const sent: Message[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await frank.post(`/v1/conversations/${direct}/messages`, { kind: 'text', text: `hello ${i}` }, { headers: { 'idempotency-key': clientMsgId('f') } });
        expect(res.status).toBe(201);
        sent.push(res.body.message);
      }
      const list = async () => (await api('erin').get<ListConversationsResponse>('/v1/conversations')).body.conversations;
      let items = await list();
      expect(items.map((c) => c.id)).toEqual([direct, group]);
      expect(items[0]).toMatchObject({ type: 'direct', role: 'member', unread: 3, lastSeq: sent[2]!.seq, lastMessage: { id: sent[2]!.id, text: 'hello 2' } });
      // System messages (created) are not unread.
      expect(items[1]).toMatchObject({ role: 'owner', unread: 0, lastMessage: { kind: 'system' } });
      // The sender's own messages are not unread for them.
      const franks = (await frank.get<ListConversationsResponse>('/v1/conversations')).body.conversations;
      expect(franks.find((c) => c.id === direct)!.unread).toBe(0);

      await call(erin, 'message:read', { conversationId: direct, seq: sent[1]!.seq });
      items = await list();
      expect(items[0]!.unread).toBe(1);
      await call(erin, 'message:read', { conversationId: direct, seq: sent[2]!.seq });
      expect((await list())[0]!.unread).toBe(0);

      const first = await api('erin').get<ListConversationsResponse>('/v1/conversations?limit=1');
      expect(first.body.conversations.map((c) => c.id)).toEqual([direct]);
      expect(first.body.nextCursor).toEqual(expect.any(String));
      const second = await api('erin').get<ListConversationsResponse>(`/v1/conversations?limit=1&cursor=${encodeURIComponent(first.body.nextCursor!)}`);
      expect(second.body.conversations.map((c) => c.id)).toEqual([group]);
      expect(second.body.nextCursor).toBeUndefined();
    });

    it('members: role and receipts, readSeq hidden for a member with read receipts off', async () => {
      const alice = await cluster.connect('alice', 1);
      const room = (await call(alice, 'conversation:create', { type: 'group', title: 'receipts', memberIds: ['bob', 'carol'] })).conversation.id;
      const bobApi = api('bob', 1);
      const off = await bobApi.put('/v1/me/settings', { readReceipts: false });
      expect(off.status).toBe(200);
      expect(off.body).toEqual({ readReceipts: false, presence: true });
      expect((await bobApi.get('/v1/me/settings')).body).toEqual({ readReceipts: false, presence: true });

      const members = async (viewer: string) => {
        const res = await api(viewer).get<{ members: Member[]; nextCursor?: string }>(`/v1/conversations/${room}/members`);
        expect(res.status).toBe(200);
        return new Map(res.body.members.map((m) => [m.userId, m]));
      };
      const seenByAlice = await members('alice');
      expect([...seenByAlice.keys()]).toEqual(['alice', 'bob', 'carol']);
      expect(seenByAlice.get('alice')).toMatchObject({ role: 'owner', readSeq: expect.any(Number), deliveredSeq: expect.any(Number) });
      expect(seenByAlice.get('bob')).toMatchObject({ role: 'member', deliveredSeq: expect.any(Number) });
      expect(seenByAlice.get('bob')).not.toHaveProperty('readSeq');
      expect(seenByAlice.get('carol')).toHaveProperty('readSeq');
      // Bob still sees his own readSeq.
      expect((await members('bob')).get('bob')).toHaveProperty('readSeq');

      // Paging by cursor returns each member once.
      const paged: string[] = [];
      let cursor: string | undefined;
      do {
        const res = await api('carol').get(`/v1/conversations/${room}/members?limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        paged.push(...res.body.members.map((m: Member) => m.userId));
        cursor = res.body.nextCursor;
      } while (cursor && paged.length < 10);
      expect(paged).toEqual(['alice', 'bob', 'carol']);

      await bobApi.put('/v1/me/settings', { readReceipts: true });
      expect((await members('alice')).get('bob')).toHaveProperty('readSeq');
    });
  });

  describe('bot sends', () => {
    it('a REST send reaches sockets on both nodes; a repeated Idempotency-Key returns the same message', async () => {
      const owner = await cluster.connect('bot-owner', 0);
      const room = (await call(owner, 'conversation:create', { type: 'group', title: 'bots', memberIds: ['bot-1', 'gina', 'hal'] })).conversation.id;
      const gina = await cluster.connect('gina', 0);
      const hal = await cluster.connect('hal', 1);
      const ginaInbox = inbox(gina);
      const halInbox = inbox(hal);
      const bot = api('bot-1', 1);
      const key = clientMsgId('bot');

      const first = await bot.post(`/v1/conversations/${room}/messages`, { kind: 'text', text: '  build #42 passed \u0007 ' }, { headers: { 'idempotency-key': key } });
      expect(first.status).toBe(201);
      expect(first.body).toMatchObject({ duplicate: false, message: { conversationId: room, senderId: 'bot-1', clientMsgId: key, kind: 'text', text: 'build #42 passed' } });
      const message = first.body.message as Message;
      await Promise.all([ginaInbox.hasAll([message.id]), halInbox.hasAll([message.id])]);

      const again = await api('bot-1', 0).post(`/v1/conversations/${room}/messages`, { kind: 'text', text: 'build #42 passed' }, { headers: { 'idempotency-key': key } });
      expect(again.status).toBe(200);
      expect(again.body).toEqual({ message, duplicate: true });
      // The socket send path shares the idempotency key space: the same clientMsgId is a repeat.
      const botSocket = await cluster.connect('bot-1', 0);
      const viaSocket = await call(botSocket, 'message:send', { conversationId: room, clientMsgId: key, kind: 'text', text: 'other text' });
      expect(viaSocket).toEqual({ message, duplicate: true });

      const history = await api('gina').get(`/v1/conversations/${room}/messages?after=0`);
      expect(history.body.messages.filter((m: Message) => m.clientMsgId === key)).toHaveLength(1);
      // Sending moved the bot's own watermarks to its message (read directly: `unread: 0` would
      // hold either way, since a sender's own messages never count as unread).
      const watermarks = await cluster.nodes[0]!.app.store.getMembership(room, 'bot-1');
      expect(watermarks).toMatchObject({ deliveredSeq: message.seq, readSeq: message.seq });
      const botList = (await bot.get<ListConversationsResponse>('/v1/conversations')).body.conversations;
      expect(botList.find((c) => c.id === room)).toMatchObject({ unread: 0, lastMessage: { id: message.id } });
    });

    it('the socket policy holds: a plain channel member may not post', async () => {
      const owner = await cluster.connect('chan-owner', 1);
      const channel = (await call(owner, 'conversation:create', { type: 'channel', title: 'news', memberIds: ['reader'] })).conversation.id;
      const res = await api('reader').post(`/v1/conversations/${channel}/messages`, { kind: 'text', text: 'hi' }, { headers: { 'idempotency-key': clientMsgId('r') } });
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('FORBIDDEN');
      const ok = await api('chan-owner').post(`/v1/conversations/${channel}/messages`, { kind: 'text', text: 'news' }, { headers: { 'idempotency-key': clientMsgId('o') } });
      expect(ok.status).toBe(201);
    });
  });

  describe('rate limits', () => {
    it('reads beyond the budget get 429 with Retry-After', async () => {
      // A node whose read budget is 10 per 5 s window (scale 0.1), so 40 requests exceed it
      // however slowly a loaded machine serves them (160 against 100 did not, in 8 s).
      const small = await startCluster({ nodes: 1, store, env: { RATE_LIMIT_SCALE: '0.1' } });
      const greedy = client(small.nodes[0]!.url, small.token('greedy'));
      const results = await Promise.all(Array.from({ length: 40 }, () => greedy.get('/v1/conversations/no-such-conversation/messages'))).finally(() =>
        small.close(),
      );
      const limited = results.filter((r) => r.status === 429);
      expect(limited.length).toBeGreaterThan(0);
      expect(results.every((r) => r.status === 404 || r.status === 429)).toBe(true);
      expect(Number(limited[0]!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(limited[0]!.body.error).toMatchObject({ code: 'RATE_LIMITED', retryAfterMs: expect.any(Number) });
    });
  });

  describe('dead-letter queue', () => {
    /** Re-checks `check` until it returns a value (bounded): the worker dead-letters asynchronously. */
    async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const value = await check();
        if (value !== undefined) return value;
        if (Date.now() > until) throw new Error('condition not met in time');
        await new Promise((r) => setTimeout(r, 50));
      }
    }

    it('is for admins only: 403 for other users', async () => {
      const bob = api('bob');
      const list = await bob.get('/v1/admin/dlq');
      expect(list.status).toBe(403);
      expect(list.body.error.code).toBe('FORBIDDEN');
      const retry = await bob.post('/v1/admin/dlq/anything/retry');
      expect(retry.status).toBe(403);
    });

    it('an admin lists dead letters and replays one, which then reaches the members live', async () => {
      const admin = api('operator', 1, ['admin']);
      const connection = new Redis(cluster.env.REDIS_URL!, { maxRetriesPerRequest: null });
      const delivery = new Queue(DELIVERY_QUEUE, { connection, prefix: cluster.env.REDIS_PREFIX });
      const dlq = new Queue(DEAD_LETTER_QUEUE, { connection, prefix: cluster.env.REDIS_PREFIX });
      try {
        // A poison job, dead-lettered by the worker itself after its attempts.
        await delivery.add(JOB_NAME, { message: { id: 'poison' }, acceptedAt: 1 } as never, { attempts: 2, backoff: { type: 'fixed', delay: 10 }, jobId: 'poison-1' });
        const poison = await eventually(async () => (await admin.get('/v1/admin/dlq')).body.jobs.find((j: { messageId?: string }) => j.messageId === 'poison'));
        expect(poison).toMatchObject({ jobId: expect.any(String), attemptsMade: 1, failedReason: expect.stringMatching(/malformed delivery job/) });

        // A stored message whose delivery failed: its dead letter as the worker writes it.
        const owner = await cluster.connect('dl-owner', 0);
        const room = (await call(owner, 'conversation:create', { type: 'group', title: 'dead letters', memberIds: ['ivy'] })).conversation.id;
        const ivy = await cluster.connect('ivy', 1);
        const ivyInbox = inbox(ivy);
        const { message } = await cluster.nodes[0]!.app.store.appendMessage({ conversationId: room, senderId: 'dl-owner', clientMsgId: clientMsgId('dl'), kind: 'text', text: 'late' });
        const deadId = `dead-msg-${message.id}-5-${Date.now()}`;
        await dlq.add('dead', { data: { message, acceptedAt: Date.now() }, originalJobId: `msg-${message.id}`, failedReason: 'publish failed', attemptsMade: 5, failedAt: Date.now() }, { jobId: deadId });

        const listed = await admin.get('/v1/admin/dlq');
        expect(listed.status).toBe(200);
        expect(listed.body.total).toBe(2);
        expect(listed.body.jobs.map((j: { jobId: string }) => j.jobId)).toEqual([poison.jobId, deadId]);
        expect(listed.body.jobs[1]).toEqual({ jobId: deadId, messageId: message.id, conversationId: room, failedReason: 'publish failed', attemptsMade: 5, timestamp: expect.any(Number) });
        const second = await admin.get('/v1/admin/dlq?limit=1&offset=1');
        expect(second.body).toEqual({ jobs: [listed.body.jobs[1]], total: 2 });

        const retry = await admin.post(`/v1/admin/dlq/${deadId}/retry`);
        expect(retry.status).toBe(200);
        expect(retry.body).toEqual({ jobId: deadId, replayedAs: expect.any(String) });
        expect(retry.body.replayedAs).not.toBe(`msg-${message.id}`);
        await ivyInbox.hasAll([message.id]);
        expect(ivyInbox.byId().get(message.id)).toEqual(message);

        const after = await admin.get('/v1/admin/dlq');
        expect(after.body.jobs.map((j: { jobId: string }) => j.jobId)).toEqual([poison.jobId]);
        expect((await admin.post(`/v1/admin/dlq/${deadId}/retry`)).status).toBe(404);
        expect((await admin.post('/v1/admin/dlq/no-such-job/retry')).status).toBe(404);
      } finally {
        await delivery.close();
        await dlq.close();
        await connection.quit();
      }
    });
  });

});
