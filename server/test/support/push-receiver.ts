// Support for the push tests: a webhook receiver (a real HTTP server on this machine that records
// every post, checking its X-Signature against `secret`, and answers as the test says), and a
// wait for the push queue to run dry.
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { expect } from 'vitest';
import type { Message } from '../../../protocol/index.js';
import { PUSH_DEAD_LETTER_QUEUE, PUSH_QUEUE } from '../../push/push.js';
import { startCluster } from './cluster.js';
import { redisUrl } from './env.js';

export interface Post {
  userId: string;
  conversationId: string;
  messages: Message[];
  signatureOk: boolean;
  pushId: string;
  at: number;
}

/** A webhook receiver: records every request, answers as `answer(userId)` says. */
export function startReceiver(secret: string) {
  const posts: Post[] = [];
  const held: ServerResponse[] = [];
  const waiters = new Set<() => void>();
  let answer: (userId: string, attempt: number) => number | 'hang' = () => 200;
  const server: Server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const expected = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
      const parsed = JSON.parse(body.toString('utf8')) as Omit<Post, 'signatureOk' | 'pushId' | 'at'>;
      const pushId = String(req.headers['x-push-id']);
      posts.push({ ...parsed, signatureOk: req.headers['x-signature'] === expected, pushId, at: Date.now() });
      for (const w of [...waiters]) w();
      const verdict = answer(parsed.userId, posts.filter((p) => p.pushId === pushId).length);
      if (verdict === 'hang') held.push(res);
      else res.writeHead(verdict).end();
    });
  });
  return {
    posts,
    set answer(fn: typeof answer) {
      answer = fn;
    },
    listen: () => new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port))),
    until(predicate: (posts: Post[]) => boolean, timeoutMs = 10_000): Promise<void> {
      if (predicate(posts)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for posts (have ${posts.length})`)), timeoutMs);
        const check = () => {
          if (!predicate(posts)) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
      });
    },
    close() {
      for (const res of held) res.destroy();
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Nothing left to run in the push queue: every fan-out, flush and post has finished. */
export async function pushSettled(pushQueue: Queue): Promise<void> {
  await expect
    .poll(async () => Object.values(await pushQueue.getJobCounts('waiting', 'active', 'delayed', 'prioritized')).reduce((a, b) => a + b, 0), { timeout: 15_000, interval: 50 })
    .toBe(0);
}

/**
 * Two gateway nodes posting offline pushes to a receiver on this machine, and the push queues
 * (read with a connection of the test's own). `close()` stops all of it.
 */
export type PushCluster = Awaited<ReturnType<typeof startPushCluster>>;

export async function startPushCluster(opts: { secret: string; batchMs: number; attempts: number; backoffMs: number }) {
  const receiver = startReceiver(opts.secret);
  const port = await receiver.listen();
  const cluster = await startCluster({
    nodes: 2,
    env: {
      PUSH_WEBHOOK_URL: `http://127.0.0.1:${port}/hook`,
      PUSH_WEBHOOK_SECRET: opts.secret,
      PUSH_BATCH_MS: String(opts.batchMs),
      PUSH_ATTEMPTS: String(opts.attempts),
      PUSH_BACKOFF_MS: String(opts.backoffMs),
      PUSH_TIMEOUT_MS: '3000',
      PRESENCE_HEARTBEAT_MS: '1000',
    },
  });
  const redis = new Redis(redisUrl(), { maxRetriesPerRequest: null });
  const prefix = cluster.env.REDIS_PREFIX!;
  const pushQueue = new Queue(PUSH_QUEUE, { connection: redis, prefix });
  const pushDlq = new Queue(PUSH_DEAD_LETTER_QUEUE, { connection: redis, prefix });
  return {
    cluster,
    receiver,
    redis,
    pushQueue,
    pushDlq,
    async close() {
      await cluster.close();
      await receiver.close();
      await pushQueue.close();
      await pushDlq.close();
      await redis.quit();
    },
  };
}
