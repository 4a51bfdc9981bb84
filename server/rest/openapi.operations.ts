// The operational endpoints in the OpenAPI document: probes, metrics and the docs pages, none of
// them behind a token. Their shapes (server/rest/health.router.ts) are not part of protocol/.
import { z } from 'zod';
import type { ZodOpenApiPathsObject } from 'zod-openapi';

export const json = (description: string, schema: z.ZodType) => ({ description, content: { 'application/json': { schema } } });

const HealthSchema = z.strictObject({ status: z.literal('ok') });
const ReadinessSchema = z.strictObject({
  status: z.enum(['ready', 'unavailable', 'draining']),
  failing: z.array(z.string()).meta({ description: 'Names of the failing parts (`redis`, `store`, `shutdown`).' }),
  checks: z.record(z.string(), z.string()).optional().meta({ description: '`ok` or the error of each check: `unavailable`, `timeout`, or the check\'s own reason (`majority-lag`: the MongoDB majority is behind the primary).' }),
});

const get = (operationId: string, summary: string, responses: Record<number, object>) => ({ get: { tags: ['operations'], operationId, summary, responses } });
const htmlPage = (operationId: string, summary: string) => get(operationId, summary, { 200: { description: 'HTML page.', content: { 'text/html': { schema: z.string() } } } });
const jsonDocument = (operationId: string, summary: string) =>
  get(operationId, summary, { 200: json('The document.', z.record(z.string(), z.unknown())) });

export const OPERATIONS_PATHS: ZodOpenApiPathsObject = {
  '/healthz': get('healthz', 'Liveness: the process answers; checks no dependency', { 200: json('Alive.', HealthSchema) }),
  '/readyz': get('readyz', 'Readiness: Redis and the store answer and the node is not draining', {
    200: json('Ready.', ReadinessSchema),
    503: json('Not ready; `failing` names the parts.', ReadinessSchema),
  }),
  '/metrics': get('metrics', 'Prometheus metrics', {
    200: { description: 'Prometheus text exposition format.', content: { 'text/plain': { schema: z.string() } } },
  }),
  '/docs': htmlPage('docsPage', 'This API as a readable page (Swagger UI)'),
  '/docs/openapi.json': jsonDocument('openapi', 'This OpenAPI 3.1 document'),
  '/docs/asyncapi': htmlPage('socketDocsPage', 'The Socket.IO protocol as a readable page, rendered from its AsyncAPI document'),
  '/docs/asyncapi.json': jsonDocument('asyncapi', 'The AsyncAPI 3 document of the Socket.IO events (protocol/asyncapi.ts)'),
};
