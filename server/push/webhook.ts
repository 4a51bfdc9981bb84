// One signed POST to the push webhook (§9): `X-Signature: sha256=<hex HMAC-SHA256 of the exact
// body bytes>`, so a receiver verifies what it received before parsing it. Anything but a 2xx
// (or no answer within the time limit) throws, and the post job retries with back-off.
import { createHmac } from 'node:crypto';
import type { Message } from '../../protocol/index.js';

export interface PushBody {
  userId: string;
  conversationId: string;
  messages: Message[];
}

export function signature(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** How a post failed: the receiver answered outside 2xx, or never answered (network, time limit). */
export type WebhookFailure = 'http_error' | 'unreachable';

export class WebhookError extends Error {
  override name = 'WebhookError';
  constructor(
    message: string,
    readonly failure: WebhookFailure,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Posts `payload`; `pushId` lets a receiver drop a retry of a post it already took. */
export async function postWebhook(opts: { url: string; secret: string; timeoutMs: number }, payload: PushBody, pushId: string): Promise<void> {
  const body = JSON.stringify(payload);
  let res: Response;
  try {
    res = await fetch(opts.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-signature': signature(body, opts.secret), 'x-push-id': pushId },
      body,
      signal: AbortSignal.timeout(opts.timeoutMs),
    });
  } catch (err) {
    throw new WebhookError(`webhook unreachable: ${err instanceof Error ? err.message : String(err)}`, 'unreachable', { cause: err });
  }
  await res.body?.cancel();
  if (!res.ok) throw new WebhookError(`webhook answered ${res.status}`, 'http_error');
}
