// PostgreSQL adapter against the real server: the shared store contract, then what only this
// backend promises — migrations that race safely, database creation, appends that leave no
// trace when they fail, gap-free seqs on repeats, and fast StoreUnavailableError on outages.
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freshPostgresUrl } from '../../test/support/env.js';
import { StoreUnavailableError, type NewMessage } from '../store.js';
import type { SeedCycles } from '../cycles.contract.js';
import { storeContract } from '../store.contract.js';
import { seedPostgresCycles } from '../../test/support/seed-cycles.js';
import { MIGRATIONS } from './migrations.js';
import { PostgresStore } from './postgres.store.js';

storeContract('postgres', async () => {
  const url = await freshPostgresUrl();
  const store = new PostgresStore({ url });
  const seedCycles: SeedCycles = (q) => seedPostgresCycles(url, q);
  return { store, cleanup: () => store.close(), seedCycles };
});

const text = (conversationId: string, clientMsgId: string, body = clientMsgId): NewMessage => ({
  conversationId,
  senderId: 'alice',
  clientMsgId,
  kind: 'text',
  text: body,
});

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A URL for a database that does not exist yet; the global teardown drops it by its prefix. */
function missingDatabaseUrl(): string {
  const url = new URL(inject('pgAdminUrl'));
  url.pathname = `/rgt_${inject('runId')}_${process.pid}_${randomBytes(4).toString('hex')}_new`;
  return url.toString();
}

describe('postgres: schema set-up', () => {
  it('applies each migration once when two nodes init an empty database at the same moment', async () => {
    const url = await freshPostgresUrl();
    const nodes = [new PostgresStore({ url }), new PostgresStore({ url })];
    try {
      await Promise.all(nodes.map((s) => s.init()));
      await nodes[0]!.init();
      const versions = await withClient(url, async (c) => (await c.query('SELECT version FROM schema_migrations ORDER BY version')).rows);
      expect(versions.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
    } finally {
      await Promise.all(nodes.map((s) => s.close()));
    }
  });

  it('creates the database when it does not exist, also when two nodes race to', async () => {
    const url = missingDatabaseUrl();
    const nodes = [new PostgresStore({ url }), new PostgresStore({ url })];
    try {
      await Promise.all(nodes.map((s) => s.init()));
      const { conversation } = await nodes[1]!.createConversation({ type: 'group', title: 't', createdBy: 'alice', public: false, members: [{ userId: 'alice', role: 'owner' }] });
      expect(await nodes[0]!.getConversation(conversation.id)).toEqual(conversation);
    } finally {
      await Promise.all(nodes.map((s) => s.close()));
    }
  });
});

describe('postgres: appends', () => {
  let url: string;
  let store: PostgresStore;
  beforeAll(async () => {
    url = await freshPostgresUrl();
    store = new PostgresStore({ url, statementTimeoutMs: 2_000 });
    await store.init();
  });
  afterAll(() => store?.close());

  const newGroup = async () =>
    (await store.createConversation({ type: 'group', title: 't', createdBy: 'alice', public: false, members: [{ userId: 'alice', role: 'owner' }] })).conversation;
  const lastSeq = async (id: string) => (await store.getConversation(id))!.lastSeq;

  it('a failed append leaves lastSeq unchanged (the bump rolls back with the insert)', async () => {
    const conv = await newGroup();
    await store.appendMessage(text(conv.id, 'ok1'));
    // PostgreSQL refuses NUL in text: the insert fails after the seq bump in the same statement.
    await expect(store.appendMessage(text(conv.id, 'bad', 'a\u0000b'))).rejects.toMatchObject({ code: '22021' });
    expect(await lastSeq(conv.id)).toBe(1);
    expect((await store.appendMessage(text(conv.id, 'ok2'))).message.seq).toBe(2);
  });

  it('repeats burn no seq, single or batched', async () => {
    const conv = await newGroup();
    await store.appendMessage(text(conv.id, 'a'));
    expect((await store.appendMessage(text(conv.id, 'a'))).duplicate).toBe(true);
    await Promise.all(Array.from({ length: 5 }, () => store.appendMessage(text(conv.id, 'b'))));
    expect(await lastSeq(conv.id)).toBe(2);
    const batch = await store.appendMessages(['c', 'a', 'c', 'd', 'b', 'e'].map((k) => text(conv.id, k)));
    expect(batch.map((r) => r.message.seq)).toEqual([3, 1, 3, 4, 2, 5]);
    expect(await lastSeq(conv.id)).toBe(5);
  });

  it('a statement timeout is StoreUnavailableError and leaves no trace', async () => {
    const conv = await newGroup();
    const impatient = new PostgresStore({ url, statementTimeoutMs: 100 });
    const locker = new pg.Client({ connectionString: url });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('SELECT 1 FROM conversations WHERE id = $1 FOR UPDATE', [conv.id]);
      await expect(impatient.appendMessage(text(conv.id, 'x'))).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(impatient.removeMember(conv.id, 'alice')).rejects.toBeInstanceOf(StoreUnavailableError);
      await locker.query('ROLLBACK');
      expect((await impatient.appendMessage(text(conv.id, 'x'))).message.seq).toBe(1);
    } finally {
      await locker.end();
      await impatient.close();
    }
  });
});

describe('postgres: outages', () => {
  const unavailableWithin = async (op: Promise<unknown>, ms: number) => {
    const started = Date.now();
    await expect(op).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(Date.now() - started).toBeLessThan(ms);
  };

  it('fails fast with StoreUnavailableError when nothing listens on the port', async () => {
    const port = await new Promise<number>((resolve) => {
      const server = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as net.AddressInfo;
        server.close(() => resolve(port));
      });
    });
    const store = new PostgresStore({ url: `postgres://root@127.0.0.1:${port}/nothing` });
    try {
      await unavailableWithin(store.init(), 1_000);
      await unavailableWithin(store.ping(), 1_000);
      await unavailableWithin(store.appendMessage(text('c', 'm')), 1_000);
    } finally {
      await store.close();
    }
  });

  it('gives up on a server that accepts but never answers within the connect timeout', async () => {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((s) => void sockets.add(s));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    const store = new PostgresStore({ url: `postgres://root@127.0.0.1:${port}/silent` });
    try {
      await unavailableWithin(store.ping(), 3_000);
    } finally {
      await store.close();
      for (const s of sockets) s.destroy();
      server.close();
    }
  });

  it('a connection killed mid-statement is StoreUnavailableError, and the pool recovers', async () => {
    const url = await freshPostgresUrl();
    const store = new PostgresStore({ url, poolSize: 1 });
    await store.init();
    const { conversation } = await store.createConversation({ type: 'group', title: 't', createdBy: 'alice', public: false, members: [{ userId: 'alice', role: 'owner' }] });
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      await admin.query('BEGIN');
      await admin.query('SELECT 1 FROM conversations WHERE id = $1 FOR UPDATE', [conversation.id]);
      const append = expect(store.appendMessage(text(conversation.id, 'killed'))).rejects.toBeInstanceOf(StoreUnavailableError);
      // Wait until the append is parked behind the row lock, then kill its backend.
      const waiting = 'SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = $1 AND pid <> pg_backend_pid()';
      let pid: number | undefined;
      for (let i = 0; i < 500 && pid === undefined; i++) pid = (await admin.query(waiting, ['Lock'])).rows[0]?.pid;
      expect(pid).toBeDefined();
      await admin.query('SELECT pg_terminate_backend($1, 5000)', [pid]);
      await append;
      await admin.query('ROLLBACK');
      expect((await store.appendMessage(text(conversation.id, 'after'))).message.seq).toBe(1);
    } finally {
      await admin.end();
      await store.close();
    }
    await store.close();
    await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
  });
});
