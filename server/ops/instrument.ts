// Metrics that wrap components: store operation latency, queue depth gauges.
// Filled in by the operations work (#7).
import type { Queue } from 'bullmq';
import type { Metrics } from '../metrics.js';
import type { Store } from '../store/store.js';

export function instrumentStore(store: Store, _metrics: Metrics): Store {
  return store;
}

export function registerQueueMetrics(_metrics: Metrics, _queues: Queue[]): void {}
