// The OpenAPI document is valid OpenAPI 3.1 (checked by a maintained validator) and describes
// exactly the routes the /v1 router serves, read back from the router itself, so a route added
// without docs (or docs left behind by a removed route) fails here.
import { Validator } from '@seriousme/openapi-schema-validator';
import type { Router } from 'express';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, HTTP_STATUS } from '../../protocol/index.js';
import type { RestDeps } from './deps.js';
import { openApiDocument } from './openapi.js';
import { createV1Router } from './v1.router.js';

interface LayerLike {
  route?: { path: string; methods: Record<string, boolean> };
  rawPath?: unknown;
  handle?: { stack?: LayerLike[] };
}

/** `METHOD /path` of every route in a router, nested routers included (Express 5 / router 2). */
function routesOf(router: Router, prefix = ''): string[] {
  const out: string[] = [];
  for (const layer of (router as unknown as { stack: LayerLike[] }).stack) {
    if (layer.route) {
      for (const [method, on] of Object.entries(layer.route.methods)) if (on && method !== '_all') out.push(`${method.toUpperCase()} ${prefix}${layer.route.path}`);
    } else if (layer.handle?.stack) {
      const mount = typeof layer.rawPath === 'string' && layer.rawPath !== '/' ? layer.rawPath : '';
      out.push(...routesOf(layer.handle as unknown as Router, prefix + mount));
    }
  }
  return out;
}

const stubDeps = {
  verifyToken: () => ({ userId: 'x', roles: [], expiresAt: 0 }),
  limiter: { consume: async () => {} },
  messaging: { conversations: {}, messages: {} },
  queues: {},
  config: { delivery: { attempts: 1, backoffMs: 1 } },
} as unknown as RestDeps;

const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;

describe('OpenAPI document', () => {
  const doc = openApiDocument();

  it('is a valid OpenAPI 3.1 document', async () => {
    const validator = new Validator();
    const result = await validator.validate(doc as never);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('has an operation for every route the /v1 router serves, and none it does not', () => {
    const served = routesOf(createV1Router(stubDeps)).map((r) => r.replace(' ', ' /v1')).sort();
    const documented = Object.entries(doc.paths ?? {})
      .filter(([path]) => path.startsWith('/v1/'))
      .flatMap(([path, item]) =>
        METHODS.filter((m) => (item as Record<string, unknown>)[m]).map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
      )
      .sort();
    expect(served.length).toBeGreaterThanOrEqual(9);
    expect(documented).toEqual(served);
  });

  it('documents the operational routes and the docs themselves', () => {
    for (const path of ['/healthz', '/readyz', '/metrics', '/docs', '/docs/openapi.json']) expect(doc.paths?.[path]?.get).toBeDefined();
    expect(Object.keys(doc.paths?.['/readyz']?.get?.responses ?? {})).toEqual(expect.arrayContaining(['200', '503']));
  });

  it('every /v1 operation needs a bearer token and documents 401, 429, 500 and 503 in the error shape', () => {
    for (const [path, item] of Object.entries(doc.paths ?? {})) {
      if (!path.startsWith('/v1/')) continue;
      for (const m of METHODS) {
        const op = (item as Record<string, { security?: unknown; responses?: Record<string, { content?: Record<string, { schema?: unknown }>; headers?: Record<string, unknown> }> }>)[m];
        if (!op) continue;
        expect(op.security, `${m} ${path}`).toEqual([{ bearerAuth: [] }]);
        for (const status of ['401', '429', '500', '503']) {
          expect(op.responses?.[status]?.content?.['application/json']?.schema, `${m} ${path} ${status}`).toEqual({ $ref: '#/components/schemas/ErrorBody' });
        }
        expect(op.responses?.['429']?.headers?.['Retry-After'], `${m} ${path}`).toBeDefined();
      }
    }
  });

  it('the error body schema lists every wire error code, and each has a status', () => {
    const body = doc.components?.schemas?.ErrorBody as { properties: { error: { properties: { code: { enum: string[] } } } } };
    expect(body.properties.error.properties.code.enum).toEqual([...ERROR_CODES]);
    for (const code of ERROR_CODES) expect(HTTP_STATUS[code]).toBeGreaterThanOrEqual(400);
  });

  it('documents the 403/404 rule for non-members where membership is checked', () => {
    const op = doc.paths?.['/v1/conversations/{id}']?.get;
    expect(op?.description).toMatch(/404.*private.*403.*public/s);
    expect(op?.responses?.['403']).toBeDefined();
    expect(op?.responses?.['404']).toBeDefined();
  });
});
