// Group commit of sends: appends that arrive while APPENDS_IN_FLIGHT others are running are
// stored together by the adapter's `appendMessages` (one transaction, one multi-row insert),
// so under load a commit (and its fsync) is shared by many sends; when idle a send goes out
// alone at once. Off (one statement per send) when maxBatch is 1.
import { createCoalescer } from '../coalesce.js';
import { NotFoundStoreError, type AppendResult, type NewMessage, type Store } from '../store/store.js';

/** Appends running at once; the pool needs room for reads beside them. */
const APPENDS_IN_FLIGHT = 4;

export interface AppendBatcher {
  append(input: NewMessage): Promise<AppendResult>;
}

export function createAppendBatcher(store: Store, opts: { maxBatch: number }): AppendBatcher {
  if (opts.maxBatch <= 1) return { append: (input) => store.appendMessage(input) };
  const coalescer = createCoalescer(
    async (inputs: NewMessage[]) => (inputs.length === 1 ? [await store.appendMessage(inputs[0]!)] : store.appendMessages(inputs)),
    {
      maxBatch: opts.maxBatch,
      maxInFlight: APPENDS_IN_FLIGHT,
      // A conversation that is gone fails the whole transaction: the other sends of the batch
      // are retried one by one, so only the bad one gets NOT_FOUND.
      onBatchError: (inputs, err) =>
        inputs.length > 1 && err instanceof NotFoundStoreError
          ? Promise.allSettled(inputs.map((input) => store.appendMessage(input)))
          : Promise.resolve(inputs.map((): PromiseSettledResult<AppendResult> => ({ status: 'rejected', reason: err }))),
    },
  );
  return { append: (input) => coalescer.submit(input) };
}
