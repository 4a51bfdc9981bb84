// The webhook signature: the format of §9, over the exact body bytes.
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signature } from './webhook.js';

describe('push webhook signature', () => {
  it('is sha256=<hex HMAC-SHA256 of the body with the secret>', () => {
    const body = JSON.stringify({ userId: 'bob', conversationId: 'c1', messages: [] });
    expect(signature(body, 'k')).toBe(`sha256=${createHmac('sha256', 'k').update(body).digest('hex')}`);
    expect(signature(body, 'k')).toMatch(/^sha256=[0-9a-f]{64}$/);
  });

  it('changes with any byte of the body or the secret', () => {
    expect(signature('{"a":1}', 'k')).not.toBe(signature('{"a":2}', 'k'));
    expect(signature('{"a":1}', 'k')).not.toBe(signature('{"a":1}', 'k2'));
  });
});
