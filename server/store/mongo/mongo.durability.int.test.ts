// MongoDB adapter: durability settings and what a sick server looks like to the store (#14 items
// 2, 3 and 5). A small TCP proxy sits between the store and the test server and can swallow or
// cut the `insert` command, so the real driver runs its real failure paths — the operation
// deadline (the socket timeout; mongodb 7.8 ignores `timeoutMS`) expiring inside `insertMany`, a connection dropped mid-batch — and the
// store must answer StoreUnavailableError (UNAVAILABLE: clients retry, appends are idempotent),
// not the INTERNAL an unrecognised wrapped error would become. It also counts commands and how
// many await their reply at once (item 6: an inbox page's queries per row and their bound).
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { BSON, type Document } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshMongoUrl } from '../../test/support/env.js';
import { StoreUnavailableError, type NewMessage } from '../store.js';
import { MongoStore } from './mongo.store.js';

type Mode = 'pass' | 'swallow-insert' | 'cut-insert';

/** A proxy that forwards MongoDB wire messages and can misbehave on the `insert` command. */
interface WireProxy {
  port: number;
  mode: Mode;
  /** Every command document the store sent, in order. */
  commands: Document[];
  /** Holds each `find`/`aggregate` on `messages` this long before forwarding it (a slow server). */
  messageLatencyMs: number;
  /** Most commands awaiting their reply at once since the last reset (monitoring `hello`s left out). */
  peakInFlight: number;
  resetPeak(): void;
  /** Runs once before the next `update` command is forwarded (that connection waits for it). */
  beforeNextUpdate?: () => Promise<void>;
  close(): Promise<void>;
}

async function startWireProxy(target: URL): Promise<WireProxy> {
  const sockets = new Set<net.Socket>();
  const commands: Document[] = [];
  const state: { mode: Mode; hook?: () => Promise<void>; inFlight: number; peak: number; latency: number } = { mode: 'pass', inFlight: 0, peak: 0, latency: 0 };
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port), target.hostname);
    sockets.add(client).add(upstream);
    // The driver sends one command per connection and waits for its reply: the first bytes back
    // end it (a streamed `hello` can reply many times, hence not counted).
    let awaiting = false;
    upstream.on('data', (d) => {
      if (awaiting) {
        awaiting = false;
        state.inFlight--;
      }
      client.write(d);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
    let buf = Buffer.alloc(0);
    let forwarding = Promise.resolve(); // keeps this connection's messages in order around a hook
    client.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 4 && buf.readInt32LE(0) <= buf.length) {
        const msg = buf.subarray(0, buf.readInt32LE(0));
        buf = buf.subarray(msg.length);
        const body = bodyOf(msg);
        if (body) commands.push(body);
        if (state.mode !== 'pass' && body && Object.keys(body)[0] === 'insert') {
          if (state.mode === 'cut-insert') end();
          continue; // swallowed: the driver waits until its deadline
        }
        if (body && !MONITORING.includes(Object.keys(body)[0]!) && !awaiting) {
          awaiting = true;
          state.peak = Math.max(state.peak, ++state.inFlight);
        }
        const hook = body && Object.keys(body)[0] === 'update' ? state.hook : undefined;
        if (hook) state.hook = undefined;
        const slow = body && (body.find === 'messages' || body.aggregate === 'messages') ? state.latency : 0;
        forwarding = forwarding.then(async () => {
          await hook?.();
          if (slow) await new Promise((resolve) => setTimeout(resolve, slow));
          upstream.write(msg);
        });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    commands,
    port: (server.address() as net.AddressInfo).port,
    get mode() {
      return state.mode;
    },
    set mode(m: Mode) {
      state.mode = m;
    },
    get messageLatencyMs() {
      return state.latency;
    },
    set messageLatencyMs(ms: number) {
      state.latency = ms;
    },
    get peakInFlight() {
      return state.peak;
    },
    resetPeak: () => {
      state.peak = state.inFlight;
    },
    set beforeNextUpdate(hook: (() => Promise<void>) | undefined) {
      state.hook = hook;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * The command of an OP_MSG (opcode 2013) as the server sees it: the body (section kind 0) with
 * each document sequence (kind 1: the `documents` / `updates` / `deletes` mongodb 7 sends outside
 * the body) folded in under its name.
 */
function bodyOf(msg: Buffer): Document | undefined {
  if (msg.length < 26 || msg.readInt32LE(12) !== 2013) return undefined;
  const flags = msg.readUInt32LE(16);
  const end = msg.length - (flags & 1 ? 4 : 0); // checksumPresent: a CRC-32C after the sections
  let body: Document | undefined;
  const sequences: [string, Document[]][] = [];
  for (let at = 20; at < end; ) {
    const kind = msg[at]!;
    const size = msg.readInt32LE(at + 1);
    if (kind === 0) {
      body = BSON.deserialize(msg.subarray(at + 1, at + 1 + size));
      at += 1 + size;
    } else if (kind === 1) {
      const nameEnd = msg.indexOf(0, at + 5);
      const docs: Document[] = [];
      for (let d = nameEnd + 1; d < at + 1 + size; d += msg.readInt32LE(d)) docs.push(BSON.deserialize(msg.subarray(d, d + msg.readInt32LE(d))));
      sequences.push([msg.toString('utf8', at + 5, nameEnd), docs]);
      at += 1 + size;
    } else return undefined;
  }
  if (body) for (const [name, docs] of sequences) body[name] = docs;
  return body;
}

const MONITORING = ['hello', 'ismaster', 'isMaster'];
/** The commands the store sent, without the driver's monitoring. */
const storeCommands = (proxy: WireProxy) => proxy.commands.filter((c) => !MONITORING.includes(Object.keys(c)[0]!));

const text = (conversationId: string, senderId: string, clientMsgId: string): NewMessage => ({ conversationId, senderId, clientMsgId, kind: 'text', text: clientMsgId });

describe('MongoStore durability settings', () => {
  it('writes with w:majority, j:true and reads majority, whatever the URL asks for', async () => {
    const url = new URL(freshMongoUrl());
    url.search = '?w=1&journal=false&readConcernLevel=local';
    const store = new MongoStore({ url: url.toString() });
    try {
      await store.init(); // init refuses a weaker effective setting
      expect(store.durability()).toEqual({ w: 'majority', journal: true, readConcern: 'majority' });
    } finally {
      await store.close();
    }
  });
});

describe('MongoStore through a misbehaving connection', () => {
  const target = new URL(freshMongoUrl());
  let proxy: WireProxy;
  let store: MongoStore;
  const owner = `o-${randomBytes(4).toString('hex')}`;
  let conversationId: string;

  beforeAll(async () => {
    proxy = await startWireProxy(target);
    const url = new URL(target);
    url.host = `127.0.0.1:${proxy.port}`;
    store = new MongoStore({ url: url.toString(), operationTimeoutMs: 700 });
    await store.init();
    ({ conversation: { id: conversationId } } = await store.createConversation({
      type: 'group', createdBy: owner, public: false, members: [{ userId: owner, role: 'owner' }],
    }));
  });
  afterAll(async () => {
    await store?.close();
    await proxy?.close();
  });

  it('asks the server for w:majority, j:true on every write and majority on every read but the idempotency lookup', async () => {
    proxy.commands.length = 0;
    await store.appendMessages([text(conversationId, owner, 'wire-1'), text(conversationId, owner, 'wire-2')]);
    await store.appendMessage(text(conversationId, owner, 'wire-1')); // a repeat: found locally, confirmed at majority
    await store.pageMessages({ conversationId, periods: [{ afterSeq: 0, untilSeq: null }], after: 0, limit: 10 });
    await store.advanceWatermarks([{ conversationId, userId: owner, type: 'read', seq: 1 }]);
    const writes = proxy.commands.filter((c) => ['insert', 'update', 'findAndModify'].includes(Object.keys(c)[0]!));
    const reads = proxy.commands.filter((c) => Object.keys(c)[0] === 'find');
    expect(writes.map((c) => Object.keys(c)[0])).toEqual(expect.arrayContaining(['insert', 'update', 'findAndModify']));
    // wtimeout: the operation deadline (700 ms here), so a lagging majority is answered, not waited for.
    for (const c of writes) expect(c.writeConcern, JSON.stringify(c)).toEqual({ w: 'majority', j: true, wtimeout: 700 });
    const levels = reads.map((c) => (c.readConcern as { level?: string } | undefined)?.level);
    expect(levels.filter((l) => l !== 'majority')).toEqual(['local', 'local']); // the two idempotency lookups
    expect(levels.filter((l) => l === 'majority').length).toBeGreaterThanOrEqual(3);
  });

  it('receipts of 40 members are one read and one update command, not 40 updates (#14 item 7)', async () => {
    const members = Array.from({ length: 40 }, (_, i) => `m${i}-${randomBytes(3).toString('hex')}`);
    await store.addMembers(conversationId, members.map((userId) => ({ userId, role: 'member' as const })));
    const { message } = await store.appendMessage(text(conversationId, owner, `receipt-${randomBytes(3).toString('hex')}`));
    proxy.commands.length = 0;
    const moved = await store.advanceWatermarks(members.map((userId) => ({ conversationId, userId, type: 'delivered' as const, seq: message.seq })));
    expect(moved).toEqual(members.map(() => message.seq));
    const updates = proxy.commands.filter((c) => Object.keys(c)[0] === 'update');
    expect(updates).toHaveLength(1);
    expect((updates[0]!.updates as unknown[]).length).toBe(40);
    expect(await store.advanceWatermarks(members.slice(0, 2).map((userId) => ({ conversationId, userId, type: 'delivered' as const, seq: message.seq })))).toEqual([false, false]);
  });

  it('a join of 30 is 6 commands and a leave 5, whatever the size, and the counter is free again after each (#14 item 7)', async () => {
    const members = Array.from({ length: 30 }, (_, i) => `j${i}-${randomBytes(3).toString('hex')}`);
    const name = (c: Record<string, unknown>) => Object.keys(c)[0];
    proxy.commands.length = 0;
    expect(await store.addMembers(conversationId, members.map((userId) => ({ userId, role: 'member' as const })))).toEqual(members);
    // exists, current members, set pending, insert the periods, clear pending, which landed.
    expect(proxy.commands.map(name)).toEqual(['find', 'find', 'findAndModify', 'insert', 'update', 'find']);
    proxy.commands.length = 0;
    expect(await store.removeMember(conversationId, members[0]!)).toBe(true);
    // the open period, set pending, close it, clear pending, closed by us?
    expect(proxy.commands.map(name)).toEqual(['find', 'findAndModify', 'update', 'update', 'find']);
    proxy.commands.length = 0;
    await store.appendMessage(text(conversationId, owner, `after-${randomBytes(3).toString('hex')}`));
    expect(proxy.commands.filter((c) => name(c) === 'findAndModify')).toHaveLength(1); // no pending met
  });

  it('a receipt moved past ours by someone else between the read and the bulk write is reported as not moved by us', async () => {
    const members = Array.from({ length: 5 }, (_, i) => `r${i}-${randomBytes(3).toString('hex')}`);
    await store.addMembers(conversationId, members.map((userId) => ({ userId, role: 'member' as const })));
    const sent = await store.appendMessages([text(conversationId, owner, `x-${randomBytes(3).toString('hex')}`), text(conversationId, owner, `y-${randomBytes(3).toString('hex')}`)]);
    const [older, newer] = sent.map((r) => r.message.seq) as [number, number];
    // Another node's receipt for r0 lands (straight on the server) after our read, before our write.
    const other = new MongoStore({ url: target.toString() });
    proxy.beforeNextUpdate = async () => {
      expect(await other.advanceWatermarks([{ conversationId, userId: members[0]!, type: 'delivered', seq: newer }])).toEqual([newer]);
    };
    try {
      const moved = await store.advanceWatermarks(members.map((userId) => ({ conversationId, userId, type: 'delivered' as const, seq: older })));
      expect(moved).toEqual([false, older, older, older, older]);
      expect((await store.getMembership(conversationId, members[0]!))?.deliveredSeq).toBe(newer);
    } finally {
      proxy.beforeNextUpdate = undefined;
      await other.close();
    }
  });

  it('an inbox page of 40 rows is 2 queries a row, at most 16 rows in flight, unread counts on the covered index (#14 item 6)', async () => {
    const user = `u-${randomBytes(4).toString('hex')}`;
    for (let i = 0; i < 40; i++) {
      const { conversation } = await store.createConversation({
        type: 'group', createdBy: owner, public: false, members: [{ userId: owner, role: 'owner' }, { userId: user, role: 'member' }],
      });
      await store.appendMessage(text(conversation.id, owner, `inbox-${i}`));
    }
    // A slow server (40 ms a message query), so queries pile up as far as the store lets them,
    // and a pool grown to 90 connections first, so the pool does not bound them instead.
    proxy.messageLatencyMs = 40;
    await Promise.all(Array.from({ length: 90 }, () => store.getMessage('0'.repeat(24))));
    proxy.commands.length = 0;
    proxy.resetPeak();
    const page = await store.listConversations(user, { limit: 40 }).finally(() => (proxy.messageLatencyMs = 0));
    expect(page.items.map((r) => r.unread)).toEqual(page.items.map(() => 1));
    const name = (c: Document) => Object.keys(c)[0]!;
    const sent = storeCommands(proxy);
    // ids, conversations, open periods, then a last message and an unread count per row.
    expect(sent.length).toBeLessThanOrEqual(3 + 2 * 40);
    const counts = sent.filter((c) => name(c) === 'aggregate' && c.aggregate === 'messages');
    expect(counts).toHaveLength(40);
    for (const c of counts) expect(c.hint).toBe('unread');
    // 16 rows of 2 queries (2 to spare); without the bound 53 went out at once here.
    expect(proxy.peakInFlight).toBeLessThanOrEqual(2 * 16 + 2);
    expect(proxy.peakInFlight).toBeGreaterThan(2);
  });

  it('a new direct pair is 4 commands (read the pair, claim it, the periods, the conversation), an existing one 2 (#14 item 8)', async () => {
    const [a, b] = [`a-${randomBytes(4).toString('hex')}`, `b-${randomBytes(4).toString('hex')}`];
    const name = (c: Document) => `${Object.keys(c)[0]!} ${String(Object.values(c)[0])}`;
    const direct = (x: string, y: string) =>
      store.createConversation({ type: 'direct', createdBy: x, public: false, members: [{ userId: x, role: 'member' }, { userId: y, role: 'member' }] });
    proxy.commands.length = 0;
    const first = await direct(a, b);
    expect(storeCommands(proxy).map(name)).toEqual(['find direct_pairs', 'insert direct_pairs', 'insert memberships', 'insert conversations']);
    proxy.commands.length = 0;
    expect(await direct(b, a)).toEqual({ conversation: first.conversation, created: false });
    expect(storeCommands(proxy).map(name)).toEqual(['find direct_pairs', 'find conversations']);
  });

  it('an insert past the operation deadline is UNAVAILABLE, single and batched, and the store recovers', async () => {
    proxy.mode = 'swallow-insert';
    const started = Date.now();
    await expect(store.appendMessage(text(conversationId, owner, 'late-1'))).rejects.toBeInstanceOf(StoreUnavailableError);
    // insertMany: the driver wraps the timeout in MongoBulkWriteError.
    await expect(store.appendMessages([text(conversationId, owner, 'late-2'), text(conversationId, owner, 'late-3')])).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(Date.now() - started).toBeLessThan(10_000);
    proxy.mode = 'pass';
    const again = await store.appendMessages([text(conversationId, owner, 'late-2'), text(conversationId, owner, 'late-3')]);
    expect(again.map((r) => r.duplicate)).toEqual([false, false]);
  });

  it('a connection cut during a batch insert is UNAVAILABLE, and a retry stores each message once', async () => {
    proxy.mode = 'cut-insert';
    const batch = [text(conversationId, owner, 'cut-1'), text(conversationId, owner, 'cut-2')];
    await expect(store.appendMessages(batch)).rejects.toBeInstanceOf(StoreUnavailableError);
    proxy.mode = 'pass';
    const again = await store.appendMessages(batch);
    expect(new Set(again.map((r) => r.message.clientMsgId))).toEqual(new Set(['cut-1', 'cut-2']));
    const stored = await store.pageMessages({ conversationId, periods: [{ afterSeq: 0, untilSeq: null }], limit: 50 });
    expect(stored.filter((m) => m.clientMsgId.startsWith('cut-'))).toHaveLength(2);
  });
});
