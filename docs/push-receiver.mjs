// An example offline-push receiver: verifies the X-Signature of each post before trusting it,
// drops repeats by X-Push-Id, and hands the messages to your push service (here: a log line).
//   PUSH_WEBHOOK_SECRET=change-me node docs/push-receiver.mjs      # listens on :8080
// and start the gateway with PUSH_WEBHOOK_URL=http://127.0.0.1:8080/push and the same secret.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';

const secret = process.env.PUSH_WEBHOOK_SECRET;
if (!secret) throw new Error('set PUSH_WEBHOOK_SECRET');
const seen = new Set(); // X-Push-Id of posts already handled (bound it in a real service)

/** True when `header` is `sha256=<hex>` of the raw body bytes with the shared secret. */
function signatureOk(body, header) {
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(body).digest('hex')}`);
  const given = Buffer.from(String(header ?? ''));
  return given.length === expected.length && timingSafeEqual(given, expected);
}

createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    // Verify the bytes as received; parsing first and re-serialising would change them.
    if (req.method !== 'POST' || !signatureOk(body, req.headers['x-signature'])) return res.writeHead(401).end();
    const pushId = String(req.headers['x-push-id']);
    if (!seen.has(pushId)) {
      seen.add(pushId);
      const { userId, conversationId, messages } = JSON.parse(body.toString('utf8'));
      console.log(`push to ${userId}: ${messages.length} new in ${conversationId}`);
    }
    // Any 2xx ends the retries; answer only once the push is safely handed on.
    res.writeHead(204).end();
  });
}).listen(Number(process.env.PORT ?? 8080));
