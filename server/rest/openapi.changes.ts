// The edit, deletion and reaction routes in the OpenAPI document (PROTOCOL.md §9). The helpers
// for errors and security come in from openapi.ts, so this file does not import it back.
import type { ZodOpenApiOperationObject, ZodOpenApiPathsObject, ZodOpenApiResponsesObject } from 'zod-openapi';
import { EditMessageBodySchema, EditMessageResponseSchema, MessageParamsSchema, ReactionParamsSchema, type ErrorCode } from '../../protocol/index.js';
import { json } from './openapi.operations.js';

export interface OpenApiHelpers {
  v1: (op: ZodOpenApiOperationObject) => ZodOpenApiOperationObject;
  errors: (codes: ErrorCode[], overrides?: Partial<Record<ErrorCode, string>>) => ZodOpenApiResponsesObject;
  nonMemberRule: string;
}

const CHANGE_RULES =
  'The change takes the next seq of the conversation as the message\'s `updatedSeq`, and the room receives ' +
  '`message:updated` on its sockets; a repeat changes nothing and takes no seq. Rate limit: `change` (as the socket events).';

export function changePaths({ v1, errors, nonMemberRule }: OpenApiHelpers): ZodOpenApiPathsObject {
  const changeErrors = (forbidden: string) =>
    errors(['INVALID_ARGUMENT', 'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'RATE_LIMITED'], {
      FORBIDDEN: forbidden,
      NOT_FOUND: 'No such conversation or message, a message the caller may not see, or (edits, reactions) a deleted one.',
    });
  const noContent = { 204: { description: 'Done, or nothing to do (a repeat).' } };
  const reaction = (on: boolean): ZodOpenApiOperationObject =>
    v1({
      tags: ['messages'],
      operationId: on ? 'putReaction' : 'deleteReaction',
      summary: on ? 'Put the caller\'s reaction on a message' : 'Take the caller\'s reaction off a message',
      description:
        `Exactly \`message:react\` with \`on: ${on}\`. Any member who may read the message, channel members included; ` +
        `a member holds each emoji (1–32 characters, URL-encoded in the path) once. ${CHANGE_RULES} ${nonMemberRule}`,
      requestParams: { path: ReactionParamsSchema },
      responses: { ...noContent, ...changeErrors('Not a member of this public conversation.') },
    });
  return {
    '/v1/conversations/{id}/messages/{messageId}': {
      patch: v1({
        tags: ['messages'],
        operationId: 'editMessage',
        summary: 'Edit one of the caller\'s text messages',
        description:
          'Exactly `message:edit`: the sender only, `text` messages only, within `EDIT_WINDOW_S` of sending (default 2 days). ' +
          `The same text again returns the message unchanged. ${CHANGE_RULES} ${nonMemberRule}`,
        requestParams: { path: MessageParamsSchema },
        requestBody: { required: true, content: { 'application/json': { schema: EditMessageBodySchema } } },
        responses: {
          200: json('The message in its current state.', EditMessageResponseSchema),
          ...changeErrors('Not the sender, not a text message, the edit window has passed, or may not post in this channel.'),
          ...errors(['PAYLOAD_TOO_LARGE']),
        },
      }),
      delete: v1({
        tags: ['messages'],
        operationId: 'deleteMessage',
        summary: 'Delete a message (its sender, or an owner/admin/moderator)',
        description:
          'Exactly `message:delete`: text, attachment and reactions are removed from storage for good; the message keeps ' +
          `\`id\`, \`seq\`, \`senderId\`, \`createdAt\` and gets \`deletedAt\`. ${CHANGE_RULES} ${nonMemberRule}`,
        requestParams: { path: MessageParamsSchema },
        responses: { ...noContent, ...changeErrors('Neither the sender nor an owner, admin or moderator.') },
      }),
    },
    '/v1/conversations/{id}/messages/{messageId}/reactions/{emoji}': { put: reaction(true), delete: reaction(false) },
  };
}
