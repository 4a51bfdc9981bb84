// The durable half of a send, paid per batch instead of per message. Sends accepted while
// earlier batches are still being written leave together (group commit, see coalesce.ts): one
// transaction stores them, then ONE delivery job carries all of them to the worker. When idle
// a send goes out alone at once, so batching adds no latency; under load the batch grows and
// the cost of the store round trip, the commit and the queue's scripts is shared.
import { createCoalescer } from '../coalesce.js';
import { createRecentMap } from '../recent-map.js';
import { clientKey } from '../store/shared.js';
import { NotFoundStoreError, type AppendResult, type NewMessage, type Store } from '../store/store.js';
import type { Message } from '../../protocol/index.js';
import type { DeliveryQueue } from './ports.js';

/** Batches written at once; the pool needs room for reads beside them. */
const BATCHES_IN_FLIGHT = 4;
/** How long this node remembers which messages it enqueued (a client retries within its ack timeout). */
const ENQUEUED_MEMORY_MS = 60_000;
/** How long after a message was stored a repeated send may re-enqueue its delivery. */
const REDELIVER_WINDOW_MS = 10 * 60_000; // the window in which a client retries a failed send

export interface SendPipelineOptions {
  store: Store;
  delivery: DeliveryQueue;
  /** Most sends in one batch; 1 = one transaction and one job per send. */
  maxBatch: number;
  /** Under a steady stream, a batch is cut at most once per this many ms (see coalesce.ts). */
  lingerMs?: number;
  redeliverWindowMs?: number;
}

export interface SendResult extends AppendResult {
  /** The delivery (queue job) that carries the message, for the logs; absent for an old repeat. */
  deliveryId?: string;
}

export interface SendPipeline {
  /** Resolves once the message is stored and its delivery enqueued (or was, for a repeat). */
  submit(input: NewMessage): Promise<SendResult>;
  /** Resolves when nothing is queued or running (shutdown). */
  drain(): Promise<void>;
}

export function createSendPipeline(opts: SendPipelineOptions): SendPipeline {
  const { store, delivery } = opts;
  const redeliverWindowMs = opts.redeliverWindowMs ?? REDELIVER_WINDOW_MS;

  // Messages this node enqueued lately, with the delivery that holds them (undefined when the
  // enqueue failed): a repeated send (a client retry racing its own ack) then waits for the
  // original's enqueue instead of delivering twice.
  const enqueued = createRecentMap<Promise<string | undefined>>(ENQUEUED_MEMORY_MS);

  /** A repeat of a send whose enqueue failed (or that this node did not see) must still be delivered. */
  async function redeliverIfNeeded(message: Message): Promise<string | undefined> {
    if (Date.now() - Date.parse(message.createdAt) >= redeliverWindowMs) return undefined;
    const original = await enqueued.get(message.id);
    if (original) return original;
    // Its own job, whose id is derived from the message id, so repeating the repeat adds nothing.
    return delivery.redeliver(message);
  }

  async function storeAndEnqueue(inputs: NewMessage[]): Promise<SendResult[]> {
    // The senders have seen what they sent: their watermarks move in the same write.
    const seen = inputs.map((input) => (input.kind === 'system' ? input : { ...input, senderSeen: true }));
    const results = seen.length === 1 ? [await store.appendMessage(seen[0]!)] : await store.appendMessages(seen);
    const fresh = results.filter((r) => !r.duplicate).map((r) => r.message);
    const enqueue = delivery.enqueue(fresh);
    for (const m of fresh) {
      enqueued.set(
        m.id,
        enqueue.then(
          (ids) => ids.get(m.id),
          () => undefined,
        ),
      );
    }
    const [ids, ...repeats] = await Promise.all([enqueue, ...results.map((r) => (r.duplicate ? redeliverIfNeeded(r.message) : undefined))]);
    return results.map((r, i) => {
      const deliveryId = r.duplicate ? repeats[i] : ids.get(r.message.id);
      return deliveryId ? { ...r, deliveryId } : r;
    });
  }

  // A send repeated while the first is still being stored and enqueued on this node (a double
  // tap, a retry racing its ack) shares the first one's outcome: one message, one delivery.
  const inFlight = new Map<string, Promise<SendResult>>();
  function once(input: NewMessage, run: (input: NewMessage) => Promise<SendResult>): Promise<SendResult> {
    const key = clientKey(input);
    const first = inFlight.get(key);
    if (first) return first.then((r) => ({ ...r, duplicate: true }));
    const result = run(input).finally(() => inFlight.delete(key));
    inFlight.set(key, result);
    return result;
  }

  if (opts.maxBatch <= 1) return { submit: (input) => once(input, async (one) => (await storeAndEnqueue([one]))[0]!), drain: () => Promise.resolve() };
  const coalescer = createCoalescer(storeAndEnqueue, {
    maxBatch: Math.max(1, opts.maxBatch),
    maxInFlight: BATCHES_IN_FLIGHT,
    lingerMs: opts.lingerMs ?? 0,
    // A conversation that is gone fails the whole transaction: the other sends of the batch
    // are retried one by one, so only the bad one gets NOT_FOUND.
    onBatchError: (inputs, err) =>
      inputs.length > 1 && err instanceof NotFoundStoreError
        ? Promise.allSettled(inputs.map(async (input) => (await storeAndEnqueue([input]))[0]!))
        : Promise.resolve(inputs.map((): PromiseSettledResult<SendResult> => ({ status: 'rejected', reason: err }))),
  });

  return { submit: (input) => once(input, coalescer.submit), drain: () => coalescer.drain() };
}
