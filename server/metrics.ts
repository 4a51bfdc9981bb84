// Prometheus metrics (prom-client). Labels are bounded: event names, result codes, queue names,
// families — never user or conversation ids.
import client from 'prom-client';

export function createMetrics(nodeId: string) {
  const registry = new client.Registry();
  registry.setDefaultLabels({ node: nodeId });
  client.collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 20 });

  const m = {
    registry,
    socketsConnected: new client.Gauge({ name: 'gateway_sockets_connected', help: 'Connected sockets on this node', registers: [registry] }),
    connects: new client.Counter({ name: 'gateway_connects_total', help: 'Accepted socket connections', registers: [registry] }),
    connectRefusals: new client.Counter({
      name: 'gateway_connect_refusals_total',
      help: 'Refused handshakes by code',
      labelNames: ['code'] as const,
      registers: [registry],
    }),
    disconnects: new client.Counter({
      name: 'gateway_disconnects_total',
      help: 'Socket disconnections by reason',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    events: new client.Counter({
      name: 'gateway_events_total',
      help: 'Client events handled, by event and result code',
      labelNames: ['event', 'code'] as const,
      registers: [registry],
    }),
    eventSeconds: new client.Histogram({
      name: 'gateway_event_duration_seconds',
      help: 'Handler latency from receipt to ack',
      labelNames: ['event'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    sendsAccepted: new client.Counter({ name: 'gateway_sends_accepted_total', help: 'Messages stored and enqueued', registers: [registry] }),
    deliveries: new client.Counter({ name: 'delivery_emitted_total', help: 'message:new fan-outs emitted by workers', registers: [registry] }),
    fanoutSeconds: new client.Histogram({
      name: 'delivery_send_to_fanout_seconds',
      help: 'From send accepted to fan-out emitted',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30],
      registers: [registry],
    }),
    rateLimited: new client.Counter({
      name: 'gateway_rate_limited_total',
      help: 'Requests refused by a rate limit, by family',
      labelNames: ['family'] as const,
      registers: [registry],
    }),
    httpRequests: new client.Counter({
      name: 'http_requests_total',
      help: 'REST requests by route and status',
      labelNames: ['route', 'status'] as const,
      registers: [registry],
    }),
    storeSeconds: new client.Histogram({
      name: 'store_operation_duration_seconds',
      help: 'Store operation latency',
      labelNames: ['op'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    }),
    adapterErrors: new client.Counter({ name: 'redis_adapter_errors_total', help: 'Errors on the Socket.IO Redis adapter clients', registers: [registry] }),
    storeErrors: new client.Counter({
      name: 'store_operation_errors_total',
      help: 'Store operations that threw, by operation and error kind',
      labelNames: ['op', 'error'] as const,
      registers: [registry],
    }),
    jobSeconds: new client.Histogram({
      name: 'queue_job_duration_seconds',
      help: 'Job processing time on this worker, from start to completion or failure',
      labelNames: ['queue', 'result'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
      registers: [registry],
    }),
    jobsStalled: new client.Counter({
      name: 'queue_jobs_stalled_total',
      help: 'Jobs this worker found stalled (their worker died or blocked) and put back',
      labelNames: ['queue'] as const,
      registers: [registry],
    }),
    deadLettered: new client.Counter({
      name: 'delivery_dead_lettered_total',
      help: 'Delivery jobs moved to the dead-letter queue after their last attempt',
      registers: [registry],
    }),
    pushPosts: new client.Counter({
      name: 'push_webhook_posts_total',
      help: 'Push webhook calls by outcome: ok (2xx), http_error (any other status), unreachable (no answer in time)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    pushPostSeconds: new client.Histogram({
      name: 'push_webhook_duration_seconds',
      help: 'Push webhook call latency, every attempt whatever its outcome',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    pushBatchMessages: new client.Histogram({
      name: 'push_batch_messages',
      help: 'Messages per push post (one user, one conversation, one PUSH_BATCH_MS window)',
      buckets: [1, 2, 3, 5, 10, 20, 50, 100, 200],
      registers: [registry],
    }),
    pushDeadLettered: new client.Counter({
      name: 'push_dead_lettered_total',
      help: 'Push jobs moved to the push dead-letter queue after their last attempt',
      registers: [registry],
    }),
  };
  // Queue depth gauges (queue_jobs, queue_metrics_up) are registered by registerQueueMetrics,
  // which knows the queues (push depth and dead letters: queue="push", queue="push-dlq"); event-loop lag comes with the default metrics
  // (nodejs_eventloop_lag_seconds, nodejs_eventloop_lag_p99_seconds, ...).

  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;
