// Gateway-independent cost of one BullMQ job on this machine: one Queue and one Worker with a
// no-op processor in this process, jobs added at a fixed rate with the delivery queue's options.
// Prints CPU per job (user + system). Run pinned, e.g.:
//   REDIS_URL=redis://127.0.0.1:6390 taskset -c 0 npx tsx bench/bullmq-cost.ts 32 300 8   # concurrency, jobs/s, seconds
// With `redis-cli monitor` beside it, it also shows the commands one job costs (BENCHMARKS.md).
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';

const [conc = 32, rate = 300, secs = 8] = process.argv.slice(2).map(Number);
const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const connect = () => new Redis(url, { maxRetriesPerRequest: null });
const prefix = `bullmq-cost-${Date.now()}`;
const queue = new Queue('d', { connection: connect(), prefix });
let done = 0;
const worker = new Worker('d', async () => void done++, { connection: connect(), prefix, concurrency: conc, lockDuration: 10_000, stalledInterval: 5_000 });
await Promise.all([worker.waitUntilReady(), queue.waitUntilReady()]);
const data = { messages: [{ id: 'm'.repeat(26), conversationId: 'c'.repeat(26), seq: 1, senderId: 'u1', kind: 'user', text: 'hello world', createdAt: new Date().toISOString() }], acceptedAt: Date.now() };
// The delivery queue's job options (server/delivery/queue.ts).
const opts = { attempts: 5, backoff: { type: 'exponential', delay: 500 }, removeOnComplete: { age: 600, count: 20_000 }, removeOnFail: { age: 7 * 24 * 3600, count: 10_000 } };

const cpu0 = process.cpuUsage();
const t0 = Date.now();
let added = 0;
while (Date.now() - t0 < secs * 1000) {
  const due = Math.floor(((Date.now() - t0) * rate) / 1000);
  for (; added < due; added++) void queue.add('deliver', data, { ...opts, jobId: `j${added}` });
  await new Promise((r) => setTimeout(r, Math.max(1, 1000 / rate)));
}
while (done < added) await new Promise((r) => setTimeout(r, 5));
const cpu = process.cpuUsage(cpu0);
const per = (us: number) => (us / 1000 / added).toFixed(3);
console.log(`concurrency ${conc}, ${rate} jobs/s: ${added} jobs, CPU per job ${per(cpu.user + cpu.system)} ms (user ${per(cpu.user)}, system ${per(cpu.system)})`);
await worker.close();
await queue.obliterate({ force: true });
await queue.close();
process.exit(0);
