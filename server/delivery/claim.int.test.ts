// The claiming consumer against a real Redis and real BullMQ queues: what it must keep of a
// blocking worker (every job run once, retries, the failed event, stalled recovery) and what it
// must drop (the blocking fetch and its second wake-up), counted with MONITOR.
import { randomBytes } from 'node:crypto';
import { createRedisBackend, Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { redisUrl } from '../test/support/env.js';
import { until } from '../test/support/until.js';
import { createClaimingConsumer, type ClaimingConsumer } from './claim.js';

const closers: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
});

function connection(): Redis {
  const redis = new Redis(redisUrl(), { maxRetriesPerRequest: null });
  closers.push(() => redis.quit());
  return redis;
}

interface Lane {
  prefix: string;
  queue: Queue;
  worker: Worker;
  consumer: ClaimingConsumer;
  ran: string[];
  failed: string[];
}

function lane(opts: { process?: (job: Job) => Promise<void>; pollMs?: number; concurrency?: number; prefix?: string; lockMs?: number } = {}): Lane {
  const prefix = opts.prefix ?? `claim-${randomBytes(4).toString('hex')}`;
  const queue = new Queue('d', { connection: connection(), prefix });
  const lockDuration = opts.lockMs ?? 10_000;
  const worker = new Worker('d', null, { connection: connection(), prefix, autorun: false, lockDuration, stalledInterval: Math.min(5_000, lockDuration / 2) });
  const ran: string[] = [];
  const failed: string[] = [];
  worker.on('failed', (job) => job && failed.push(`${job.id}:${job.attemptsMade}`));
  const consumer = createClaimingConsumer({
    worker,
    process: async (job) => {
      ran.push(job.id!);
      await opts.process?.(job);
    },
    concurrency: opts.concurrency ?? 4,
    pollMs: opts.pollMs ?? 60_000,
    tokenPrefix: `test-${prefix}`,
    onError: () => undefined,
  });
  closers.push(async () => {
    await consumer.close();
    await worker.close();
    await queue.obliterate({ force: true });
    await queue.close();
  });
  return { prefix, queue, worker, consumer, ran, failed };
}

/** Every command this process sends that names one of `prefix`'s keys, while `run` runs (all connections, BullMQ's blocking one included). */
async function commandsDuring(prefix: string, run: () => Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  const send = Redis.prototype.sendCommand;
  Redis.prototype.sendCommand = function (this: Redis, command, stream) {
    if (command.args.some((a) => String(a).startsWith(`${prefix}:`))) seen.push(command.name.toLowerCase());
    return send.call(this, command, stream);
  };
  try {
    await run();
  } finally {
    Redis.prototype.sendCommand = send;
  }
  return seen;
}

describe('claiming consumer', () => {
  it('runs each kicked job once, with no blocking fetch and two scripts per job', async () => {
    const l = lane();
    const jobs = 20;
    const commands = await commandsDuring(l.prefix, async () => {
      for (let i = 0; i < jobs; i++) {
        await l.queue.add('deliver', { i }, { jobId: `j${i}` });
        l.consumer.kick();
        await until(`job ${i}`, () => l.ran.length === i + 1);
      }
      await l.consumer.close();
    });
    expect(l.ran).toEqual(Array.from({ length: jobs }, (_, i) => `j${i}`));
    expect(commands.filter((c) => c === 'bzpopmin')).toEqual([]);
    // Scripts per job: add, moveToActive, moveToFinished; a blocking worker also runs an empty
    // moveToActive after each job (the marker BullMQ re-adds) and blocks twice.
    const scripts = commands.filter((c) => c === 'evalsha' || c === 'eval').length;
    expect(scripts).toBeLessThanOrEqual(jobs * 3 + 2);
  });

  it('on the connection the job is added on, the fetch issued with the add finds the job: one fetch per job', async () => {
    // As the gateway runs it (server/app.ts): one auto-pipelined connection, no blocking one.
    const shared = new Redis(redisUrl(), { enableAutoPipelining: true, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    closers.push(() => shared.quit());
    const prefix = `claim-${randomBytes(4).toString('hex')}`;
    const queue = new Queue('d', { connection: shared, prefix });
    const worker = new Worker('d', null, { connection: shared, prefix, autorun: false }, (name, o, flags) =>
      createRedisBackend(name, o, { ...flags, withBlockingConnection: false }),
    );
    const ran: string[] = [];
    const fetched: (string | undefined)[] = [];
    const getNextJob = worker.getNextJob.bind(worker);
    worker.getNextJob = async (...args) => {
      const job = await getNextJob(...args);
      fetched.push(job?.id);
      return job;
    };
    const consumer = createClaimingConsumer({ worker, process: async (job) => void ran.push(job.id!), concurrency: 4, pollMs: 60_000, tokenPrefix: prefix, onError: () => undefined });
    closers.push(async () => {
      await consumer.close();
      await worker.close();
      await queue.obliterate({ force: true });
      await queue.close();
    });
    await queue.waitUntilReady();
    for (let i = 0; i < 10; i++) {
      const added = queue.add('deliver', { i }, { jobId: `s${i}` });
      consumer.kick(added);
      await until(`job ${i}`, () => ran.length === i + 1);
    }
    expect(ran).toEqual(Array.from({ length: 10 }, (_, i) => `s${i}`));
    expect(fetched).toEqual(ran);
  });

  it('drains a burst through moveToFinished alone: fetches far fewer than jobs', async () => {
    const l = lane({ concurrency: 1 });
    let fetches = 0;
    const getNextJob = l.worker.getNextJob.bind(l.worker);
    l.worker.getNextJob = (...args) => (fetches++, getNextJob(...args));
    await l.queue.addBulk(Array.from({ length: 50 }, (_, i) => ({ name: 'deliver', data: { i }, opts: { jobId: `b${i}` } })));
    l.consumer.kick();
    await until('50 jobs', () => l.ran.length === 50);
    expect(new Set(l.ran).size).toBe(50);
    expect(fetches).toBe(1);
  });

  it('finds jobs nobody kicked (another node, a retry) by polling', async () => {
    const l = lane({ pollMs: 50 });
    await l.queue.add('deliver', {}, { jobId: 'foreign' });
    await until('the un-kicked job', () => l.ran.includes('foreign'));
    expect(l.ran).toEqual(['foreign']);
  });

  it('retries a failing job with its back-off, then reports it failed; an unrecoverable one at once', async () => {
    const l = lane({
      pollMs: 20,
      process: async (job) => {
        if (job.id === 'poison') throw new UnrecoverableError('malformed');
        throw new Error('emit failed');
      },
    });
    await l.queue.add('deliver', {}, { jobId: 'flaky', attempts: 3, backoff: { type: 'fixed', delay: 50 } });
    await l.queue.add('deliver', {}, { jobId: 'poison', attempts: 3 });
    l.consumer.kick();
    await until('three tries and the poison job', () => l.ran.filter((id) => id === 'flaky').length === 3 && l.failed.some((f) => f.startsWith('poison:')));
    await until('every failure reported', () => l.failed.length === 4);
    expect(l.ran.filter((id) => id === 'poison')).toEqual(['poison']);
    expect(await (await l.queue.getJob('flaky'))!.isFailed()).toBe(true);
    expect(await (await l.queue.getJob('poison'))!.isFailed()).toBe(true);
  });

  it("re-runs a job whose claimer died (its lock expired) through the stalled check", async () => {
    const prefix = `claim-${randomBytes(4).toString('hex')}`;
    // The dead node: it claimed the job and never finished it.
    const dead = new Worker('d', null, { connection: connection(), prefix, autorun: false, lockDuration: 600 });
    closers.push(() => dead.close());
    const producer = new Queue('d', { connection: connection(), prefix });
    closers.push(() => producer.close());
    await producer.add('deliver', {}, { jobId: 'orphan' });
    const taken = await dead.getNextJob('dead-token', { block: false });
    expect(taken?.id).toBe('orphan');
    const l = lane({ prefix, pollMs: 50, lockMs: 600 });
    await until('the orphaned job re-run', () => l.ran.includes('orphan'), 10_000);
    expect(await (await l.queue.getJob('orphan'))!.isCompleted()).toBe(true);
  });
});
