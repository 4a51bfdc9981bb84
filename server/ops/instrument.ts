// Metrics that observe components from the outside, so the store adapters, the queue and the
// domain stay free of prom-client: store operation latency, queue depth gauges read on scrape,
// job processing latency, socket event results and REST requests.
import client from 'prom-client';
import type { Queue, Worker } from 'bullmq';
import type { RequestHandler } from 'express';
import type { Metrics } from '../metrics.js';
import type { PushObserver } from '../push/push.js';
import { InvalidArgumentStoreError, NotFoundStoreError, StoreUnavailableError, type Store } from '../store/store.js';

function storeErrorKind(err: unknown): string {
  if (err instanceof StoreUnavailableError) return 'unavailable';
  if (err instanceof NotFoundStoreError) return 'not_found';
  if (err instanceof InvalidArgumentStoreError) return 'invalid_argument';
  return 'other';
}

/**
 * Times every Store method in `store_operation_duration_seconds{op}` (op = method name, a
 * closed set) and counts throws in `store_operation_errors_total{op,error}`. Methods run
 * with the adapter itself as `this` (adapters may use private fields a Proxy cannot reach);
 * plain properties such as `name` pass through.
 */
export function instrumentStore(store: Store, metrics: Metrics): Store {
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(store, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function' || typeof prop !== 'string' || prop === 'constructor') return value;
      let fn = wrapped.get(prop);
      if (!fn) {
        const method = value as (...args: unknown[]) => unknown;
        fn = function instrumented(...args: unknown[]) {
          const end = metrics.storeSeconds.startTimer({ op: prop });
          const fail = (err: unknown) => {
            end();
            metrics.storeErrors.inc({ op: prop, error: storeErrorKind(err) });
            throw err;
          };
          let result: unknown;
          try {
            result = method.apply(target, args);
          } catch (err) {
            return fail(err);
          }
          if (result instanceof Promise) {
            return result.then((v: unknown) => {
              end();
              return v;
            }, fail);
          }
          end();
          return result;
        };
        wrapped.set(prop, fn);
      }
      return fn;
    },
  });
}

/** States read per queue on each scrape. `failed` on the DLQ is unused: dead letters wait. */
export const QUEUE_STATES = ['waiting', 'prioritized', 'active', 'delayed', 'failed'] as const;

/** A scrape never waits longer than this for Redis (Prometheus' own timeout is 10 s). */
const QUEUE_SCRAPE_TIMEOUT_MS = 1_000;

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  work.catch(() => {}); // the loser of the race must not become an unhandled rejection
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Queue depth per queue and state, read from Redis when Prometheus scrapes (not on a timer, so
 * an idle node costs nothing). `queue_jobs{queue,state}` keeps its last value when Redis does
 * not answer within a second; `queue_metrics_up{queue}` is then 0, so a stale depth is visible.
 * Dead letters are `queue_jobs{queue="delivery-dlq",state="waiting"}`.
 */
export function registerQueueMetrics(metrics: Metrics, queues: Queue[], opts: { timeoutMs?: number } = {}): void {
  const timeoutMs = opts.timeoutMs ?? QUEUE_SCRAPE_TIMEOUT_MS;
  let refreshing: Promise<void> | undefined;

  const jobs = new client.Gauge({
    name: 'queue_jobs',
    help: 'Jobs per BullMQ queue and state, read at scrape time',
    labelNames: ['queue', 'state'] as const,
    registers: [metrics.registry],
    collect: () => refresh(),
  });
  const up = new client.Gauge({
    name: 'queue_metrics_up',
    help: '1 when the last scrape could read the queue counts from Redis, else 0',
    labelNames: ['queue'] as const,
    registers: [metrics.registry],
    collect: () => refresh(),
  });

  // Both gauges are collected in the same scrape; they share one round of reads.
  function refresh(): Promise<void> {
    refreshing ??= Promise.all(
      queues.map(async (queue) => {
        try {
          const counts = await withTimeout(queue.getJobCounts(...QUEUE_STATES), timeoutMs);
          for (const state of QUEUE_STATES) jobs.set({ queue: queue.name, state }, counts[state] ?? 0);
          up.set({ queue: queue.name }, 1);
        } catch {
          up.set({ queue: queue.name }, 0);
        }
      }),
    ).then(
      () => {
        refreshing = undefined;
      },
      () => {
        refreshing = undefined;
      },
    );
    return refreshing;
  }
}

/**
 * Job processing latency and stalls, from the worker's own events (`completed` and `failed`
 * carry processedOn/finishedOn, so the processor itself is not touched).
 */
export function instrumentWorker(metrics: Metrics, worker: Worker): void {
  const queue = worker.name;
  const observe = (job: { processedOn?: number; finishedOn?: number } | undefined, result: 'ok' | 'error') => {
    if (!job?.processedOn) return;
    const finished = job.finishedOn ?? Date.now();
    metrics.jobSeconds.observe({ queue, result }, Math.max(0, finished - job.processedOn) / 1000);
  };
  worker.on('completed', (job) => observe(job, 'ok'));
  worker.on('failed', (job) => observe(job, 'error'));
  worker.on('stalled', () => metrics.jobsStalled.inc({ queue }));
}

/**
 * The socket events' result hook: `events_total{event,code}`, `event_duration_seconds{event}`
 * and accepted sends, counted where each event's result is observed (gateway/register.ts).
 */
export function observeEvents(metrics: Metrics): (event: string, code: string, seconds: number) => void {
  // Labelled children looked up once per (event, code), not per event: prom-client hashes the
  // label object on every call otherwise. Both sets are closed (event names and §4 codes).
  const counters = new Map<string, ReturnType<typeof metrics.events.labels>>();
  const timers = new Map<string, ReturnType<typeof metrics.eventSeconds.labels>>();
  return (event, code, seconds) => {
    const key = `${event} ${code}`;
    let counter = counters.get(key);
    if (!counter) counters.set(key, (counter = metrics.events.labels({ event, code })));
    counter.inc();
    let timer = timers.get(event);
    if (!timer) timers.set(event, (timer = metrics.eventSeconds.labels({ event })));
    timer.observe(seconds);
    if (event === 'message:send' && code === 'OK') metrics.sendsAccepted.inc();
  };
}

/**
 * Counts REST requests in `http_requests_total{route,status}`. The route is the matched route
 * pattern (`/v1/conversations/:id`), never the raw path, so ids do not become labels; requests
 * no route matched (404s, static files) count as `unmatched`.
 */
export function countHttpRequests(metrics: Metrics): RequestHandler {
  return (req, res, next) => {
    res.once('finish', () => {
      const pattern: unknown = (req.route as { path?: unknown } | undefined)?.path;
      const route = typeof pattern === 'string' ? `${req.baseUrl}${pattern}` : 'unmatched';
      metrics.httpRequests.inc({ route, status: String(res.statusCode) });
    });
    next();
  };
}

/**
 * Push's metrics hooks: posts by outcome, their latency, messages per post and dead letters.
 * The three outcome counters are bound once here, so a post hashes no labels.
 */
export function observePush(metrics: Metrics): PushObserver {
  const outcomes = { ok: metrics.pushPosts.labels({ outcome: 'ok' }), http_error: metrics.pushPosts.labels({ outcome: 'http_error' }), unreachable: metrics.pushPosts.labels({ outcome: 'unreachable' }) };
  return {
    posted(outcome, seconds) {
      outcomes[outcome].inc();
      metrics.pushPostSeconds.observe(seconds);
    },
    batched: (messages) => metrics.pushBatchMessages.observe(messages),
    deadLettered: () => metrics.pushDeadLettered.inc(),
  };
}
