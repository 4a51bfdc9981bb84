// The one error path: foreign errors are mapped by class, never by their message text, and a zod
// fault is worded alike over sockets and REST.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AppError, DependencyUnavailableError, invalidArgument, toAppError, toWireError } from './errors.js';
import { ConflictStoreError, StoreUnavailableError } from './store/store.js';

describe('toAppError', () => {
  it('maps dependency failures by class to UNAVAILABLE, keeping the cause for the log', () => {
    const cause = new Error('Connection is closed.');
    const e = toAppError(new DependencyUnavailableError('queue', 'delivery enqueue failed', { cause }));
    expect(e).toMatchObject({ code: 'UNAVAILABLE', message: 'queue is unavailable, retry later' });
    expect((e.cause as Error).cause).toBe(cause);
    expect(toAppError(new StoreUnavailableError('pool exhausted')).code).toBe('UNAVAILABLE');
  });

  it('does not read message text: an untyped error that looks like a Redis outage is INTERNAL, and hidden', () => {
    for (const message of ['Connection is closed.', 'connect ECONNREFUSED 127.0.0.1:6379', 'Command timed out']) {
      expect(toWireError(new Error(message))).toEqual({ code: 'INTERNAL', message: 'internal error' });
    }
  });

  it('maps a user at the conversation cap to CONFLICT naming the caller\'s own ids, not their count', () => {
    expect(toWireError(new ConflictStoreError('2 user(s) are in 10000 conversations already', ['u1', 'u2']))).toEqual({
      code: 'CONFLICT',
      message: 'already in the most conversations allowed: u1, u2',
    });
  });

  it('passes AppError through with its safe extras only', () => {
    const err = new AppError('RATE_LIMITED', 'too many send requests', { retryAfterMs: 250, cause: new Error('secret') });
    expect(toWireError(err)).toEqual({ code: 'RATE_LIMITED', message: 'too many send requests', retryAfterMs: 250 });
  });
});

describe('invalidArgument', () => {
  const Schema = z.strictObject({ conversationId: z.string().min(1), nested: z.strictObject({ n: z.number() }).optional() });
  const fault = (value: unknown) => {
    const r = Schema.safeParse(value);
    if (r.success) throw new Error('expected a fault');
    return r.error;
  };

  it('words an unknown field the same over a socket (no part) and REST (the part first)', () => {
    const err = fault({ conversationId: 'c1', sneaky: 1 });
    expect(toWireError(invalidArgument(err))).toEqual({ code: 'INVALID_ARGUMENT', message: 'sneaky: unknown field', field: 'sneaky' });
    expect(toWireError(invalidArgument(err, 'body'))).toEqual({ code: 'INVALID_ARGUMENT', message: 'body.sneaky: unknown field', field: 'body.sneaky' });
    expect(invalidArgument(err, 'query').message).toBe('query.sneaky: unknown parameter');
  });

  it('names the nested field, or the payload itself when the fault is at the top', () => {
    expect(invalidArgument(fault({ conversationId: 'c1', nested: { n: 'x' } })).field).toBe('nested.n');
    const top = invalidArgument(fault('not an object'));
    expect(top.field).toBeUndefined();
    expect(top.message).toMatch(/^payload: /);
  });
});
