// /readyz names the failing part without raw error text (PROTOCOL.md §7 operator surfaces).
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, expect, it } from 'vitest';
import { createMetrics } from '../metrics.js';
import { StoreUnavailableError } from '../store/store.js';
import { createHealthRouter } from './health.router.js';

const app = express();
app.use(
  createHealthRouter({
    metrics: createMetrics('health-test'),
    isShuttingDown: () => false,
    checks: [
      { name: 'redis', check: () => Promise.reject(new Error('connect ECONNREFUSED redis://ops:hunter2-secret@10.1.2.3:6379')) },
      { name: 'store', check: () => Promise.resolve() },
    ],
  }),
);
const lagging = express();
lagging.use(
  createHealthRouter({
    metrics: createMetrics('health-test-lag'),
    isShuttingDown: () => false,
    checks: [
      { name: 'redis', check: () => Promise.reject(Object.assign(new Error('ECONNREFUSED 10.1.2.3'), { reason: 'connect ECONNREFUSED 10.1.2.3' })) },
      { name: 'store', check: () => Promise.reject(Object.assign(new StoreUnavailableError('majority 4000 ms behind rs0/10.1.2.3'), { reason: 'majority-lag' })) },
    ],
  }),
);
const server = app.listen(0, '127.0.0.1');
const laggingServer = lagging.listen(0, '127.0.0.1');
afterAll(() => Promise.all([server, laggingServer].map((s) => new Promise((r) => s.close(r)))));

it('a failing dependency is named with its kind only: no driver text, no host, no password', async () => {
  if (!server.listening) await once(server, 'listening');
  const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/readyz`);
  const text = await res.text();
  expect(res.status).toBe(503);
  expect(JSON.parse(text)).toEqual({ status: 'unavailable', failing: ['redis'], checks: { redis: 'unavailable', store: 'ok' } });
  expect(text).not.toMatch(/hunter2|ECONNREFUSED|10\.1\.2\.3/);
});

it('a check’s own fixed reason is shown (a lagging MongoDB majority); a reason that is not one word is not', async () => {
  if (!laggingServer.listening) await once(laggingServer, 'listening');
  const res = await fetch(`http://127.0.0.1:${(laggingServer.address() as AddressInfo).port}/readyz`);
  const text = await res.text();
  expect(res.status).toBe(503);
  expect(JSON.parse(text)).toEqual({ status: 'unavailable', failing: ['redis', 'store'], checks: { redis: 'unavailable', store: 'majority-lag' } });
  expect(text).not.toMatch(/ECONNREFUSED|10\.1\.2\.3|rs0|4000/);
});
