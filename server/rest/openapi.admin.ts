// The operators' dead-letter routes in the OpenAPI document (PROTOCOL.md §6, §7): the delivery
// dead-letter queue by default, the push one with `?queue=push`. The helpers for errors and
// security come in from openapi.ts, so this file does not import it back.
import type { ZodOpenApiPathsObject } from 'zod-openapi';
import { DlqParamsSchema, DlqQuerySchema, DlqResponseSchema, DlqRetryResponseSchema, DlqTargetQuerySchema } from '../../protocol/index.js';
import type { OpenApiHelpers } from './openapi.changes.js';
import { json } from './openapi.operations.js';

export function adminPaths({ v1, errors }: Pick<OpenApiHelpers, 'v1' | 'errors'>): ZodOpenApiPathsObject {
  const FORBIDDEN = 'The token has no `admin` role.';
  const NOT_FOUND = 'No dead letter with this id waiting in that queue (ids of other keys of the queue included).';
  return {
    '/v1/admin/dlq': {
      get: v1({
        tags: ['admin'],
        operationId: 'listDeadLetters',
        summary: 'Dead letters, oldest first',
        description:
          'Delivery jobs the delivery worker gave up on, or with `queue=push` push jobs the push worker gave up on ' +
          '(`step` says which: `post` is the webhook call, `fanout` and `flush` the steps before it).',
        requestParams: { query: DlqQuerySchema },
        responses: {
          200: json('A page of dead letters and their total.', DlqResponseSchema),
          ...errors(['INVALID_ARGUMENT', 'UNAUTHENTICATED', 'FORBIDDEN', 'RATE_LIMITED'], { FORBIDDEN }),
        },
      }),
    },
    '/v1/admin/dlq/{jobId}': {
      delete: v1({
        tags: ['admin'],
        operationId: 'deleteDeadLetter',
        summary: 'Drop a dead letter for good',
        description: 'Removes the dead letter from its queue (`queue=push` for the push one) without replaying it.',
        requestParams: { path: DlqParamsSchema, query: DlqTargetQuerySchema },
        responses: {
          204: { description: 'Removed.' },
          ...errors(['INVALID_ARGUMENT', 'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'RATE_LIMITED'], { FORBIDDEN, NOT_FOUND }),
        },
      }),
    },
    '/v1/admin/dlq/{jobId}/retry': {
      post: v1({
        tags: ['admin'],
        operationId: 'retryDeadLetter',
        summary: 'Replay a dead letter',
        description:
          'Re-enqueues the original job (a delivery job, or with `queue=push` the push step that failed) under a new job id ' +
          '(`replayedAs`) and removes the dead letter. Repeating it is harmless.',
        requestParams: { path: DlqParamsSchema, query: DlqTargetQuerySchema },
        responses: {
          200: json('Replayed.', DlqRetryResponseSchema),
          ...errors(['INVALID_ARGUMENT', 'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'RATE_LIMITED'], { FORBIDDEN, NOT_FOUND }),
        },
      }),
    },
  };
}
