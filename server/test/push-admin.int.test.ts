// Operating offline push (§6, §7, §9) on two gateway nodes over real Redis, BullMQ and
// PostgreSQL, with a real webhook receiver: the push dead-letter queue on the admin routes
// (`?queue=push`: listed apart from the delivery one, replayed into the push queue so the post
// arrives signed, deleted for good, and only dead letters: BullMQ's own keys are 404), and the
// push metrics on /metrics counting exactly the posts the receiver saw.
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEAD_LETTER_QUEUE } from '../delivery/queue.js';
import { PUSH_DEAD_LETTER_QUEUE } from '../push/push.js';
import { call, clientMsgId } from './support/chat.js';
import type { Cluster } from './support/cluster.js';
import { client } from './support/http.js';
import { sample } from './support/prom-text.js';
import { pushSettled, startPushCluster, type PushCluster } from './support/push-receiver.js';

const SECRET = 'push-admin-secret';
const BATCH_MS = 300;
const ATTEMPTS = 3;

let push: PushCluster;
let cluster: Cluster;
let receiver: PushCluster['receiver'];
let redis: Redis;
let pushQueue: Queue;
const uid = (name: string) => `${name}-${process.pid}-${Date.now().toString(36)}`;
const admin = (i = 0) => client(cluster.nodes[i]!.url, cluster.token('push-op', { roles: ['admin'] }));

beforeAll(async () => {
  push = await startPushCluster({ secret: SECRET, batchMs: BATCH_MS, attempts: ATTEMPTS, backoffMs: 20 });
  ({ cluster, receiver, redis, pushQueue } = push);
});
afterAll(() => push?.close());

/** `owner` (online) messages a new group with `member` (offline); returns the message. */
async function messageOffline(owner: string, member: string, text: string) {
  const socket = await cluster.connect(owner, 1);
  const { conversation } = await call(socket, 'conversation:create', { type: 'group', title: 'push ops', memberIds: [member] });
  const { message } = await call(socket, 'message:send', { conversationId: conversation.id, clientMsgId: clientMsgId('pa'), kind: 'text', text });
  return message;
}

/** The push dead letters, as the admin route lists them. */
async function pushDeadLetters() {
  const res = await admin().get('/v1/admin/dlq?queue=push');
  expect(res.status).toBe(200);
  return res.body as { jobs: { jobId: string; step?: string; messageId?: string; conversationId?: string; failedReason?: string; attemptsMade: number }[]; total: number };
}

/** The sum over both nodes of a metric (each node has its own registry; either may run a job). */
async function scrapeAll(name: string, labels?: Record<string, string>): Promise<number> {
  let sum = 0;
  for (const node of cluster.nodes) {
    const text = await (await fetch(new URL('/metrics', node.url))).text();
    sum += sample(text, name, labels) ?? 0;
  }
  return sum;
}

describe('push dead letters on the admin routes', () => {
  it('lists a failed post under ?queue=push only, replays it into the push queue (it arrives signed), then it is gone', async () => {
    const [owner, fay] = [uid('owner'), uid('fay')];
    receiver.answer = (userId) => (userId === fay ? 500 : 200);
    expect(await pushDeadLetters()).toEqual({ jobs: [], total: 0 });
    const message = await messageOffline(owner, fay, 'dead then alive');

    await expect.poll(async () => (await pushDeadLetters()).total, { timeout: 15_000, interval: 100 }).toBe(1);
    const { jobs } = await pushDeadLetters();
    expect(jobs[0]).toEqual({
      jobId: expect.any(String),
      step: 'post',
      messageId: message.id,
      conversationId: message.conversationId,
      failedReason: 'webhook answered 500',
      attemptsMade: ATTEMPTS,
      timestamp: expect.any(Number),
    });
    expect(receiver.posts.filter((p) => p.userId === fay)).toHaveLength(ATTEMPTS);
    // The delivery dead-letter queue (the default, unchanged) does not hold it.
    const delivery = await admin(1).get('/v1/admin/dlq');
    expect(delivery.body).toEqual({ jobs: [], total: 0 });
    expect((await admin(1).post(`/v1/admin/dlq/${jobs[0]!.jobId}/retry`)).status).toBe(404);

    receiver.answer = () => 200;
    const retry = await admin(1).post(`/v1/admin/dlq/${jobs[0]!.jobId}/retry?queue=push`);
    expect(retry.status).toBe(200);
    expect(retry.body).toEqual({ jobId: jobs[0]!.jobId, replayedAs: `replay-${jobs[0]!.jobId}` });
    await receiver.until((ps) => ps.filter((p) => p.userId === fay).length === ATTEMPTS + 1);
    const replayed = receiver.posts.filter((p) => p.userId === fay).at(-1)!;
    expect(replayed).toMatchObject({ signatureOk: true, conversationId: message.conversationId, pushId: `replay-${jobs[0]!.jobId}` });
    expect(replayed.messages).toEqual([message]);
    expect(await pushDeadLetters()).toEqual({ jobs: [], total: 0 });
    expect((await admin().post(`/v1/admin/dlq/${jobs[0]!.jobId}/retry?queue=push`)).status).toBe(404);
  });

  it('deletes a push dead letter for good; the delivery queue keeps its own DELETE', async () => {
    const [owner, gil] = [uid('owner'), uid('gil')];
    receiver.answer = (userId) => (userId === gil ? 503 : 200);
    await messageOffline(owner, gil, 'never mind');
    await expect.poll(async () => (await pushDeadLetters()).total, { timeout: 15_000, interval: 100 }).toBe(1);
    const [dead] = (await pushDeadLetters()).jobs;
    await pushSettled(pushQueue);

    const before = receiver.posts.length;
    const removed = await admin(1).request('DELETE', `/v1/admin/dlq/${dead!.jobId}?queue=push`);
    expect(removed.status).toBe(204);
    expect(await pushDeadLetters()).toEqual({ jobs: [], total: 0 });
    expect((await admin().request('DELETE', `/v1/admin/dlq/${dead!.jobId}?queue=push`)).status).toBe(404);
    // Nothing was replayed: no job in the push queue, no post.
    expect(await pushQueue.getJob(`replay-${dead!.jobId}`)).toBeUndefined();
    await pushSettled(pushQueue);
    expect(receiver.posts.length).toBe(before);

    // The same route on the delivery dead-letter queue (no ?queue): a dead letter as the worker writes it.
    const dlq = new Queue(DEAD_LETTER_QUEUE, { connection: redis, prefix: cluster.env.REDIS_PREFIX! });
    try {
      await dlq.add('dead', { data: { messages: [] }, originalJobId: 'batch-x', failedReason: 'x', attemptsMade: 1, failedAt: Date.now() }, { jobId: 'dead-batch-x-1-1' });
      expect((await admin().get('/v1/admin/dlq')).body.total).toBe(1);
      expect((await admin().request('DELETE', '/v1/admin/dlq/dead-batch-x-1-1')).status).toBe(204);
      expect((await admin().get('/v1/admin/dlq')).body).toEqual({ jobs: [], total: 0 });
    } finally {
      await dlq.close();
    }
  });

  it('replays and deletes only dead letters: BullMQ keys are 404 and stay; bad queue names are 400; members are 403', async () => {
    const metaKey = `${cluster.env.REDIS_PREFIX}:${PUSH_DEAD_LETTER_QUEUE}:meta`;
    const before = await redis.hgetall(metaKey);
    expect(Object.keys(before).length).toBeGreaterThan(0);
    for (const id of ['meta', 'id', 'events', 'no-such-job']) {
      expect([id, (await admin().post(`/v1/admin/dlq/${id}/retry?queue=push`)).status]).toEqual([id, 404]);
      expect([id, (await admin(1).request('DELETE', `/v1/admin/dlq/${id}?queue=push`)).status]).toEqual([id, 404]);
    }
    expect(await redis.hgetall(metaKey)).toEqual(before);
    const bad = await admin().get('/v1/admin/dlq?queue=everything');
    expect([bad.status, bad.body.error.code]).toEqual([400, 'INVALID_ARGUMENT']);
    expect((await admin().post('/v1/admin/dlq/1/retry?queue=push&force=1')).status).toBe(400);
    const member = client(cluster.nodes[0]!.url, cluster.token(uid('member')));
    expect((await member.get('/v1/admin/dlq?queue=push')).status).toBe(403);
    expect((await member.request('DELETE', '/v1/admin/dlq/1?queue=push')).status).toBe(403);
  });
});

describe('push metrics', () => {
  it('/metrics counts the posts the receiver saw by outcome, their latency, messages per post and dead letters', async () => {
    await pushSettled(pushQueue);
    const names = ['ok', 'http_error', 'unreachable'] as const;
    const outcomes0 = await Promise.all(names.map((outcome) => scrapeAll('push_webhook_posts_total', { outcome })));
    const [latency0, batches0, batched0, dead0] = await Promise.all([
      scrapeAll('push_webhook_duration_seconds_count'),
      scrapeAll('push_batch_messages_count'),
      scrapeAll('push_batch_messages_sum'),
      scrapeAll('push_dead_lettered_total'),
    ]);
    const posts0 = receiver.posts.length;

    // hal: one post of three messages, refused twice then taken; ida: three refusals, dead-lettered.
    const [owner, hal, ida] = [uid('owner'), uid('hal'), uid('ida')];
    receiver.answer = (userId, attempt) => (userId === ida ? 500 : userId === hal && attempt <= 2 ? 500 : 200);
    const socket = await cluster.connect(owner, 0);
    const { conversation } = await call(socket, 'conversation:create', { type: 'group', title: 'metrics', memberIds: [hal] });
    for (const text of ['a', 'b', 'c']) await call(socket, 'message:send', { conversationId: conversation.id, clientMsgId: clientMsgId('pm'), kind: 'text', text });
    await messageOffline(owner, ida, 'doomed');
    await receiver.until((ps) => ps.filter((p) => p.userId === hal).length === 3 && ps.filter((p) => p.userId === ida).length === ATTEMPTS);
    await pushSettled(pushQueue);
    await expect.poll(() => scrapeAll('push_dead_lettered_total'), { timeout: 5_000, interval: 50 }).toBe(dead0 + 1);

    const posts = receiver.posts.slice(posts0);
    expect(posts.map((p) => p.messages.length).sort()).toEqual([1, 1, 1, 3, 3, 3]);
    const outcomes = await Promise.all(names.map((outcome) => scrapeAll('push_webhook_posts_total', { outcome })));
    expect(outcomes.map((v, i) => v - outcomes0[i]!)).toEqual([1, 5, 0]);
    expect((await scrapeAll('push_webhook_duration_seconds_count')) - latency0).toBe(6);
    // Two posts made (one per user), of 3 and 1 messages; retries are not new batches.
    expect((await scrapeAll('push_batch_messages_count')) - batches0).toBe(2);
    expect((await scrapeAll('push_batch_messages_sum')) - batched0).toBe(4);
    // Queue depth and dead letters from Redis at scrape time (each node reads the same queue).
    const dlqDepth = (await pushDeadLetters()).total;
    expect(dlqDepth).toBe(1);
    expect(await scrapeAll('queue_jobs', { queue: 'push-dlq', state: 'waiting' })).toBe(dlqDepth * cluster.nodes.length);
    expect(await scrapeAll('queue_jobs', { queue: 'push', state: 'waiting' })).toBe(0);
  });
});
