// /readyz names the failing part without raw error text (PROTOCOL.md §7 operator surfaces).
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, expect, it } from 'vitest';
import { createMetrics } from '../metrics.js';
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
const server = app.listen(0, '127.0.0.1');
afterAll(() => new Promise((r) => server.close(r)));

it('a failing dependency is named with its kind only: no driver text, no host, no password', async () => {
  if (!server.listening) await once(server, 'listening');
  const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/readyz`);
  const text = await res.text();
  expect(res.status).toBe(503);
  expect(JSON.parse(text)).toEqual({ status: 'unavailable', failing: ['redis'], checks: { redis: 'unavailable', store: 'ok' } });
  expect(text).not.toMatch(/hunter2|ECONNREFUSED|10\.1\.2\.3/);
});
