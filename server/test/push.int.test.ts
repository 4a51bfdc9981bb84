// Offline push (§9) over two gateway nodes on real Redis and PostgreSQL, to a real HTTP receiver
// on this machine: one signed, batched post per offline member, none to online, muted or sending
// members; retries after 500s, then the push dead-letter queue; and a webhook that hangs does
// not hold back `message:new` (shown by order of events: the next message is delivered while the
// previous post is still unanswered).
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Message } from '../../protocol/index.js';
import { call, clientMsgId, inbox } from './support/chat.js';
import type { Cluster } from './support/cluster.js';
import { client } from './support/http.js';
import { pushSettled, startPushCluster, type PushCluster } from './support/push-receiver.js';

const SECRET = 'push-test-secret';
const BATCH_MS = 500;

let push: PushCluster;
let cluster: Cluster;
let receiver: PushCluster['receiver'];
let redis: Redis;
let pushQueue: Queue;
let pushDlq: Queue;
const uid = (name: string) => `${name}-${process.pid}-${Date.now().toString(36)}`;

beforeAll(async () => {
  push = await startPushCluster({ secret: SECRET, batchMs: BATCH_MS, attempts: 6, backoffMs: 50 });
  ({ cluster, receiver, redis, pushQueue, pushDlq } = push);
});
afterAll(() => push?.close());

/** A group made by `owner` (online on node 0) with the given members; returns its id. */
async function group(ownerSocket: Awaited<ReturnType<Cluster['connect']>>, memberIds: string[]): Promise<string> {
  const { conversation } = await call(ownerSocket, 'conversation:create', { type: 'group', title: 'push', memberIds });
  return conversation.id;
}

describe('offline push through the webhook', () => {
  it('posts one signed batch per offline member within PUSH_BATCH_MS + 1 s, none to online, muted or sending members', async () => {
    const [alice, bob, carol, dave] = ['alice', 'bob', 'carol', 'dave'].map(uid) as [string, string, string, string];
    const aliceSocket = await cluster.connect(alice, 0);
    const carolSocket = await cluster.connect(carol, 1);
    const conversationId = await group(aliceSocket, [bob, carol, dave]);
    const muted = await client(cluster.nodes[1]!.url, cluster.token(dave)).put(`/v1/conversations/${conversationId}/settings`, { muted: true });
    expect(muted.body).toEqual({ muted: true });
    // Only members have settings for a conversation; a bad body changes nothing.
    const outsider = client(cluster.nodes[0]!.url, cluster.token(uid('outsider')));
    expect((await outsider.put(`/v1/conversations/${conversationId}/settings`, { muted: true })).status).toBe(404);
    const daveApi = client(cluster.nodes[0]!.url, cluster.token(dave));
    expect((await daveApi.put(`/v1/conversations/${conversationId}/settings`, { muted: 'yes' })).status).toBe(400);
    expect((await daveApi.get(`/v1/conversations/${conversationId}/settings`)).body).toEqual({ muted: true });
    const carolInbox = inbox(carolSocket);

    const sentAt = Date.now();
    const sent: Message[] = [];
    for (const text of ['one', 'two', 'three']) sent.push((await call(aliceSocket, 'message:send', { conversationId, clientMsgId: clientMsgId('push'), kind: 'text', text })).message);
    await carolInbox.hasAll(sent.map((m) => m.id));

    await receiver.until((ps) => ps.some((p) => p.userId === bob), BATCH_MS + 1_000 + 2_000);
    const bobPosts = receiver.posts.filter((p) => p.userId === bob);
    expect(bobPosts[0]!.at - sentAt).toBeLessThanOrEqual(BATCH_MS + 1_000);
    await pushSettled(pushQueue);
    expect(receiver.posts.filter((p) => p.userId === bob)).toHaveLength(1);
    expect(bobPosts[0]).toMatchObject({ conversationId, signatureOk: true });
    expect(bobPosts[0]!.messages.map((m) => m.text)).toEqual(['one', 'two', 'three']);
    for (const other of [alice, carol, dave]) expect(receiver.posts.filter((p) => p.userId === other)).toEqual([]);
  });

  it('a post refused with 500 five times arrives on the sixth try', async () => {
    const [owner, erin] = ['owner', 'erin'].map(uid) as [string, string];
    receiver.answer = (userId, attempt) => (userId === erin && attempt <= 5 ? 500 : 200);
    const ownerSocket = await cluster.connect(owner, 0);
    const conversationId = await group(ownerSocket, [erin]);
    await call(ownerSocket, 'message:send', { conversationId, clientMsgId: clientMsgId('retry'), kind: 'text', text: 'again' });
    await receiver.until((ps) => ps.filter((p) => p.userId === erin).length >= 6, 15_000);
    await pushSettled(pushQueue);
    const tries = receiver.posts.filter((p) => p.userId === erin);
    expect(tries).toHaveLength(6);
    expect(new Set(tries.map((p) => p.pushId)).size).toBe(1); // one post, retried
    expect(tries.every((p) => p.signatureOk)).toBe(true);
  });

  it('a post that fails every attempt moves to the push dead-letter queue', async () => {
    const [owner, fay] = ['owner', 'fay'].map(uid) as [string, string];
    receiver.answer = (userId) => (userId === fay ? 500 : 200);
    const ownerSocket = await cluster.connect(owner, 1);
    const conversationId = await group(ownerSocket, [fay]);
    await call(ownerSocket, 'message:send', { conversationId, clientMsgId: clientMsgId('dlq'), kind: 'text', text: 'lost cause' });
    await expect
      .poll(async () => (await pushDlq.getJobs(['waiting', 'delayed', 'completed', 'failed'])).filter((j) => (j.data as { data?: { userId?: string } }).data?.userId === fay).length, { timeout: 15_000, interval: 100 })
      .toBe(1);
    expect(receiver.posts.filter((p) => p.userId === fay)).toHaveLength(6);
  });

  it('a webhook that hangs does not hold back delivery: the next message reaches online members while the post is unanswered', async () => {
    const [owner, gus, hal] = ['owner', 'gus', 'hal'].map(uid) as [string, string, string];
    receiver.answer = (userId) => (userId === gus ? 'hang' : 200);
    const ownerSocket = await cluster.connect(owner, 0);
    const halSocket = await cluster.connect(hal, 1);
    const conversationId = await group(ownerSocket, [gus, hal]);
    const halInbox = inbox(halSocket);
    await call(ownerSocket, 'message:send', { conversationId, clientMsgId: clientMsgId('hang'), kind: 'text', text: 'first' });
    await receiver.until((ps) => ps.some((p) => p.userId === gus));
    const unanswered = receiver.posts.filter((p) => p.userId === gus).length;
    const second = (await call(ownerSocket, 'message:send', { conversationId, clientMsgId: clientMsgId('hang'), kind: 'text', text: 'second' })).message;
    const start = Date.now();
    await halInbox.hasAll([second.id]);
    // Still held: the delivery did not wait for it (the post's time limit is 3 s).
    expect(receiver.posts.filter((p) => p.userId === gus)).toHaveLength(unanswered);
    expect(Date.now() - start).toBeLessThan(1_000);
  });
});
