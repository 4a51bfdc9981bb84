// Abuse (#6) over REST: hostile path parameters, query strings, headers and bodies at every
// /v1 route. Every one is refused with a 4xx in the §6 error shape, none is a 500, and nothing
// in the database changes (a digest over the content of every row or document), on both stores.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../protocol/index.js';
import { call, clientMsgId } from './support/chat.js';
import { startCluster, type Cluster, type StoreKind } from './support/cluster.js';
import { openSnapshot, type DbSnapshot } from './support/db-snapshot.js';
import { BAD_BOOLEANS, BAD_PAYLOADS, BAD_STRINGS, mutate } from './support/hostile.js';
import { mintToken } from './support/tokens.js';

interface Attempt {
  method: 'GET' | 'POST' | 'PUT';
  path: string;
  body?: string;
  headers?: Record<string, string>;
}

const BAD_PATH_IDS = ['%24ne', '..%2F..%2Fetc', 'x'.repeat(300), '%00', '%F0%9F%98%80', "'%3B%20DROP%20TABLE%20messages", '%7B%22%24gt%22%3A%22%22%7D', '__proto__', 'constructor'];
const BAD_QUERIES = [
  'limit=abc',
  'limit=0',
  'limit=201',
  'limit=-1',
  'limit=1.5',
  'limit=1&limit=2',
  'limit[$gt]=1',
  'cursor=%00',
  'cursor=' + 'x'.repeat(500),
  'cursor=not-base64!!',
  '__proto__[admin]=1',
  'constructor[prototype][x]=1',
  'unknown=1',
  'before=abc',
  'before=-5',
  'before=1e3',
  'after=1&before=2',
  'after[$ne]=0',
  'sort=seq',
];

function bodies(): string[] {
  const template = { kind: 'text', text: 'hi' };
  const payloads = [
    ...mutate(template, { kind: [...BAD_STRINGS, 'system', 'html'], text: [...BAD_STRINGS, '\u0000\u0001', ' \n '] }),
    { kind: 'file', attachment: { url: 'javascript:alert(1)', name: 'x', size: 1, mime: 'image/png' } },
    { kind: 'file', attachment: { url: 'https://x/y', name: 'x', size: -1, mime: 'image/png' } },
  ];
  return [...payloads.map((p) => JSON.stringify(p) ?? 'undefined'), '{"kind": "text", "text": ', 'not json', '', '[]', 'null'];
}

function attempts(groupId: string): Attempt[] {
  const out: Attempt[] = [];
  for (const id of BAD_PATH_IDS) {
    out.push({ method: 'GET', path: `/v1/conversations/${id}` });
    out.push({ method: 'GET', path: `/v1/conversations/${id}/members` });
    out.push({ method: 'GET', path: `/v1/conversations/${id}/messages` });
    out.push({ method: 'POST', path: `/v1/conversations/${id}/messages`, body: '{"kind":"text","text":"x"}', headers: { 'Idempotency-Key': 'k1' } });
    out.push({ method: 'POST', path: `/v1/admin/dlq/${id}/retry` });
  }
  for (const q of BAD_QUERIES) {
    out.push({ method: 'GET', path: `/v1/conversations?${q}` });
    out.push({ method: 'GET', path: `/v1/conversations/${groupId}/members?${q}` });
    out.push({ method: 'GET', path: `/v1/conversations/${groupId}/messages?${q}` });
    out.push({ method: 'GET', path: `/v1/conversations/${groupId}?${q}` });
    out.push({ method: 'GET', path: `/v1/admin/dlq?${q}` });
  }
  for (const body of bodies()) {
    out.push({ method: 'POST', path: `/v1/conversations/${groupId}/messages`, body, headers: { 'Idempotency-Key': 'fuzz-key' } });
    out.push({ method: 'PUT', path: '/v1/me/settings', body });
  }
  for (const key of ['', 'has space', 'x'.repeat(65), '{"$ne":1}', '../x']) {
    out.push({ method: 'POST', path: `/v1/conversations/${groupId}/messages`, body: '{"kind":"text","text":"x"}', headers: { 'Idempotency-Key': key } });
  }
  out.push({ method: 'POST', path: `/v1/conversations/${groupId}/messages`, body: '{"kind":"text","text":"no key"}' });
  for (const value of [...BAD_BOOLEANS, ...BAD_PAYLOADS].filter((v) => typeof v !== 'boolean')) out.push({ method: 'PUT', path: '/v1/me/settings', body: JSON.stringify({ readReceipts: value }) ?? 'x' });
  out.push({ method: 'PUT', path: '/v1/me/settings', body: JSON.stringify({ readReceipts: true, extra: 1 }) });
  out.push({ method: 'PUT', path: '/v1/me/settings', body: 'readReceipts=true', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
  out.push({ method: 'POST', path: `/v1/conversations/${groupId}/messages`, body: 'x'.repeat(70 * 1024), headers: { 'Idempotency-Key': 'big' } });
  return out;
}

describe.each<StoreKind>(['postgres', 'mongo'])('hostile REST requests (%s)', (store) => {
  let cluster: Cluster;
  let db: DbSnapshot;
  let groupId: string;

  beforeAll(async () => {
    cluster = await startCluster({ nodes: 2, store, env: { RATE_LIMIT_SCALE: '100' } });
    db = await openSnapshot(cluster.env);
    const owner = await cluster.connect('rf-owner', 0);
    groupId = (await call(owner, 'conversation:create', { type: 'group', title: 'rest fuzz', memberIds: ['rf-member'] })).conversation.id;
    const sent = await call(owner, 'message:send', { conversationId: groupId, clientMsgId: clientMsgId(), kind: 'text', text: 'hello' });
    // Settle the sender's own watermarks (moved after the ack) before any snapshot.
    await call(owner, 'message:delivered', { conversationId: groupId, seq: sent.message.seq });
    await call(owner, 'message:read', { conversationId: groupId, seq: sent.message.seq });
  });
  afterAll(async () => {
    await db?.close();
    await cluster?.close();
  });

  it('are refused with a 4xx in the error shape, never a 500, and change nothing', async () => {
    const before = await db.digest();
    // An outsider (every conversation route must refuse) and a member (validation must refuse).
    const users = ['rf-outsider', 'rf-member'];
    let total = 0;
    const statuses = new Map<number, number>();
    for (const user of users) {
      const token = mintToken(user);
      for (const [i, a] of attempts(groupId).entries()) {
        const node = cluster.nodes[i % 2]!;
        const res = await fetch(`${node.url}${a.path}`, {
          method: a.method,
          headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', ...a.headers },
          ...(a.body !== undefined ? { body: a.body } : {}),
        });
        total++;
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        const label = `${user} ${a.method} ${a.path.slice(0, 120)} ${a.body?.slice(0, 80) ?? ''}`;
        expect(res.status, label).toBeGreaterThanOrEqual(400);
        expect(res.status, label).toBeLessThan(500);
        const body = (await res.json().catch(() => null)) as { error?: { code?: string } } | null;
        expect(ERROR_CODES, label).toContain(body?.error?.code);
      }
    }
    expect(total).toBeGreaterThanOrEqual(500);
    expect(await db.digest()).toBe(before);
    for (const node of cluster.nodes) expect((await fetch(`${node.url}/healthz`)).status).toBe(200);
  }, 120_000);

  it('every /v1 route refuses a request without a token with 401 before doing anything', async () => {
    const before = await db.digest();
    const routes: Attempt[] = [
      { method: 'GET', path: '/v1/conversations' },
      { method: 'GET', path: `/v1/conversations/${groupId}` },
      { method: 'GET', path: `/v1/conversations/${groupId}/members` },
      { method: 'GET', path: `/v1/conversations/${groupId}/messages` },
      { method: 'POST', path: `/v1/conversations/${groupId}/messages`, body: '{"kind":"text","text":"x"}', headers: { 'Idempotency-Key': 'anon' } },
      { method: 'PUT', path: '/v1/me/settings', body: '{"readReceipts":false}' },
      { method: 'GET', path: '/v1/admin/dlq' },
      { method: 'POST', path: '/v1/admin/dlq/x/retry' },
    ];
    for (const a of routes) {
      const res = await fetch(`${cluster.nodes[0]!.url}${a.path}`, {
        method: a.method,
        headers: { 'Content-Type': 'application/json', ...a.headers },
        ...(a.body !== undefined ? { body: a.body } : {}),
      });
      expect(res.status, `${a.method} ${a.path}`).toBe(401);
    }
    expect(await db.digest()).toBe(before);
  });
});
