// The hand-rolled peer: what a team would write instead of this gateway, as the benchmark's third
// variant (`peer:ENTRY=bench/peer.ts`). Socket.IO + the Redis adapter + PostgreSQL and nothing
// else: the same HS256 JWTs, membership checked in the send's own statement, the message stored
// durably and idempotently in ONE statement (seq from `UPDATE … RETURNING`, unique on
// (conversation, sender, clientMsgId)), then ack and `message:new` to the room. No queue, no rate
// limits, no cache. It answers the events the load generator uses (setup, send, sync, receipts)
// on three tables of its own; what it leaves out is listed in BENCHMARKS.md.
// Env: PORT, DATABASE_URL (the database must exist), REDIS_URL, REDIS_PREFIX, JWT_SECRET.
import { createServer } from 'node:http';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import jwt from 'jsonwebtoken';
import pg from 'pg';
import { collectDefaultMetrics, Gauge, register } from 'prom-client';
import { Server, type Socket } from 'socket.io';
import { MessageSendSchema } from '../protocol/index.js';

const env = (k: string, d?: string) => process.env[k] || d || '';
const db = new pg.Pool({ connectionString: env('DATABASE_URL'), max: Number(env('DATABASE_POOL_SIZE', '10')) });
await db.query(`
  CREATE TABLE IF NOT EXISTS peer_conversations (id bigserial PRIMARY KEY, type text NOT NULL, title text, created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(), last_seq bigint NOT NULL DEFAULT 0);
  CREATE TABLE IF NOT EXISTS peer_members (conversation_id bigint NOT NULL REFERENCES peer_conversations, user_id text NOT NULL,
    role text NOT NULL, delivered_seq bigint NOT NULL DEFAULT 0, read_seq bigint NOT NULL DEFAULT 0, PRIMARY KEY (conversation_id, user_id));
  CREATE INDEX IF NOT EXISTS peer_members_user ON peer_members (user_id);
  CREATE TABLE IF NOT EXISTS peer_messages (conversation_id bigint NOT NULL, seq bigint NOT NULL, sender_id text NOT NULL,
    client_msg_id text NOT NULL, text text NOT NULL, created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (conversation_id, seq), UNIQUE (conversation_id, sender_id, client_msg_id));`);

// Membership (a channel's plain members may not post), the existing copy of a retry, the next
// seq and the insert: one statement, one round trip, committed before the ack.
const SEND = `
  WITH ok AS (SELECT 1 FROM peer_members m JOIN peer_conversations c ON c.id = m.conversation_id
              WHERE m.conversation_id = $1 AND m.user_id = $2 AND (c.type <> 'channel' OR m.role IN ('owner', 'admin'))),
  old AS (SELECT seq, created_at FROM peer_messages WHERE conversation_id = $1 AND sender_id = $2 AND client_msg_id = $3),
  next AS (UPDATE peer_conversations SET last_seq = last_seq + 1
           WHERE id = $1 AND EXISTS (SELECT 1 FROM ok) AND NOT EXISTS (SELECT 1 FROM old) RETURNING last_seq),
  ins AS (INSERT INTO peer_messages (conversation_id, seq, sender_id, client_msg_id, text) SELECT $1, last_seq, $2, $3, $4 FROM next
          ON CONFLICT (conversation_id, sender_id, client_msg_id) DO NOTHING RETURNING seq, created_at)
  SELECT EXISTS (SELECT 1 FROM ok) AS member, ins.seq, ins.created_at, old.seq AS old_seq, old.created_at AS old_at
  FROM (SELECT 1) one LEFT JOIN ins ON true LEFT JOIN old ON true`;

type Row = Record<string, unknown>;
type Ack = (res: unknown) => void;
const fail = (code: string, message: string) => ({ ok: false, error: { code, message } });
const sql = async (text: string, values: unknown[]): Promise<Row[]> => (await db.query(text, values)).rows as Row[];
const toMessage = (cid: string, sender: string, clientMsgId: string, text: string, seq: unknown, at: unknown) =>
  ({ id: `${cid}-${seq}`, conversationId: cid, seq: Number(seq), senderId: sender, clientMsgId, kind: 'text', text, createdAt: (at as Date).toISOString() });
const canManage = async (cid: string, uid: string) =>
  (await sql(`SELECT 1 FROM peer_members WHERE conversation_id = $1 AND user_id = $2 AND role IN ('owner', 'admin')`, [cid, uid])).length > 0;

const http = createServer((req, res) => {
  if (req.url !== '/metrics') return void res.writeHead(404).end();
  void register.metrics().then((text) => res.writeHead(200, { 'content-type': register.contentType }).end(text));
});
const io = new Server(http, { transports: ['websocket', 'polling'] });
const pub = new Redis(env('REDIS_URL', 'redis://127.0.0.1:6379'));
io.adapter(createAdapter(pub, pub.duplicate(), { key: `${env('REDIS_PREFIX', 'peer')}:peer` }));
collectDefaultMetrics();
new Gauge({ name: 'gateway_sockets_connected', help: 'sockets on this node', collect() { this.set(io.engine.clientsCount); } });

io.use((socket, next) => {
  try {
    socket.data.uid = (jwt.verify(String(socket.handshake.auth.token), env('JWT_SECRET'), { algorithms: ['HS256'] }) as { sub: string }).sub;
    next();
  } catch {
    next(Object.assign(new Error('unauthorized'), { data: { code: 'UNAUTHENTICATED' } }));
  }
});

/** Registers `event`; any throw (bad payload, database down) answers INTERNAL instead of no answer. */
const on = (s: Socket, event: string, fn: (p: Row, uid: string) => Promise<unknown>) =>
  s.on(event, (p: Row, ack: Ack) => void fn(p ?? {}, s.data.uid as string).then(ack, () => ack?.(fail('INTERNAL', 'internal error'))));
const joinRooms = (cid: string, uids: string[]) => io.in(uids.map((u) => `u:${u}`)).socketsJoin(`c:${cid}`);

io.on('connection', async (s) => {
  const uid = s.data.uid as string;
  void s.join(`u:${uid}`); // before any await: a conversation created from now on reaches this socket
  on(s, 'message:send', async (p) => {
    const m = MessageSendSchema.safeParse(p);
    if (!m.success || m.data.kind !== 'text') return fail('INVALID_ARGUMENT', 'text messages only');
    const { conversationId: cid, clientMsgId, text = '' } = m.data;
    const [r] = await sql(SEND, [cid, uid, clientMsgId, text]);
    if (!r?.member) return fail('FORBIDDEN', 'not a member, or not allowed to post');
    // A retry racing its original can lose the insert: the original is then committed, read it.
    const again = r.seq == null && r.old_seq == null ? (await sql(`SELECT seq AS old_seq, created_at AS old_at FROM peer_messages WHERE conversation_id = $1 AND sender_id = $2 AND client_msg_id = $3`, [cid, uid, clientMsgId]))[0] : undefined;
    const row = { ...r, ...again };
    const message = toMessage(cid, uid, clientMsgId, text, row.seq ?? row.old_seq, row.created_at ?? row.old_at);
    if (row.seq != null) io.to(`c:${cid}`).emit('message:new', { message });
    return { ok: true, message, duplicate: row.seq == null };
  });
  on(s, 'conversation:create', async (p) => {
    const members = [...new Set([uid, ...(p.type === 'direct' ? [String(p.peerId)] : ((p.memberIds as string[] | undefined) ?? []))])];
    const [c] = await sql(
      `WITH c AS (INSERT INTO peer_conversations (type, title, created_by) VALUES ($1, $2, $3) RETURNING id, created_at),
            m AS (INSERT INTO peer_members (conversation_id, user_id, role) SELECT c.id, u, CASE WHEN u = $3 THEN 'owner' ELSE 'member' END FROM c, unnest($4::text[]) u)
       SELECT id::text, created_at FROM c`,
      [p.type, p.title ?? null, uid, members],
    );
    joinRooms(c!.id as string, members);
    const conversation = { id: c!.id, type: p.type, ...(p.title ? { title: p.title } : {}), createdBy: uid, createdAt: (c!.created_at as Date).toISOString(), lastSeq: 0, public: false };
    return { ok: true, conversation };
  });
  on(s, 'conversation:addMembers', async (p) => {
    const cid = String(p.conversationId);
    if (!(await canManage(cid, uid))) return fail('FORBIDDEN', 'owner or admin only');
    const added = (await sql(`INSERT INTO peer_members (conversation_id, user_id, role) SELECT $1, u, 'member' FROM unnest($2::text[]) u ON CONFLICT DO NOTHING RETURNING user_id`, [cid, p.userIds])).map((r) => r.user_id as string);
    joinRooms(cid, added);
    return { ok: true, added };
  });
  on(s, 'conversation:setRole', async (p) => {
    if (!(await canManage(String(p.conversationId), uid))) return fail('FORBIDDEN', 'owner or admin only');
    await sql(`UPDATE peer_members SET role = $3 WHERE conversation_id = $1 AND user_id = $2`, [p.conversationId, p.userId, p.role]);
    return { ok: true };
  });
  on(s, 'conversation:sync', async (p) => {
    const limit = Math.min(Number(p.limit ?? 100), 200);
    const rows = await sql(
      `SELECT seq, sender_id, client_msg_id, text, created_at FROM peer_messages WHERE conversation_id = $1 AND seq > $2
         AND EXISTS (SELECT 1 FROM peer_members WHERE conversation_id = $1 AND user_id = $3) ORDER BY seq LIMIT $4`,
      [p.conversationId, p.afterSeq, uid, limit + 1],
    );
    const messages = rows.slice(0, limit).map((r) => toMessage(String(p.conversationId), r.sender_id as string, r.client_msg_id as string, r.text as string, r.seq, r.created_at));
    return { ok: true, messages, hasMore: rows.length > limit };
  });
  for (const [event, column] of [['message:delivered', 'delivered_seq'], ['message:read', 'read_seq']] as const)
    on(s, event, async (p) => {
      await sql(`UPDATE peer_members SET ${column} = GREATEST(${column}, $3) WHERE conversation_id = $1 AND user_id = $2`, [p.conversationId, uid, p.seq]);
      return { ok: true };
    });
  // The conversations it already belongs to (after a reconnect: the client syncs anyway).
  await s.join((await sql(`SELECT conversation_id::text AS id FROM peer_members WHERE user_id = $1`, [uid])).map((r) => `c:${r.id}`));
});

http.listen(Number(env('PORT', '3000')), () => {
  const address = http.address();
  console.log(JSON.stringify({ level: 30, port: typeof address === 'object' && address ? address.port : 0, msg: 'listening' }));
});
process.once('SIGTERM', () => {
  void io.close().then(async () => {
    await Promise.all([db.end(), pub.quit()]);
    process.exit(0);
  });
});
