// REST (#5, PROTOCOL.md §6) on both store lanes, two gateway nodes each: authentication on every
// documented route, the non-member rule, validation naming the field, the body limit, CORS,
// request ids and the docs page. Conversations, sends and the DLQ: rest-chat.int.test.ts.
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Message } from '../../protocol/index.js';
import { openApiDocument } from '../rest/openapi.js';
import { call, clientMsgId } from './support/chat.js';
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
    cluster = await startCluster({ nodes: 2, store, env: { CORS_ORIGINS: ALLOWED_ORIGIN } });
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
    const bad: [string, string, string, string, { json?: unknown; raw?: string; headers?: Record<string, string> }?][] = [
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
      ['a parameter on a route that takes none', 'GET', '/v1/conversations/{priv}?verbose=1', 'query.verbose'],
      ['a query on a send', 'POST', '/v1/conversations/{priv}/messages?dryRun=1', 'query.dryRun', { json: { kind: 'text', text: 'hi' } }],
      ['a query on settings', 'PUT', '/v1/me/settings?force=1', 'query.force', { json: { readReceipts: true } }],
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
