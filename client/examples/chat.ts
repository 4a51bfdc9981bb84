// The example of docs/client.md, kept here so `npx tsc -p client/tsconfig.json` checks it.
import { createClient, localStorageOutbox } from '../src/index.js';

declare function fetchToken(): Promise<string>; // your auth service: a JWT whose `sub` is the user id
declare function render(m: { id: string; senderId: string; text?: string }): void;
declare const conversationId: string;

const client = createClient({
  url: 'https://chat.example.com',
  token: () => fetchToken(),                              // asked again before exp and after session:expired
  outbox: localStorageOutbox('relaygate.outbox.alice'),   // unsent messages survive a reload
});
client.on('state', (s) => console.log('connection', s)); // connecting | online | offline | draining

// Newest page from REST, then the live stream from where it ends: every later message once, in order.
const { messages } = await client.rest.history(conversationId, { limit: 50 });
messages.reverse().forEach(render);
const sub = client.subscribe(conversationId, {
  onMessage: (m) => {
    render(m);
    client.markRead(conversationId, m.seq);               // coalesced, only forward
  },
  onCaughtUp: (caughtUp) => console.log(caughtUp ? 'up to date' : 'catching up…'),
  onDiscontinuity: (d) => console.warn(`no access after seq ${d.afterSeq}: ${d.code}`),
}, { afterSeq: messages.at(-1)?.seq ?? 0 });

const pending = client.send(conversationId, { kind: 'text', text: 'hi' }); // shown at once
pending.stored.then((m) => console.log('stored as seq', m.seq), (err) => console.warn('refused', err.code));
client.on('receipt', () => console.log(client.watermarks(conversationId))); // others' delivered/read
console.log(sub.lastSeq);
