// Direct-pair uniqueness through `direct_pairs` (create.ts), #14 item 8: race-free without a
// unique index on `conversations`, finished by the next create after a crash, and the move from
// an older release's `direct_pair` index (adopting its conversations, migrate).
import { randomBytes } from 'node:crypto';
import mongoose, { Types, type Connection } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshMongoUrl, mongoIsReal } from '../../test/support/env.js';
import { dropMongoDatabase } from '../../test/support/mongo.js';
import { directPairKey } from '../shared.js';
import { completeDirect, recordDirectPairs } from './create.js';
import type { DirectPairDoc, Models } from './models.js';
import { MongoStore } from './mongo.store.js';

describe('MongoStore direct pairs', () => {
  const url = freshMongoUrl();
  let store: MongoStore;
  let second: MongoStore; // another node on the same database
  let conn: Connection;
  const models = () => (store as unknown as { m: Models }).m;

  beforeAll(async () => {
    store = new MongoStore({ url });
    second = new MongoStore({ url });
    await Promise.all([store.init(), second.init()]);
    conn = await mongoose.createConnection(url).asPromise();
  });
  afterAll(async () => {
    await Promise.all([store?.close(), second?.close(), conn?.close()]);
    await dropMongoDatabase(url);
  });

  const uid = (label: string) => `${label}-${randomBytes(4).toString('hex')}`;
  const direct = (s: MongoStore, x: string, y: string) =>
    s.createConversation({ type: 'direct', createdBy: x, public: false, members: [{ userId: x, role: 'member' }, { userId: y, role: 'member' }] });
  const openPeriods = (userId: string) => conn.db!.collection('memberships').find({ userId, open: true }).toArray();
  /** A claim as a node writes it before anything else (create.ts). */
  const claim = (a: string, b: string): DirectPairDoc => ({
    _id: directPairKey([a, b]),
    conversationId: new Types.ObjectId(randomBytes(12)),
    createdBy: a,
    createdAt: new Date(),
    public: false,
    members: [a, b].map((userId) => ({ _id: new Types.ObjectId(), userId, role: 'member' as const })),
  });

  it('migrate --drop-retired on a database without direct_pair records nothing and drops nothing', async () => {
    await store.migrate({ dropRetired: true });
    expect(store.indexDrift()).toEqual([]);
  });

  it('20 concurrent creates of one pair on two nodes, in both orders, make one conversation with two periods', async () => {
    const [a, b] = [uid('a'), uid('b')];
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => direct(i % 2 ? store : second, ...((i % 4 < 2 ? [a, b] : [b, a]) as [string, string]))));
    expect(results.filter((r) => r.created)).toHaveLength(1);
    const ids = new Set(results.map((r) => r.conversation.id));
    expect(ids.size).toBe(1);
    const [id] = [...ids];
    for (const u of [a, b]) expect((await openPeriods(u)).map((p) => p.conversationId.toHexString())).toEqual([id]);
    expect(await conn.db!.collection('conversations').countDocuments({ directKey: directPairKey([a, b]) })).toBe(1);
    const pair = await conn.db!.collection<DirectPairDoc>('direct_pairs').findOne({ _id: directPairKey([a, b]) });
    expect(pair?.conversationId.toHexString()).toBe(id);
  });

  it('a pair claimed by a node that died before the conversation is finished by the next create, under the claimed ids', async () => {
    for (const periodsWritten of [0, 1]) {
      const [a, b] = [uid('a'), uid('b')];
      const dead = claim(a, b);
      await conn.db!.collection<DirectPairDoc>('direct_pairs').insertOne(dead);
      if (periodsWritten) {
        const m = dead.members[0]!;
        await conn.db!.collection('memberships').insertOne({ _id: m._id, conversationId: dead.conversationId, userId: m.userId, role: 'member', open: true, joinedAt: dead.createdAt, joinedSeq: 0, deliveredSeq: 0, readSeq: 0 });
      }
      const [one, two] = await Promise.all([direct(store, b, a), direct(second, a, b)]);
      for (const r of [one, two]) expect(r).toMatchObject({ created: false, conversation: { id: dead.conversationId.toHexString(), type: 'direct', createdBy: a, lastSeq: 0 } });
      for (const u of [a, b]) expect((await openPeriods(u)).map((p) => p._id.toHexString())).toEqual([dead.members.find((m) => m.userId === u)!._id.toHexString()]);
      expect(await store.countMembers(dead.conversationId.toHexString())).toBe(2);
    }
  });

  it('finishing a claim late never reopens a period that was closed since', async () => {
    const [a, b] = [uid('a'), uid('b')];
    const { conversation } = await direct(store, a, b);
    const stale = await conn.db!.collection<DirectPairDoc>('direct_pairs').findOne({ _id: directPairKey([a, b]) });
    await store.appendMessage({ conversationId: conversation.id, senderId: a, clientMsgId: 'm1', kind: 'text', text: 'hi' });
    expect(await store.removeMember(conversation.id, b)).toBe(true);
    // A node that read "no conversation yet" before the leave writes the claimed documents now
    // (the conversation is removed so that completeDirect takes that path).
    await conn.db!.collection('conversations').deleteOne({ _id: stale!.conversationId });
    await completeDirect(models(), stale!);
    expect(await store.getMembership(conversation.id, b)).toBeNull();
    expect(await store.listPeriods(conversation.id, b)).toEqual([{ afterSeq: 0, untilSeq: 1 }]);
  });

  it('before migrate drops direct_pair, an older release’s conversation of the pair is adopted, and migrate records the rest', async () => {
    const oldUrl = freshMongoUrl();
    const old = await mongoose.createConnection(oldUrl).asPromise();
    const node = new MongoStore({ url: oldUrl });
    try {
      const conversations = old.db!.collection('conversations');
      await conversations.createIndex({ directKey: 1 }, { name: 'direct_pair', unique: true, partialFilterExpression: { directKey: { $exists: true } } });
      const legacy = async (a: string, b: string) => {
        const _id = new Types.ObjectId();
        const at = new Date();
        await old.db!.collection('memberships').insertMany([a, b].map((userId) => ({ _id: new Types.ObjectId(), conversationId: _id, userId, role: 'member', open: true, joinedAt: at, joinedSeq: 0, deliveredSeq: 0, readSeq: 0 })));
        await conversations.insertOne({ _id, type: 'direct', createdBy: a, createdAt: at, lastSeq: 0, public: false, lastActivityAt: at, directKey: directPairKey([a, b]) });
        return _id.toHexString();
      };
      const [a, b, c, d] = [uid('a'), uid('b'), uid('c'), uid('d')];
      const ab = await legacy(a, b);
      const cd = await legacy(c, d);
      await node.init();
      expect(node.indexDrift()).toEqual([{ collection: 'conversations', name: 'direct_pair', problem: 'retired' }]);

      const results = await Promise.all(Array.from({ length: 6 }, (_, i) => node.createConversation({ type: 'direct', createdBy: i % 2 ? a : b, public: false, members: [{ userId: a, role: 'member' }, { userId: b, role: 'member' }] })));
      for (const r of results) expect(r).toMatchObject({ created: false, conversation: { id: ab } });
      // The claims' own periods were removed: each user has the older conversation only.
      for (const u of [a, b]) expect((await old.db!.collection('memberships').find({ userId: u }).toArray()).map((p) => p.conversationId.toHexString())).toEqual([ab]);
      const pairs = old.db!.collection<{ _id: string; conversationId: Types.ObjectId }>('direct_pairs');
      expect((await pairs.findOne({ _id: directPairKey([a, b]) }))?.conversationId.toHexString()).toBe(ab);

      // migrate --drop-retired first records every pair still without a claim (c–d), then drops.
      expect(await recordDirectPairs((node as unknown as { m: Models }).m)).toBe(1);
      expect((await pairs.findOne({ _id: directPairKey([c, d]) }))?.conversationId.toHexString()).toBe(cd);
      expect(await recordDirectPairs((node as unknown as { m: Models }).m)).toBe(0);
      // Dropping an index needs dropIndexes, which only a real mongod has (JONGODB.md #4).
      if (mongoIsReal()) {
        await node.migrate({ dropRetired: true });
        expect(node.indexDrift()).toEqual([]);
        expect((await conversations.indexes()).map((i) => i.name)).toEqual(['_id_']);
      }
      // Without the index the pairs stay unique through their claims.
      expect(await direct(node, d, c)).toMatchObject({ created: false, conversation: { id: cd } });
    } finally {
      await node.close();
      await old.close();
      await dropMongoDatabase(oldUrl);
    }
  });
});
