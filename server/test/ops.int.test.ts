// Operations (#7): /metrics moves with traffic and stays bounded when Redis is away, bull-board
// lets only admins in, a send's log lines carry the correlation ids and never the text or the
// token, and a SIGTERM'd node turns unready, finishes an in-flight send and exits 0.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batchJobIdFor, DEAD_LETTER_QUEUE, DELIVERY_QUEUE, SYSTEM_QUEUE } from '../delivery/queue.js';
import { createMetrics } from '../metrics.js';
import { ADMIN_COOKIE } from '../ops/admin-queues.router.js';
import { registerQueueMetrics } from '../ops/instrument.js';
import type { GatewaySocket } from '../gateway/types.js';
import { connectClient, disconnected, nextEvent, type ClientSocket, type ConnectError } from './support/clients.js';
import { call, clientMsgId, inbox, raw } from './support/chat.js';
import { startCluster, type Cluster, type SpawnedNode } from './support/cluster.js';
import { deleteRedisPrefix, freshRedisPrefix, redisUrl } from './support/env.js';
import { mintToken } from './support/tokens.js';
import { sample } from './support/prom-text.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const clusters: Cluster[] = [];
afterAll(async () => {
  await Promise.all(clusters.map((c) => c.close()));
});

async function cluster(opts: Parameters<typeof startCluster>[0]): Promise<Cluster> {
  const c = await startCluster(opts);
  clusters.push(c);
  return c;
}

// --- Prometheus text helpers --------------------------------------------------------------

async function scrape(baseUrl: string): Promise<string> {
  const res = await fetch(`${baseUrl}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

const val = (text: string, name: string, labels?: Record<string, string>) => sample(text, name, labels) ?? 0;

/** Metric families a registry exports (from its HELP lines). */
function families(text: string): Set<string> {
  return new Set([...text.matchAll(/^# HELP (\S+) /gm)].map((m) => m[1]!));
}

/** Everything issue #7 lists, by the name an operator queries. */
const CATALOGUE = [
  'gateway_sockets_connected',
  'gateway_connects_total',
  'gateway_connect_refusals_total',
  'gateway_disconnects_total',
  'gateway_events_total',
  'gateway_event_duration_seconds',
  'gateway_sends_accepted_total',
  'delivery_emitted_total',
  'delivery_send_to_fanout_seconds',
  'delivery_dead_lettered_total',
  'queue_jobs',
  'queue_metrics_up',
  'queue_job_duration_seconds',
  'queue_jobs_stalled_total',
  'store_operation_duration_seconds',
  'store_operation_errors_total',
  'gateway_rate_limited_total',
  'redis_adapter_errors_total',
  'nodejs_eventloop_lag_seconds',
  'nodejs_eventloop_lag_p99_seconds',
  'process_resident_memory_bytes',
];

describe('metrics', () => {
  let c: Cluster;
  beforeAll(async () => {
    c = await cluster({ nodes: 1 });
  });

  it('exports every metric of the catalogue, with no id-like label', async () => {
    const text = await scrape(c.nodes[0]!.url);
    const have = families(text);
    expect(CATALOGUE.filter((name) => !have.has(name))).toEqual([]);
    const labelNames = new Set([...text.matchAll(/(\w+)="/g)].map((m) => m[1]!));
    for (const forbidden of ['userId', 'user', 'conversationId', 'conversation', 'messageId', 'socketId', 'connId']) {
      expect(labelNames.has(forbidden), forbidden).toBe(false);
    }
  });

  it('move when sockets connect, messages flow and sockets leave', async () => {
    const node = c.nodes[0]!;
    const serverSockets = new Map<string, GatewaySocket>();
    node.app.io!.on('connection', (s) => serverSockets.set(s.data.userId, s));
    const before = await scrape(node.url);

    const alice = await c.connect('met-alice', 0);
    const bob = await c.connect('met-bob', 0);
    const bobInbox = inbox(bob);
    const { conversation } = await call(alice, 'conversation:create', { type: 'group', title: 'metrics', memberIds: ['met-bob'] });
    const sent = [];
    for (let i = 0; i < 5; i++) {
      sent.push(await call(alice, 'message:send', { conversationId: conversation.id, clientMsgId: clientMsgId('met'), kind: 'text', text: `m${i}` }));
    }
    const invalid = await raw(alice, 'message:send', { conversationId: conversation.id });
    expect(invalid.ok).toBe(false);
    await bobInbox.hasAll(sent.map((s) => s.message.id));
    // The worker counts a delivery after its emit, and a job's duration once BullMQ has marked
    // it completed (another Redis round trip), so Bob can be ahead of the counters: scrape until
    // they caught up (bounded).
    let after = await scrape(node.url);
    const delta = (name: string, labels?: Record<string, string>) => val(after, name, labels) - val(before, name, labels);
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; after = await scrape(node.url)) {
      if (delta('delivery_emitted_total') >= 5 && delta('queue_job_duration_seconds_count', { queue: 'delivery', result: 'ok' }) >= 5) break;
      await new Promise((r) => setTimeout(r, 50));
    }

    expect(delta('gateway_sockets_connected')).toBe(2);
    expect(delta('gateway_connects_total')).toBe(2);
    expect(delta('gateway_events_total', { event: 'message:send', code: 'OK' })).toBe(5);
    expect(delta('gateway_events_total', { event: 'message:send', code: 'INVALID_ARGUMENT' })).toBe(1);
    expect(delta('gateway_events_total', { event: 'conversation:create', code: 'OK' })).toBe(1);
    expect(delta('gateway_event_duration_seconds_count', { event: 'message:send' })).toBe(6);
    expect(delta('gateway_sends_accepted_total')).toBe(5);
    // + the system message of the create
    expect(delta('delivery_emitted_total')).toBeGreaterThanOrEqual(5);
    expect(delta('delivery_send_to_fanout_seconds_count')).toBeGreaterThanOrEqual(5);
    expect(delta('queue_job_duration_seconds_count', { queue: 'delivery', result: 'ok' })).toBeGreaterThanOrEqual(5);
    expect(delta('store_operation_duration_seconds_count', { op: 'appendMessage' })).toBeGreaterThanOrEqual(5);
    expect(delta('store_operation_duration_seconds_count', { op: 'listConversationIdsOfUsers' })).toBeGreaterThanOrEqual(1);
    expect(sample(after, 'queue_metrics_up', { queue: 'delivery' })).toBe(1);
    expect(sample(after, 'queue_metrics_up', { queue: 'delivery-dlq' })).toBe(1);
    expect(sample(after, 'queue_jobs', { queue: 'delivery', state: 'waiting' })).toBeDefined();
    expect(sample(after, 'queue_jobs', { queue: 'delivery-dlq', state: 'waiting' })).toBe(0);
    expect(sample(after, 'nodejs_eventloop_lag_p99_seconds')).toBeGreaterThan(0);

    // REST requests are counted by route pattern, never by raw path.
    const stray = `/nope-${randomUUID()}`;
    expect((await fetch(`${node.url}${stray}`)).status).toBe(404);
    expect((await fetch(`${node.url}/healthz`)).status).toBe(200);
    const http = await scrape(node.url);
    expect(val(http, 'http_requests_total', { route: '/healthz', status: '200' }) - val(after, 'http_requests_total', { route: '/healthz', status: '200' })).toBe(1);
    expect(val(http, 'http_requests_total', { route: 'unmatched', status: '404' }) - val(after, 'http_requests_total', { route: 'unmatched', status: '404' })).toBe(1);
    expect(http).not.toContain(stray);

    const bobOnServer = serverSockets.get('met-bob')!;
    const gone = new Promise<string>((resolve) => bobOnServer.once('disconnect', resolve));
    bob.close();
    expect(await gone).toBe('client namespace disconnect');
    const left = await scrape(node.url);
    expect(val(left, 'gateway_sockets_connected') - val(after, 'gateway_sockets_connected')).toBe(-1);
    expect(val(left, 'gateway_disconnects_total', { reason: 'client namespace disconnect' }) - val(after, 'gateway_disconnects_total', { reason: 'client namespace disconnect' })).toBe(1);
    alice.close();
  });

  it('counts refused handshakes by code', async () => {
    const node = c.nodes[0]!;
    const before = await scrape(node.url);
    const err = await connectClient(node.url, 'not-a-jwt').then(
      (s) => {
        s.close();
        throw new Error('accepted');
      },
      (e: ConnectError) => e,
    );
    expect(err.data?.code).toBe('UNAUTHENTICATED');
    const after = await scrape(node.url);
    expect(val(after, 'gateway_connect_refusals_total', { code: 'UNAUTHENTICATED' }) - val(before, 'gateway_connect_refusals_total', { code: 'UNAUTHENTICATED' })).toBe(1);
  });
});

describe('queue gauges', () => {
  it('report depth per state, read at scrape time', async () => {
    const prefix = freshRedisPrefix();
    const connection = new Redis(redisUrl(), { maxRetriesPerRequest: null });
    const queue = new Queue(`gauge-${randomUUID()}`, { connection, prefix });
    try {
      const metrics = createMetrics('gauge-test');
      registerQueueMetrics(metrics, [queue]);
      const empty = await metrics.registry.metrics();
      expect(sample(empty, 'queue_jobs', { queue: queue.name, state: 'waiting' })).toBe(0);
      await queue.addBulk([
        { name: 'a', data: {} },
        { name: 'b', data: {} },
        { name: 'c', data: {}, opts: { delay: 60_000 } },
        { name: 'd', data: {}, opts: { priority: 3 } },
      ]);
      const text = await metrics.registry.metrics();
      expect(sample(text, 'queue_jobs', { queue: queue.name, state: 'waiting' })).toBe(2);
      expect(sample(text, 'queue_jobs', { queue: queue.name, state: 'delayed' })).toBe(1);
      expect(sample(text, 'queue_jobs', { queue: queue.name, state: 'prioritized' })).toBe(1);
      expect(sample(text, 'queue_jobs', { queue: queue.name, state: 'active' })).toBe(0);
      expect(sample(text, 'queue_metrics_up', { queue: queue.name })).toBe(1);
    } finally {
      await queue.obliterate({ force: true }).catch(() => {});
      await queue.close();
      await connection.quit();
      await deleteRedisPrefix(prefix);
    }
  });

  it('a scrape does not hang when Redis does not answer', async () => {
    // A real BullMQ queue on a "Redis" that accepts the connection and never answers (its reads
    // never settle), and one whose Redis is not there at all.
    const silent = createServer((socket) => socket.on('error', () => {}));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const silentPort = (silent.address() as AddressInfo).port;
    const mute = new Redis(`redis://127.0.0.1:${silentPort}`, { maxRetriesPerRequest: null, enableReadyCheck: false });
    mute.on('error', () => {});
    const hanging = new Queue('hanging', { connection: mute, prefix: freshRedisPrefix() });
    hanging.on('error', () => {});
    const connection = new Redis('redis://127.0.0.1:1', { maxRetriesPerRequest: null, retryStrategy: () => 200, lazyConnect: true });
    connection.on('error', () => {});
    const unreachable = new Queue('unreachable', { connection, prefix: freshRedisPrefix() });
    unreachable.on('error', () => {});
    try {
      // The silent server really holds a connection: this is a hang, not a refused connect.
      await new Promise<void>((resolve) => (mute.status === 'connect' ? resolve() : mute.once('connect', () => resolve())));
      const metrics = createMetrics('gauge-test');
      registerQueueMetrics(metrics, [hanging, unreachable], { timeoutMs: 300 });
      const started = Date.now();
      const text = await metrics.registry.metrics();
      // Bounded by the 300 ms per-queue timeout; loose because the machine is shared.
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(sample(text, 'queue_metrics_up', { queue: 'hanging' })).toBe(0);
      expect(sample(text, 'queue_metrics_up', { queue: 'unreachable' })).toBe(0);
      expect(sample(text, 'nodejs_eventloop_lag_seconds')).toBeDefined();
    } finally {
      mute.disconnect();
      connection.disconnect();
      await Promise.all([hanging.close().catch(() => {}), unreachable.close().catch(() => {})]);
      silent.close();
    }
  });
});

describe('dashboards and alerts', () => {
  it('query only metrics the gateway exports', async () => {
    const c = await cluster({ nodes: 1 });
    const have = families(await scrape(c.nodes[0]!.url));
    const exists = (name: string) => have.has(name) || have.has(name.replace(/_(bucket|count|sum)$/, ''));
    const sources = {
      dashboard: readFileSync(`${ROOT}deploy/grafana/dashboards/relaygate.json`, 'utf8'),
      alerts: readFileSync(`${ROOT}deploy/prometheus/alerts.yml`, 'utf8'),
      docs: readFileSync(`${ROOT}docs/operations.md`, 'utf8'),
    };
    const pattern = /\b(?:gateway|delivery|queue|store|redis_adapter|nodejs_eventloop|http_requests)_[a-z0-9_]+/g;
    for (const [where, text] of Object.entries(sources)) {
      const names = new Set(text.match(pattern) ?? []);
      expect(names.size, where).toBeGreaterThan(3);
      expect([...names].filter((n) => !exists(n)), where).toEqual([]);
    }
    const dashboard = JSON.parse(sources.dashboard) as { panels: { targets?: { expr: string }[] }[] };
    const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)).join('\n');
    for (const name of CATALOGUE.filter((n) => !n.startsWith('process_') && n !== 'nodejs_eventloop_lag_seconds')) {
      expect(exprs.includes(name), `dashboard shows ${name}`).toBe(true);
    }
  });
});

describe('bull-board under /admin/queues', () => {
  const BASIC = 'ops:correct-horse-battery';
  let c: Cluster;
  let url: string;
  const admin = () => mintToken('ops-admin', { roles: ['admin'] });
  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${url}${path}`, { headers, redirect: 'manual' });
  const basic = (creds: string) => ({ authorization: `Basic ${Buffer.from(creds).toString('base64')}` });

  beforeAll(async () => {
    c = await cluster({ nodes: 1, env: { ADMIN_BASIC_AUTH: BASIC } });
    url = c.nodes[0]!.url;
  });

  it('refuses anonymous access to the page, its API and its assets', async () => {
    for (const path of ['/admin/queues', '/admin/queues/', '/admin/queues/api/queues', '/admin/queues/static/images/logo.svg']) {
      const res = await get(path);
      expect(res.status, path).toBe(401);
      expect(res.headers.get('www-authenticate'), path).toMatch(/^Basic /);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('UNAUTHENTICATED');
    }
  });

  it('refuses bad, expired and non-admin tokens', async () => {
    expect((await get('/admin/queues', { authorization: `Bearer ${mintToken('ops-user')}` })).status).toBe(403);
    expect((await get('/admin/queues', { authorization: `Bearer ${mintToken('ops-admin', { roles: ['admin'], expiresInSec: -10 })}` })).status).toBe(401);
    expect((await get('/admin/queues', { authorization: `Bearer ${mintToken('ops-admin', { roles: ['admin'], secret: 'another-secret-0123456789abcdef01234567' })}` })).status).toBe(401);
    expect((await get('/admin/queues', { authorization: 'Bearer ' })).status).toBe(401);
    expect((await get('/admin/queues', basic('ops:wrong'))).status).toBe(401);
    expect((await get('/admin/queues', basic('op:correct-horse-battery'))).status).toBe(401);
    expect((await get('/admin/queues', basic(`${BASIC}x`))).status).toBe(401);
  });

  it('lets an admin JWT in: page, assets it links and the queues API', async () => {
    const auth = { authorization: `Bearer ${admin()}` };
    const page = await get('/admin/queues', auth);
    expect(page.status).toBe(200);
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('upgrade-insecure-requests');
    const html = await page.text();
    expect(html).toContain('<base href="/admin/queues/"');
    const script = /src="(static\/js\/main\.[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = await get(`/admin/queues/${script}`, auth);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toMatch(/javascript/);

    const api = await get('/admin/queues/api/queues', auth);
    expect(api.status).toBe(200);
    const body = (await api.json()) as { queues: { name: string }[] };
    expect(body.queues.map((q) => q.name).sort()).toEqual(['delivery', 'delivery-dlq', 'delivery-system']);
  });

  it('lets basic auth from config in', async () => {
    expect((await get('/admin/queues', basic(BASIC))).status).toBe(200);
    expect((await get('/admin/queues/api/queues', basic(BASIC))).status).toBe(200);
  });

  it('a browser opens it with ?token= once: cookie set, token removed from the URL', async () => {
    const res = await get('/admin/queues?token=' + encodeURIComponent(admin()));
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/admin/queues');
    const setCookie = res.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(new RegExp(`^${ADMIN_COOKIE}=`));
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Strict/i);
    expect(setCookie).toMatch(/Path=\/admin\/queues/);
    const cookie = setCookie.split(';')[0]!;
    expect((await get('/admin/queues', { cookie })).status).toBe(200);
    expect((await get('/admin/queues/api/queues', { cookie })).status).toBe(200);

    const user = await get('/admin/queues?token=' + mintToken('ops-user'));
    expect(user.status).toBe(403);
    expect(user.headers.get('set-cookie')).toBeNull();
    expect((await get('/admin/queues', { cookie: `${ADMIN_COOKIE}=${mintToken('ops-user')}` })).status).toBe(403);
  });

  it('shows job data with message text redacted', async () => {
    const alice = await c.connect('bb-alice', 0);
    const box = inbox(alice);
    const { conversation } = await call(alice, 'conversation:create', { type: 'group', title: 'board' });
    const marker = `board-secret-${randomUUID()}`;
    const { message } = await call(alice, 'message:send', { conversationId: conversation.id, clientMsgId: clientMsgId(), kind: 'text', text: marker });
    await box.hasAll([message.id]);
    const res = await get('/admin/queues/api/queues?activeQueue=delivery&status=latest', { authorization: `Bearer ${admin()}` });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain(message.id);
    expect(text).not.toContain(marker);
    expect(text).toContain('chars redacted');
    alice.close();
  });

  it('is closed to basic auth on a node without ADMIN_BASIC_AUTH', async () => {
    const bare = await c.addNode({ ADMIN_BASIC_AUTH: '' });
    const res = await fetch(`${bare.url}/admin/queues`, { headers: basic(BASIC) });
    expect(res.status).toBe(401);
    const anon = await fetch(`${bare.url}/admin/queues`);
    expect(anon.status).toBe(401);
    expect(anon.headers.get('www-authenticate')).toMatch(/^Bearer /);
    expect((await fetch(`${bare.url}/admin/queues`, { headers: { authorization: `Bearer ${admin()}` } })).status).toBe(200);
  });
});

// --- spawned nodes --------------------------------------------------------------------------

/** Collects a spawned node's stdout from now on and resolves when a line matches. */
function stdoutOf(node: SpawnedNode) {
  let text = '';
  const waiters = new Set<() => void>();
  node.proc.stdout!.on('data', (chunk: Buffer) => {
    text += chunk.toString();
    for (const w of [...waiters]) w();
  });
  return {
    text: () => text,
    lines: () =>
      text
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    until(test: (line: Record<string, unknown>) => boolean, timeoutMs = 15_000): Promise<Record<string, unknown>> {
      const find = () =>
        text
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => {
            try {
              return JSON.parse(l) as Record<string, unknown>;
            } catch {
              return undefined;
            }
          })
          .find((l) => l !== undefined && test(l));
      const found = find();
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching log line in:\n${text}`)), timeoutMs);
        const check = () => {
          const line = find();
          if (!line) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(line);
        };
        waiters.add(check);
      });
    },
  };
}

describe('logs of a send', () => {
  it('carry connId, messageId and jobId; never the text or a token', async () => {
    const c = await cluster({ roles: [] });
    const node = await c.spawnNode({ LOG_LEVEL: 'debug' });
    const out = stdoutOf(node);
    const token = mintToken('log-alice');
    const marker = `secret-text-${randomUUID()}`;
    const badToken = `${token.slice(0, -8)}AAAAAAAA`;

    const refused = await connectClient(node.url, badToken).catch((e: ConnectError) => e);
    expect((refused as ConnectError).data?.code).toBe('UNAUTHENTICATED');
    const alice = await connectClient(node.url, token);
    const { conversation } = await call(alice, 'conversation:create', { type: 'group', title: 'logs' });
    const { message } = await call(alice, 'message:send', { conversationId: conversation.id, clientMsgId: clientMsgId('log'), kind: 'text', text: marker });
    // Tokens in the places an operator's tools put them.
    await fetch(`${node.url}/admin/queues?token=${token}`);
    await fetch(`${node.url}/admin/queues`, { headers: { authorization: `Bearer ${token}` } });
    await fetch(`${node.url}/v1/conversations`, { headers: { authorization: `Bearer ${token}` } });

    const accepted = await out.until((l) => l.msg === 'message accepted' && l.messageId === message.id);
    // A delivery job carries a batch of messages; its line lists their ids (never their text).
    const delivered = await out.until((l) => l.msg === 'delivered' && Array.isArray(l.messageIds) && l.messageIds.includes(message.id));
    alice.close();
    node.proc.kill('SIGTERM');
    expect(await node.exited).toBe(0);

    expect(accepted.connId).toMatch(/^[0-9a-f-]{36}$/);
    expect(accepted.jobId).toBe(`batch-${message.id}`);
    expect(accepted.userId).toBe('log-alice');
    expect(delivered.jobId).toBe(accepted.jobId);
    const connected = out.lines().filter((l) => l.msg === 'connected' && l.connId === accepted.connId);
    expect(connected).toHaveLength(1);
    // Every stdout line is one JSON object naming its node.
    const lines = out.lines();
    expect(lines.length).toBeGreaterThan(3);
    for (const line of lines) expect(line).toMatchObject({ node: expect.stringMatching(/^spawned-/), time: expect.any(String) });

    const everything = node.output() + out.text();
    expect(everything).not.toContain(marker);
    expect(everything).not.toContain(token);
    expect(everything).not.toContain(token.split('.')[2]!);
    expect(everything).not.toContain(badToken.split('.')[2]!);
  }, 60_000);
});

describe('SIGTERM', () => {
  it('turns the node unready, tells clients, finishes an in-flight send and exits 0', async () => {
    const c = await cluster({ roles: [] });
    const node = await c.spawnNode({ SHUTDOWN_READY_DELAY_MS: '1000', LOG_LEVEL: 'debug' });
    const out = stdoutOf(node);
    const alice: ClientSocket = await connectClient(node.url, mintToken('drain-alice'));
    const { conversation } = await call(alice, 'conversation:create', { type: 'group', title: 'drain' });
    expect((await fetch(`${node.url}/readyz`)).status).toBe(200);

    // Hold the messages table so the send is provably in flight (stored only after release).
    const db = new pg.Client({ connectionString: c.env.DATABASE_URL });
    await db.connect();
    try {
      await db.query('BEGIN');
      await db.query('LOCK TABLE messages IN ACCESS EXCLUSIVE MODE');
      const id = clientMsgId('drain');
      let acked = false;
      const send = alice
        .timeout(15_000)
        .emitWithAck('message:send', { conversationId: conversation.id, clientMsgId: id, kind: 'text', text: 'in flight' })
        .finally(() => (acked = true));
      send.catch(() => {}); // awaited below; this only keeps an early failure from going unhandled
      // No event says "the server is waiting on the lock"; PostgreSQL's lock table does.
      const until = Date.now() + 10_000;
      for (;;) {
        const { rows } = await db.query<{ n: string }>(
          `SELECT count(*) AS n FROM pg_locks l JOIN pg_class t ON t.oid = l.relation WHERE t.relname = 'messages' AND NOT l.granted`,
        );
        if (Number(rows[0]!.n) > 0) break;
        if (Date.now() > until) throw new Error('the send never reached the store');
        await new Promise((r) => setTimeout(r, 20));
      }

      const draining = nextEvent(alice, 'server:draining');
      const shuttingDown = out.until((l) => l.msg === 'shutting down');
      node.proc.kill('SIGTERM');
      await shuttingDown;
      const ready = await fetch(`${node.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ status: 'draining' });
      expect(await draining).toMatchObject({ reconnectAfterMs: expect.any(Number) });
      expect(acked).toBe(false);
      expect(node.proc.exitCode).toBeNull();

      await db.query('COMMIT');
      const res = (await send) as { ok: boolean; message?: { clientMsgId: string } };
      expect(res).toMatchObject({ ok: true, message: { clientMsgId: id } });
      await disconnected(alice);
      expect(await node.exited).toBe(0);
      const stored = await db.query('SELECT 1 FROM messages WHERE client_msg_id = $1', [id]);
      expect(stored.rowCount).toBe(1);
    } finally {
      await db.query('ROLLBACK').catch(() => {});
      await db.end();
    }
  }, 60_000);
});
