// MongoDB adapter: the shared store contract plus what is specific to this backend (indexes,
// filter sanitising, several stores on one database, failure mapping). Runs against the jongodb
// test server by default and against a real mongod when MONGO_URL is set; where jongodb falls
// short, JONGODB.md says so and the adapter works on both.
import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import mongoose, { Types } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ConversationSchema, MembershipSchema, MessageSchema, type Role } from '../../../protocol/index.js';
import { freshMongoUrl, mongoIsReal } from '../../test/support/env.js';
import { dropMongoDatabase } from '../../test/support/mongo.js';
import type { SeedCycles } from '../cycles.contract.js';
import { storeContract } from '../store.contract.js';
import { InvalidArgumentStoreError, StoreUnavailableError, type NewMessage } from '../store.js';
import { MongoStore } from './mongo.store.js';
import { listConversations } from './inbox.js';
import type { Models } from './models.js';

storeContract('mongo', async () => {
  const url = freshMongoUrl();
  const store = new MongoStore({ url });
  const seedCycles: SeedCycles = async ({ conversationId, owner, cycler, cycles }) => {
    const m = (store as unknown as { m: Models }).m;
    const cid = new Types.ObjectId(conversationId);
    const at = Date.now();
    await m.Message.collection.insertMany(
      Array.from({ length: 2 * cycles }, (_, i) => ({ _id: new Types.ObjectId(), conversationId: cid, seq: i + 1, senderId: owner, clientMsgId: `seed${i + 1}`, kind: 'text', text: `m${i + 1}`, createdAt: new Date(at) })),
    );
    await m.Conversation.collection.updateOne({ _id: cid }, { $set: { lastSeq: 2 * cycles } });
    await m.Membership.collection.deleteMany({ conversationId: cid, userId: cycler });
    await m.Membership.collection.insertMany(
      Array.from({ length: cycles }, (_, i) => {
        const open = i === cycles - 1;
        const closed = open ? {} : { leftAt: new Date(at + 2 * i + 1), leftSeq: 2 * i + 1 };
        return { _id: new Types.ObjectId(), conversationId: cid, userId: cycler, role: 'member' as const, open, joinedAt: new Date(at + 2 * i), joinedSeq: 2 * i, ...closed, deliveredSeq: 2 * i, readSeq: 2 * i };
      }),
    );
  };
  return {
    store,
    seedCycles,
    cleanup: async () => {
      await store.close();
      await dropMongoDatabase(url);
    },
  };
});

describe('MongoStore specifics', () => {
  const url = freshMongoUrl();
  let store: MongoStore;
  let second: MongoStore; // another "node" on the same database

  beforeAll(async () => {
    store = new MongoStore({ url });
    second = new MongoStore({ url });
    await Promise.all([store.init(), second.init()]); // concurrent init, as on a cluster start
  });
  afterAll(async () => {
    await Promise.all([store?.close(), second?.close()]);
    await dropMongoDatabase(url);
  });

  const uid = (label: string) => `${label}-${randomBytes(4).toString('hex')}`;
  const text = (conversationId: string, senderId: string, clientMsgId: string): NewMessage => ({
    conversationId,
    senderId,
    clientMsgId,
    kind: 'text',
    text: clientMsgId,
  });
  async function group(owner: string, members: string[] = []) {
    const { conversation } = await store.createConversation({
      type: 'group',
      title: 'g',
      createdBy: owner,
      public: false,
      members: [{ userId: owner, role: 'owner' }, ...members.map((userId) => ({ userId, role: 'member' as Role }))],
    });
    return conversation;
  }

  it('builds the unique and partial indexes the adapter relies on', async () => {
    const conn = await mongoose.createConnection(url).asPromise();
    try {
      const indexes = async (name: string) =>
        Object.fromEntries((await conn.db!.collection(name).indexes()).map((i) => [i.name, i]));
      const messages = await indexes('messages');
      expect(messages.conversation_seq).toMatchObject({ key: { conversationId: 1, seq: 1 }, unique: true });
      expect(messages.conversation_sender_client_msg).toMatchObject({
        key: { conversationId: 1, senderId: 1, clientMsgId: 1 },
        unique: true,
      });
      expect(messages.unread).toMatchObject({ key: { conversationId: 1, seq: 1, kind: 1, senderId: 1 } });
      const memberships = await indexes('memberships');
      expect(memberships.open_period).toMatchObject({ unique: true, partialFilterExpression: { open: true } });
      expect(memberships.user_open).toMatchObject({ key: { userId: 1, open: 1, conversationId: 1 } });
      // Shardable on { _id: 1 }: no unique index but _id (direct pairs are unique in direct_pairs).
      await group(uid('a'));
      const conversations = await indexes('conversations');
      const unique = Object.values(conversations).filter((i) => (i as { unique?: boolean }).unique === true);
      expect(unique.map((i) => (i as { name: string }).name).filter((n) => n !== '_id_')).toEqual([]); // jongodb flags _id_ unique
      expect(Object.keys(conversations)).not.toContain('direct_pair');
    } finally {
      await conn.close();
    }
  });

  it('start-up creates missing indexes but leaves a changed one for migrate (no rebuild, no crash loop)', async () => {
    const driftUrl = freshMongoUrl();
    const conn = await mongoose.createConnection(driftUrl).asPromise();
    const fresh = new MongoStore({ url: driftUrl });
    try {
      // An older release's 'unread' index with another key.
      await conn.db!.collection('messages').createIndex({ conversationId: 1, seq: 1 }, { name: 'unread' });
      await fresh.init();
      expect(fresh.indexDrift()).toEqual([{ collection: 'messages', name: 'unread', problem: 'different' }]);
      const names = (await conn.db!.collection('messages').indexes()).map((i) => i.name);
      expect(names).toEqual(expect.arrayContaining(['conversation_seq', 'conversation_sender_client_msg', 'unread']));
      expect((await conn.db!.collection('messages').indexes()).find((i) => i.name === 'unread')?.key).toEqual({ conversationId: 1, seq: 1 });
      await fresh.init(); // a second node starting: the same answer, nothing rebuilt
      expect(fresh.indexDrift()).toHaveLength(1);
      // Rebuilding needs dropIndexes, which only a real mongod has (JONGODB.md #4).
      if (mongoIsReal()) {
        await fresh.migrate();
        expect(fresh.indexDrift()).toEqual([]);
        expect((await conn.db!.collection('messages').indexes()).find((i) => i.name === 'unread')?.key).toEqual({ conversationId: 1, seq: 1, kind: 1, senderId: 1 });
      }
    } finally {
      await fresh.close();
      await conn.close();
      await dropMongoDatabase(driftUrl);
    }
  });

  // jongodb has no `$max` (JONGODB.md #1), so there the store falls back to `$set`: real mongod only.
  it.runIf(mongoIsReal())('a node whose clock is behind never moves a conversation back in the inbox order', async () => {
    const a = uid('a');
    const conv = await group(a);
    await store.appendMessage(text(conv.id, a, 'now'));
    const conn = await mongoose.createConnection(url).asPromise();
    try {
      const activity = async () =>
        ((await conn.db!.collection('conversations').findOne({ _id: new mongoose.Types.ObjectId(conv.id) }))!.lastActivityAt as Date).getTime();
      const before = await activity();
      vi.useFakeTimers({ toFake: ['Date'], now: before - 60_000 }); // this node's clock a minute behind
      try {
        await store.appendMessage(text(conv.id, a, 'from the past'));
      } finally {
        vi.useRealTimers();
      }
      expect(await activity()).toBe(before);
    } finally {
      await conn.close();
    }
  });

  // Only a real mongod has `explain` (JONGODB.md #4): run with MONGO_URL set.
  it.runIf(mongoIsReal())('counts unread messages from the index alone (covered, no documents fetched)', async () => {
    const a = uid('a');
    const b = uid('b');
    const conv = await group(a, [b]);
    await store.appendMessages(Array.from({ length: 20 }, (_, i) => text(conv.id, a, `u${i}`)));
    const conn = await mongoose.createConnection(url).asPromise();
    try {
      const filter = { conversationId: new mongoose.Types.ObjectId(conv.id), seq: { $gt: 0 }, kind: { $nin: ['system', 'gap'] }, senderId: { $ne: b } };
      const plan = await conn.db!.collection('messages')
        .aggregate([{ $match: filter }, { $limit: 9_999 }, { $group: { _id: 1, n: { $sum: 1 } } }], { hint: 'unread' })
        .explain('executionStats');
      const stats = JSON.stringify(plan);
      expect(stats).toMatch(/"totalDocsExamined":0\b/);
      expect(stats).toMatch(/"totalKeysExamined":(?:[1-9]\d*)/);
      expect((await store.listConversations(b, { limit: 1 })).items[0]?.unread).toBe(20);
    } finally {
      await conn.close();
    }
  });

  it('returns plain protocol objects (strict schemas: no _id, __v or extra keys)', async () => {
    const a = uid('a');
    const conv = await group(a);
    const { message } = await store.appendMessage(text(conv.id, a, 'plain'));
    expect(() => ConversationSchema.parse(conv)).not.toThrow();
    expect(() => MessageSchema.parse(message)).not.toThrow();
    const fetched = await store.getMessage(message.id);
    expect(() => MessageSchema.parse(fetched)).not.toThrow();
    const membership = await store.getMembership(conv.id, a);
    expect(() => MembershipSchema.parse(membership)).not.toThrow();
    const [summary] = (await store.listConversations(a, { limit: 5 })).items;
    expect(() => MessageSchema.parse(summary?.lastMessage)).not.toThrow();
    expect(Object.getPrototypeOf(message)).toBe(Object.prototype);
  });

  it('treats operator objects smuggled in as ids as values, never as query selectors', async () => {
    const a = uid('a');
    const b = uid('b');
    const conv = await group(a, [b]);
    await store.appendMessage(text(conv.id, a, 'secret'));
    const ne = { $ne: 'nobody' } as unknown as string;

    expect(await store.getConversation({ $ne: null } as unknown as string)).toBeNull();
    expect(await store.getMessage({ $gt: '' } as unknown as string)).toBeNull();
    await expect(store.getMembership(conv.id, ne)).rejects.toBeInstanceOf(InvalidArgumentStoreError);
    await expect(store.getMessageByClientId(conv.id, ne, ne)).rejects.toBeInstanceOf(InvalidArgumentStoreError);
    await expect(store.listConversations(ne, { limit: 5 })).rejects.toBeInstanceOf(InvalidArgumentStoreError);
    await expect(store.listConversationIds(ne)).rejects.toBeInstanceOf(InvalidArgumentStoreError);
    await expect(store.removeMember(conv.id, ne)).rejects.toBeInstanceOf(InvalidArgumentStoreError);
    await expect(store.getReadReceipts(ne)).rejects.toBeInstanceOf(InvalidArgumentStoreError);
    await expect(store.addMembers(conv.id, [{ userId: ne, role: 'member' }])).rejects.toBeInstanceOf(InvalidArgumentStoreError);
    await expect(
      store.advanceWatermarks([{ conversationId: conv.id, userId: ne, type: 'read', seq: 1 }]),
    ).rejects.toBeInstanceOf(InvalidArgumentStoreError);
    // Nothing moved or left.
    expect(await store.countMembers(conv.id)).toBe(2);
    expect((await store.getMembership(conv.id, b))?.readSeq).toBe(0);
  });

  it('two stores in one process share the database: 20 identical appends split across them store one message', async () => {
    const a = uid('a');
    const conv = await group(a);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? store : second).appendMessage(text(conv.id, a, 'twin'))),
    );
    expect(results.filter((r) => !r.duplicate)).toHaveLength(1);
    expect(new Set(results.map((r) => r.message.id)).size).toBe(1);
    expect(await store.pageMessages({ conversationId: conv.id, periods: [{ afterSeq: 0, untilSeq: null }], limit: 50 })).toHaveLength(1);
  });

  it('50 concurrent appends from two stores get distinct, strictly increasing seqs in storage order', async () => {
    const a = uid('a');
    const conv = await group(a);
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => (i % 2 ? store : second).appendMessage(text(conv.id, a, `c${i}`))),
    );
    const seqs = results.map((r) => r.message.seq);
    expect(new Set(seqs).size).toBe(50);
    const stored = await store.pageMessages({ conversationId: conv.id, periods: [{ afterSeq: 0, untilSeq: null }], after: 0, limit: 100 });
    expect(stored.map((m) => m.seq)).toEqual([...seqs].sort((x, y) => x - y));
    expect(stored.map((m) => m.id).sort()).toEqual(results.map((r) => r.message.id).sort());
  });

  it('skips a seq that is already taken instead of failing (single and batch)', async () => {
    // The counter never hands out a taken seq on MongoDB; jongodb's findOneAndUpdate can (see
    // JONGODB.md), and a restored backup could leave the counter behind its messages.
    const a = uid('a');
    const conv = await group(a);
    const conn = await mongoose.createConnection(url).asPromise();
    try {
      const squat = (seq: number) =>
        conn.db!.collection('messages').insertOne({
          conversationId: new mongoose.Types.ObjectId(conv.id),
          seq,
          senderId: 'squatter',
          clientMsgId: `squat${seq}`,
          kind: 'text',
          text: 'x',
          createdAt: new Date(),
        });
      await squat(1);
      const single = await store.appendMessage(text(conv.id, a, 'one'));
      expect(single).toMatchObject({ duplicate: false, message: { seq: 2 } });
      await squat(4);
      const batch = await store.appendMessages([text(conv.id, a, 'b1'), text(conv.id, a, 'b2'), text(conv.id, a, 'b3')]);
      expect(batch.map((r) => r.duplicate)).toEqual([false, false, false]);
      const seqs = batch.map((r) => r.message.seq);
      expect(new Set([1, 2, 4, ...seqs]).size).toBe(6);
      const stored = await store.pageMessages({ conversationId: conv.id, periods: [{ afterSeq: 0, untilSeq: null }], after: 0, limit: 50 });
      expect(stored.filter((m) => m.senderId === a).map((m) => m.clientMsgId).sort()).toEqual(['b1', 'b2', 'b3', 'one']);
    } finally {
      await conn.close();
    }
  });

  it('a reader closes a seq reserved but not yet inserted, so the late insert moves past the reader (#14 item 1)', async () => {
    // A writer between its `$inc` and its insert, frozen there by hand: the reader must not hand
    // out what follows while that seq could still appear behind it.
    const a = uid('a');
    const conv = await group(a);
    const cid = new mongoose.Types.ObjectId(conv.id);
    const conn = await mongoose.createConnection(url).asPromise();
    try {
      const before = (await store.appendMessage(text(conv.id, a, 'before'))).message;
      const reserved = (await conn.db!.collection('conversations').findOneAndUpdate({ _id: cid }, { $inc: { lastSeq: 1 } }, { returnDocument: 'after' }))!.lastSeq as number;
      const later = (await second.appendMessage(text(conv.id, a, 'later'))).message;
      expect(later.seq).toBeGreaterThan(reserved);

      const page = await store.pageMessages({ conversationId: conv.id, periods: [{ afterSeq: 0, untilSeq: null }], after: before.seq, limit: 10 });
      expect(page.map((m) => m.id)).toEqual([later.id]);
      // The frozen writer wakes up: its seq is taken (the real adapter then takes a fresh one).
      const late = { conversationId: cid, seq: reserved, senderId: a, clientMsgId: 'late', kind: 'text', text: 'late', createdAt: new Date() };
      await expect(conn.db!.collection('messages').insertOne(late)).rejects.toMatchObject({ code: 11000 });
      // Through the adapter the same message lands after everything the reader has seen.
      const stored = (await store.appendMessage(text(conv.id, a, 'late'))).message;
      expect(stored.seq).toBeGreaterThan(later.seq);
      expect(await second.pageMessages({ conversationId: conv.id, periods: [{ afterSeq: 0, untilSeq: null }], after: later.seq, limit: 10 })).toEqual([stored]);
      expect(await store.getMessage(stored.id)).toEqual(stored);
    } finally {
      await conn.close();
    }
  });

  it('a join or leave left pending by a node that died is carried out by the next writer, at the frozen seq (#14 item 7)', async () => {
    const [a, b, c] = [uid('a'), uid('b'), uid('c')];
    const conv = await group(a, [c]);
    const cid = new mongoose.Types.ObjectId(conv.id);
    await store.appendMessages([text(conv.id, a, 'p1'), text(conv.id, a, 'p2')]);
    const conn = await mongoose.createConnection(url).asPromise();
    try {
      const conversations = conn.db!.collection('conversations');
      // A node set the join pending (counter frozen at 2) and died before inserting the period.
      const join = { token: new mongoose.Types.ObjectId(), at: new Date(), join: [{ _id: new mongoose.Types.ObjectId(), userId: b, role: 'member' }] };
      await conversations.updateOne({ _id: cid }, { $set: { pending: join } });
      const next = (await second.appendMessage(text(conv.id, a, 'p3'))).message;
      expect(next.seq).toBe(3);
      expect(await store.listPeriods(conv.id, b)).toEqual([{ afterSeq: 2, untilSeq: null }]);
      expect(await conversations.findOne({ _id: cid, pending: { $exists: true } })).toBeNull();

      // The same for a leave, found by another membership change instead of an append.
      const period = await conn.db!.collection('memberships').findOne({ conversationId: cid, userId: c, open: true });
      await conversations.updateOne({ _id: cid }, { $set: { pending: { token: new mongoose.Types.ObjectId(), at: new Date(), leave: period!._id } } });
      expect(await store.addMembers(conv.id, [{ userId: uid('d'), role: 'member' }])).toHaveLength(1);
      expect(await store.listPeriods(conv.id, c)).toEqual([{ afterSeq: 0, untilSeq: 3 }]);
      // That removal was the dead node's, not a later caller's.
      expect(await store.removeMember(conv.id, c)).toBe(false);
    } finally {
      await conn.close();
    }
  });

  it('ping (/readyz) reads the majority lag from the primary’s hello: on a replica set past the limit it is UNAVAILABLE, majority-lag (#14 item 5)', async () => {
    await expect(store.ping()).resolves.toBeUndefined();
    // A limit below zero: any replica set "lags". jongodb and a standalone mongod report no
    // lastWrite (nothing to lag), so there the probe stays ready.
    const strict = new MongoStore({ url, maxMajorityLagMs: -1 });
    try {
      const conn = await mongoose.createConnection(url).asPromise();
      const hello = await conn.db!.admin().command({ hello: 1 }).finally(() => conn.close());
      if (typeof hello.setName === 'string') {
        expect(hello.lastWrite?.majorityWriteDate).toBeInstanceOf(Date);
        await expect(strict.ping()).rejects.toMatchObject({ name: 'StoreUnavailableError', reason: 'majority-lag' });
      } else {
        expect(hello.lastWrite).toBeUndefined();
        await expect(strict.ping()).resolves.toBeUndefined();
      }
    } finally {
      await strict.close();
    }
  });

  it('conversation ids are random, not time-ordered, so a ranged shard key spreads new conversations (#14 item 8)', async () => {
    const a = uid('a');
    const ids = [];
    for (let i = 0; i < 12; i++) ids.push((await group(a)).id);
    // A default ObjectId starts with the creation time in seconds, so these would all sit within
    // a few seconds of now and rise in creation order.
    const now = Math.floor(Date.now() / 1000);
    const nearNow = ids.filter((id) => Math.abs(parseInt(id.slice(0, 8), 16) - now) < 3_600);
    expect(nearNow.length).toBeLessThanOrEqual(1);
    expect([...ids].sort()).not.toEqual(ids);
  });

  it('concurrent adds of the same user open exactly one period', async () => {
    const a = uid('a');
    const b = uid('b');
    const conv = await group(a);
    const added = await Promise.all(
      Array.from({ length: 8 }, (_, i) => (i % 2 ? store : second).addMembers(conv.id, [{ userId: b, role: 'member' }])),
    );
    expect(added.flat()).toEqual([b]);
    expect(await store.listPeriods(conv.id, b)).toEqual([{ afterSeq: 0, untilSeq: null }]);
    expect(await store.countMembers(conv.id)).toBe(2);
  });

  it('concurrent watermark updates end at the highest seq, capped at lastSeq', async () => {
    const a = uid('a');
    const b = uid('b');
    const conv = await group(a, [b]);
    await store.appendMessages(Array.from({ length: 10 }, (_, i) => text(conv.id, a, `w${i}`)));
    const seqs = [3, 9, 1, 7, 42, 5, 8, 2];
    const moved = await Promise.all(
      seqs.map((seq, i) => (i % 2 ? store : second).advanceWatermarks([{ conversationId: conv.id, userId: b, type: 'delivered', seq }])),
    );
    expect(moved.flat().some(Boolean)).toBe(true);
    expect((await store.getMembership(conv.id, b))?.deliveredSeq).toBe(10);
    expect(await store.advanceWatermarks([{ conversationId: conv.id, userId: b, type: 'delivered', seq: 10 }])).toEqual([false]);
  });

  it('keeps one open period per (conversation, user) across leave and rejoin cycles', async () => {
    const a = uid('a');
    const b = uid('b');
    const conv = await group(a, [b]);
    for (let round = 0; round < 3; round++) {
      await store.appendMessage(text(conv.id, a, `r${round}`));
      expect(await store.removeMember(conv.id, b)).toBe(true);
      expect(await store.addMembers(conv.id, [{ userId: b, role: 'member' }])).toEqual([b]);
    }
    const periods = await store.listPeriods(conv.id, b);
    expect(periods).toEqual([
      { afterSeq: 0, untilSeq: 1 },
      { afterSeq: 1, untilSeq: 2 },
      { afterSeq: 2, untilSeq: 3 },
      { afterSeq: 3, untilSeq: null },
    ]);
    expect(await store.listConversationIds(b)).toEqual([conv.id]);
  });

  it('pages a user with many conversations by activity, each exactly once', async () => {
    const u = uid('u');
    const convs = [];
    for (let i = 0; i < 12; i++) convs.push(await group(u));
    // Make the oldest ones the most recently active (a few ms later, so no tie with creation).
    await new Promise((resolve) => setTimeout(resolve, 5));
    for (const c of convs.slice(0, 4)) await store.appendMessage(text(c.id, u, 'bump'));
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let guard = 0; guard < 10; guard++) {
      const page = await store.listConversations(u, { limit: 5, ...(cursor && { cursor }) });
      seen.push(...page.items.map((s) => s.conversation.id));
      cursor = page.nextCursor;
      if (!cursor) break;
    }
    expect(seen).toHaveLength(12);
    expect(new Set(seen).size).toBe(12);
    expect(seen.slice(0, 4)).toEqual(convs.slice(0, 4).map((c) => c.id).reverse());
    // The same pages when the user's conversation ids are read 5 at a time (#14: never all at once).
    const models = (store as unknown as { m: Models }).m;
    const chunked: string[] = [];
    cursor = undefined;
    for (let guard = 0; guard < 10; guard++) {
      const page = await listConversations(models, u, { limit: 5, ...(cursor && { cursor }) }, 5);
      chunked.push(...page.items.map((s) => s.conversation.id));
      cursor = page.nextCursor;
      if (!cursor) break;
    }
    expect(chunked).toEqual(seen);
  });
});

describe('MongoStore without a reachable server', () => {
  /** A local port nothing listens on. */
  async function deadPort(): Promise<number> {
    const srv = createServer();
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    const { port } = srv.address() as { port: number };
    await new Promise<void>((resolve) => srv.close(() => resolve()));
    return port;
  }

  it('fails fast with StoreUnavailableError, and again on the next call', async () => {
    const store = new MongoStore({ url: `mongodb://127.0.0.1:${await deadPort()}/nothing`, serverSelectionTimeoutMs: 500 });
    try {
      const started = Date.now();
      await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(store.appendMessage(text('0123456789abcdef01234567', 'u', 'c'))).rejects.toBeInstanceOf(StoreUnavailableError);
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      await store.close();
    }
    await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailableError); // closed
  });

  function text(conversationId: string, senderId: string, clientMsgId: string): NewMessage {
    return { conversationId, senderId, clientMsgId, kind: 'text', text: 'x' };
  }
});
