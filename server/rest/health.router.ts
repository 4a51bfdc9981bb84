// Liveness, readiness and metrics. /readyz is 503 while shutting down or when Redis or the
// store does not answer, naming the failing part, so a load balancer drains the node.
import { Router } from 'express';
import type { Metrics } from '../metrics.js';

export interface ReadinessCheck {
  name: string;
  check: () => Promise<unknown>;
}

const CHECK_TIMEOUT_MS = 1_500;

class CheckTimeout extends Error {
  override name = 'CheckTimeout';
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new CheckTimeout()), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** A check's own fixed reason (`majority-lag`), if it gave one in the expected shape; never text. */
function reasonOf(err: unknown): string | undefined {
  const reason = (err as { reason?: unknown } | null)?.reason;
  return typeof reason === 'string' && /^[a-z][a-z-]{0,31}$/.test(reason) ? reason : undefined;
}

export function createHealthRouter(opts: { checks: ReadinessCheck[]; isShuttingDown: () => boolean; metrics: Metrics }): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    if (opts.isShuttingDown()) {
      res.status(503).json({ status: 'draining', failing: ['shutdown'] });
      return;
    }
    const results = await Promise.all(
      opts.checks.map(async (c) => {
        try {
          await withTimeout(c.check(), CHECK_TIMEOUT_MS);
          return { name: c.name, ok: true as const };
        } catch (err) {
          // §7: the failing part by name and kind only; a driver's message can carry hosts,
          // users or a URL with its password.
          return { name: c.name, ok: false as const, error: err instanceof CheckTimeout ? 'timeout' : (reasonOf(err) ?? 'unavailable') };
        }
      }),
    );
    const failing = results.filter((r) => !r.ok);
    res.status(failing.length ? 503 : 200).json({
      status: failing.length ? 'unavailable' : 'ready',
      failing: failing.map((f) => f.name),
      checks: Object.fromEntries(results.map((r) => [r.name, r.ok ? 'ok' : r.error])),
    });
  });
  router.get('/metrics', async (_req, res) => {
    res.set('Content-Type', opts.metrics.registry.contentType);
    res.send(await opts.metrics.registry.metrics());
  });
  return router;
}
