// REST (#5, PROTOCOL.md §6) on both store lanes, two gateway nodes each: authentication on every
// documented route, the non-member rule, validation naming the field, the body limit, CORS,
// bot sends through the socket send path, conversation list and unread counts, members and
// read-receipt privacy, the rate limit, the dead-letter admin routes and the docs page.
import { Validator } from '@seriousme/openapi-schema-validator';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ListConversationsResponse, Member, Message } from '../../protocol/index.js';
import { DEAD_LETTER_QUEUE, DELIVERY_QUEUE, JOB_NAME } from '../delivery/queue.js';
import { openApiDocument } from '../rest/openapi.js';
import { call, clientMsgId, inbox } from './support/chat.js';
import { startCluster, type Cluster, type StoreKind } from './support/cluster.js';
import { client, http } from './support/http.js';

const LANES: StoreKind[] = ['postgres', 'mongo'];
const ALLOWED_ORIGIN = 'https://app.example';

describe.each(LANES)('REST on %s', (store) => {
  let cluster: Cluster;
  /** A private group (alice owner, bob) and a public one (alice owner, bob). */
  let priv: string;
  let pub: string;
  const api = (user: string, node = 0, roles?: string[]) =>
    client(cluster.nodes[node]!.url, cluster.token(user, roles ? { roles } : {}));
  const url = (node = 0) => cluster.nodes[node]!.url;

  beforeAll(async () => {
    cluster = await startCluster({ nodes: 2, store, env: { CORS_ORIGINS: ALLOWED_ORIGIN, DELIVERY_ATTEMPTS: '2' } });
    const alice = await cluster.connect('alice', 0);
    priv = (await call(alice, 'conversation:create', { type: 'group', title: 'private', memberIds: ['bob'] })).conversation.id;
    pub = (await call(alice, 'conversation:create', { type: 'group', title: 'public', memberIds: ['bob'], public: true })).conversation.id;
  });
  afterAll(() => cluster?.close());

  describe('authentication', () => {
    const doc = openApiDocument();
    const operations = Object.entries(doc.paths ?? {})
      .filter(([path]) => path.startsWith('/v1/'))
      .flatMap(([path, item]) =>
        (['get', 'put', 'post'] as const).filter((m) => (item as Record<string, unknown>)[m]).map((m) => [m.toUpperCase(), path] as const),
      );

    it('covers every documented /v1 operation', () => {
      expect(operations.length).toBeGreaterThanOrEqual(9);
    });

    it.each(operations)('%s %s refuses a missing, malformed, wrongly signed or expired token with 401', async (method, template) => {
      const path = template.replace('{id}', priv).replace('{jobId}', 'some-job');
      const tokens: (string | undefined)[] = [
        undefined,
        'not-a-jwt',
        cluster.token('alice', { secret: 'another-secret-0123456789abcdef0123456789' }),
        cluster.token('alice', { expiresInSec: -10 }),
      ];
      for (const token of tokens) {
        const res = await http(url(1), method, path, {
          ...(token !== undefined ? { token } : {}),
          ...(method === 'GET' ? {} : { json: { kind: 'text', text: 'hi', readReceipts: true } }),
        });
        expect(res.status, `${method} ${path} with ${token ?? 'no token'}`).toBe(401);
        expect(res.body).toEqual({ error: { code: 'UNAUTHENTICATED', message: expect.any(String) } });
      }
      const basic = await http(url(0), method, path, { headers: { authorization: 'Basic YWxpY2U6cHc=' } });
      expect(basic.status).toBe(401);
    });
  });

  describe('non-members', () => {
    const routes = (id: string) =>
      [
        ['GET', `/v1/conversations/${id}`],
        ['GET', `/v1/conversations/${id}/members`],
        ['GET', `/v1/conversations/${id}/messages`],
        ['POST', `/v1/conversations/${id}/messages`],
      ] as const;
    const send = (method: string, path: string) =>
      http(url(1), method, path, {
        token: cluster.token('dave'),
        ...(method === 'POST' ? { json: { kind: 'text', text: 'let me in' }, headers: { 'idempotency-key': clientMsgId('dave') } } : {}),
      });

    it('get 404 for a private conversation, indistinguishable from one that does not exist', async () => {
      for (const [method, path] of routes(priv)) {
        const res = await send(method, path);
        expect(res.status, `${method} ${path}`).toBe(404);
        const missing = await send(method, path.replace(priv, 'no-such-conversation'));
        expect(missing.status).toBe(404);
        expect(res.body).toEqual(missing.body);
      }
    });

    it('get 403 for a public conversation', async () => {
      for (const [method, path] of routes(pub)) {
        const res = await send(method, path);
        expect(res.status, `${method} ${path}`).toBe(403);
        expect(res.body.error.code).toBe('FORBIDDEN');
      }
      const history = await api('alice').get(`/v1/conversations/${pub}/messages`);
      expect(history.body.messages.some((m: Message) => m.senderId === 'dave')).toBe(false);
    });
  });

  describe('validation', () => {
    const bad: [string, string, string, { json?: unknown; raw?: string; headers?: Record<string, string> }?][] = [
      ['limit=abc', 'GET', '/v1/conversations?limit=abc', 'query.limit'],
      ['limit=0', 'GET', '/v1/conversations?limit=0', 'query.limit'],
      ['limit over the maximum', 'GET', '/v1/conversations?limit=201', 'query.limit'],
      ['a repeated parameter', 'GET', '/v1/conversations?limit=1&limit=2', 'query.limit'],
      ['an unknown parameter', 'GET', '/v1/conversations?sort=asc', 'query.sort'],
      ['a garbage cursor', 'GET', '/v1/conversations?cursor=garbage', 'query.cursor'],
      ['a garbage members cursor', 'GET', '/v1/conversations/{priv}/members?cursor=Zm9v', 'query.cursor'],
      ['a negative before', 'GET', '/v1/conversations/{priv}/messages?before=-1', 'query.before'],
      ['a fractional after', 'GET', '/v1/conversations/{priv}/messages?after=1.5', 'query.after'],
      ['both before and after', 'GET', '/v1/conversations/{priv}/messages?before=5&after=1', 'query.after'],
      ['an unknown history parameter', 'GET', '/v1/conversations/{priv}/messages?since=1', 'query.since'],
      ['a malformed id', 'GET', '/v1/conversations/not%20an%20id', 'params.id'],
      ['no Idempotency-Key', 'POST', '/v1/conversations/{priv}/messages', 'header.idempotency-key', { json: { kind: 'text', text: 'hi' } }],
      ['a bad Idempotency-Key', 'POST', '/v1/conversations/{priv}/messages', 'header.idempotency-key', { json: { kind: 'text', text: 'hi' }, headers: { 'idempotency-key': 'has spaces' } }],
      ['a text send without text', 'POST', '/v1/conversations/{priv}/messages', 'body.text', { json: { kind: 'text' } }],
      ['blank text', 'POST', '/v1/conversations/{priv}/messages', 'body.text', { json: { kind: 'text', text: ' \u0000 ' } }],
      ['an unknown body field', 'POST', '/v1/conversations/{priv}/messages', 'body.conversationId', { json: { kind: 'text', text: 'hi', conversationId: 'x' } }],
      ['a plain-http attachment', 'POST', '/v1/conversations/{priv}/messages', 'body.attachment.url', { json: { kind: 'file', attachment: { url: 'http://x.example/a.png', name: 'a.png', size: 1, mime: 'image/png' } } }],
      ['no body', 'POST', '/v1/conversations/{priv}/messages', 'body', {}],
      ['a non-boolean setting', 'PUT', '/v1/me/settings', 'body.readReceipts', { json: { readReceipts: 'no' } }],
      ['an empty settings body', 'PUT', '/v1/me/settings', 'body.readReceipts', { json: {} }],
    ];

    it.each(bad)('%s gets 400 naming the field', async (_name, method, template, field, opts = {}) => {
      const path = template.replace('{priv}', priv);
      const headers = { 'idempotency-key': clientMsgId('v'), ...opts.headers };
      if (field === 'header.idempotency-key' && !opts.headers) delete (headers as Record<string, string>)['idempotency-key'];
      const res = await http(url(0), method, path, { token: cluster.token('alice'), ...opts, headers });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: { code: 'INVALID_ARGUMENT', message: expect.stringContaining(field), field } });
    });

    it('malformed JSON gets 400 and stores nothing', async () => {
      const before = await api('alice').get(`/v1/conversations/${priv}`);
      const res = await http(url(0), 'POST', `/v1/conversations/${priv}/messages`, {
        token: cluster.token('alice'),
        raw: '{"kind": "text", "text": ',
        headers: { 'idempotency-key': clientMsgId('json') },
      });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/^body/) });
      const after = await api('alice').get(`/v1/conversations/${priv}`);
      expect(after.body.conversation.lastSeq).toBe(before.body.conversation.lastSeq);
    });

    it('an admin query is validated too', async () => {
      const res = await api('root', 0, ['admin']).get('/v1/admin/dlq?offset=x');
      expect(res.status).toBe(400);
      expect(res.body.error.field).toBe('query.offset');
    });
  });

  describe('transport', () => {
    it('a body over 64 KB gets 413 in the error shape, with the request id and CORS headers', async () => {
      for (const [method, path] of [
        ['POST', `/v1/conversations/${priv}/messages`],
        ['PUT', '/v1/me/settings'],
      ] as const) {
        const res = await http(url(1), method, path, {
          token: cluster.token('alice'),
          json: { kind: 'text', text: 'x'.repeat(70 * 1024) },
          headers: { 'idempotency-key': clientMsgId('big'), origin: ALLOWED_ORIGIN, 'x-request-id': 'big-body-1' },
        });
        expect(res.status).toBe(413);
        expect(res.body).toEqual({ error: { code: 'PAYLOAD_TOO_LARGE', message: expect.any(String) } });
        expect(res.headers.get('x-request-id')).toBe('big-body-1');
        expect(res.headers.get('access-control-allow-origin')).toBe(ALLOWED_ORIGIN);
      }
    });

    it('CORS answers preflights for allow-listed origins only', async () => {
      const preflight = (origin: string) =>
        http(url(0), 'OPTIONS', '/v1/conversations', {
          headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type,idempotency-key' },
        });
      const ok = await preflight(ALLOWED_ORIGIN);
      expect(ok.status).toBe(204);
      expect(ok.headers.get('access-control-allow-origin')).toBe(ALLOWED_ORIGIN);
      const refused = await preflight('https://evil.example');
      expect(refused.headers.get('access-control-allow-origin')).toBeNull();
      const get = await api('alice').get('/v1/conversations', { headers: { origin: ALLOWED_ORIGIN } });
      expect(get.headers.get('access-control-expose-headers')).toMatch(/X-Request-Id/);
    });

    it('X-Request-Id is echoed when safe and made up otherwise; helmet headers are set', async () => {
      const echoed = await api('alice').get('/v1/me/settings', { headers: { 'x-request-id': 'req-42' } });
      expect(echoed.headers.get('x-request-id')).toBe('req-42');
      const made = await api('alice').get('/v1/me/settings', { headers: { 'x-request-id': 'bad id\twith tab' } });
      expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
      expect(made.headers.get('x-content-type-options')).toBe('nosniff');
      expect(made.headers.get('x-powered-by')).toBeNull();
    });

    it('an unknown /v1 route is 404 in the error shape', async () => {
      const res = await api('alice').get('/v1/nothing-here');
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('NOT_FOUND');
    });
  });

  describe('conversations', () => {
    it('GET /v1/conversations/:id returns the conversation and the caller\'s membership', async () => {
      const res = await api('bob', 1).get(`/v1/conversations/${priv}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('private, no-store');
      expect(res.body.conversation).toMatchObject({ id: priv, type: 'group', title: 'private', public: false, createdBy: 'alice' });
      expect(res.body.membership).toMatchObject({ conversationId: priv, userId: 'bob', role: 'member', joinedSeq: 0 });
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
      expect(off.body).toEqual({ readReceipts: false });
      expect((await bobApi.get('/v1/me/settings')).body).toEqual({ readReceipts: false });

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
      // Sending moved the bot's own watermarks (it has nothing unread).
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
      const greedy = api('greedy');
      const results = await Promise.all(Array.from({ length: 110 }, () => greedy.get('/v1/conversations/no-such-conversation/messages')));
      const limited = results.filter((r) => r.status === 429);
      expect(limited.length).toBeGreaterThan(0);
      expect(results.filter((r) => r.status === 404).length).toBeLessThanOrEqual(100);
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
        expect(poison).toMatchObject({ jobId: expect.any(String), attemptsMade: 2, failedReason: expect.stringMatching(/malformed delivery job/) });

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

  describe('docs', () => {
    it('GET /docs/openapi.json serves a valid OpenAPI 3.1 document', async () => {
      const res = await http(url(1), 'GET', '/docs/openapi.json');
      expect(res.status).toBe(200);
      expect(res.body.openapi).toBe('3.1.0');
      const result = await new Validator().validate(res.body);
      expect(result.valid).toBe(true);
    });

    it('GET /docs renders Swagger UI from local assets under a CSP that allows it', async () => {
      const redirect = await fetch(new URL('/docs', url(0)), { redirect: 'manual' });
      expect(redirect.status).toBe(301);
      expect(redirect.headers.get('location')).toBe('/docs/');
      const page = await http(url(0), 'GET', '/docs/');
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/text\/html/);
      expect(page.body).toContain('swagger-ui-bundle.js');
      expect(page.body).not.toMatch(/https?:\/\/(?!www\.w3\.org)/);
      const csp = page.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain('upgrade-insecure-requests');
      for (const asset of ['swagger-ui-bundle.js', 'swagger-ui.css', 'swagger-ui-init.js']) {
        const res = await fetch(new URL(`/docs/${asset}`, url(0)));
        expect(res.status, asset).toBe(200);
      }
      const init = await (await fetch(new URL('/docs/swagger-ui-init.js', url(0)))).text();
      expect(init).toContain('/v1/conversations/{id}/messages');
    });
  });
});
