// Edits, deletions and reactions (#16, PROTOCOL.md §9) on both store lanes, two gateway nodes on
// one Redis: live `message:updated` on both nodes, catching up with one `conversation:sync`,
// deletion gone from every read, permissions refused with §4 codes and nothing changed, repeats
// that change nothing, and the REST routes calling the same domain.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ListConversationsResponse, Message } from '../../protocol/index.js';
import { call, clientMsgId, raw } from './support/chat.js';
import { record, type ClientSocket } from './support/clients.js';
import { startCluster, type Cluster, type StoreKind } from './support/cluster.js';
import { client } from './support/http.js';

const LANES: StoreKind[] = ['postgres', 'mongo'];

/** Every `message:updated` a socket receives; `latest(id)` is the state with the highest updatedSeq. */
function updates(socket: ClientSocket) {
  const rec = record(socket, 'message:updated');
  const latest = (id: string): Message | undefined =>
    rec.items.map((e) => e.message).filter((m) => m.id === id).sort((a, b) => (a.updatedSeq ?? 0) - (b.updatedSeq ?? 0)).at(-1);
  return { items: rec.items, latest, until: (id: string, ok: (m: Message) => boolean) => rec.until(() => { const m = latest(id); return m !== undefined && ok(m); }) };
}

describe.each(LANES)('message changes on %s', (store) => {
  let cluster: Cluster;
  let n = 0;
  const api = (user: string, node = 0) => client(cluster.nodes[node]!.url, cluster.token(user));
  const lastSeq = async (user: string, id: string) => (await api(user).get(`/v1/conversations/${id}`)).body.conversation.lastSeq as number;

  beforeAll(async () => {
    cluster = await startCluster({ nodes: 2, store });
  });
  afterAll(() => cluster?.close());

  /** A group of fresh users: the owner on node 0, the others alternating; returns sockets and the id. */
  async function group(type: 'group' | 'channel' = 'group', size = 3) {
    const users = Array.from({ length: size }, (_, i) => `${store}-chg-${++n}-${i}`);
    const sockets = await Promise.all(users.map((u, i) => cluster.connect(u, i % 2)));
    const id = (await call(sockets[0]!, 'conversation:create', { type, title: 'changes', memberIds: users.slice(1) })).conversation.id;
    return { users, sockets, id };
  }
  const send = async (socket: ClientSocket, conversationId: string, text: string) =>
    (await call(socket, 'message:send', { conversationId, clientMsgId: clientMsgId('c'), kind: 'text', text })).message;

  it('edit, reaction and deletion reach members on both nodes as message:updated, each taking the next seq', async () => {
    const { users, sockets, id } = await group();
    const [alice, bob] = sockets as [ClientSocket, ClientSocket];
    const seen = [updates(alice), updates(bob)];
    const m = await send(alice, id, 'first draft');

    const { message: edited } = await call(alice, 'message:edit', { conversationId: id, messageId: m.id, text: 'final' });
    expect(edited).toMatchObject({ id: m.id, seq: m.seq, text: 'final', updatedSeq: m.seq + 1 });
    expect(await lastSeq(users[0]!, id)).toBe(m.seq + 1);
    for (const s of seen) await s.until(m.id, (x) => x.text === 'final' && x.editedAt !== undefined);

    await call(bob, 'message:react', { conversationId: id, messageId: m.id, emoji: '👍', on: true });
    for (const s of seen) await s.until(m.id, (x) => x.reactions?.[0]?.count === 1);
    expect(seen[0]!.latest(m.id)!.updatedSeq).toBe(m.seq + 2);

    await call(alice, 'message:delete', { conversationId: id, messageId: m.id });
    for (const s of seen) await s.until(m.id, (x) => x.deletedAt !== undefined);
    const gone = seen[1]!.latest(m.id)!;
    expect(gone).toMatchObject({ id: m.id, seq: m.seq, senderId: users[0], createdAt: m.createdAt, updatedSeq: m.seq + 3 });
    expect(gone).not.toHaveProperty('text');
    expect(gone).not.toHaveProperty('reactions');
  });

  it('a member offline during an edit and a deletion gets both, and a reaction, from one sync from its last seen seq', async () => {
    const { users, sockets, id } = await group();
    const [alice, bob, carol] = sockets as [ClientSocket, ClientSocket, ClientSocket];
    const a = await send(alice, id, 'to be edited');
    const b = await send(alice, id, 'to be deleted');
    const c = await send(bob, id, 'untouched');
    carol.close();
    await call(alice, 'message:edit', { conversationId: id, messageId: a.id, text: 'edited while away' });
    await call(alice, 'message:delete', { conversationId: id, messageId: b.id });
    await call(bob, 'message:react', { conversationId: id, messageId: c.id, emoji: '🎉', on: true });
    const back = await cluster.connect(users[2]!, 0);
    const page = await call(back, 'conversation:sync', { conversationId: id, afterSeq: c.seq });
    expect(page.hasMore).toBe(false);
    expect(page.messages.map((x) => x.id)).toEqual([a.id, b.id, c.id]);
    expect(page.messages[0]).toMatchObject({ text: 'edited while away' });
    expect(page.messages[1]!.deletedAt).toBeDefined();
    expect(page.messages[2]!.reactions).toEqual([{ emoji: '🎉', count: 1 }]);
    expect(JSON.stringify(page)).not.toContain('to be deleted');
    // From the highest seq the client now holds, there is nothing left.
    const top = Math.max(...page.messages.map((x) => x.updatedSeq ?? x.seq));
    expect(await call(back, 'conversation:sync', { conversationId: id, afterSeq: top })).toEqual({ messages: [], hasMore: false });
  });

  it('a deleted message has no text in REST history, sync or the conversation list, on either node', async () => {
    const { users, sockets, id } = await group();
    const secret = `secret-${store}-${n}`;
    const m = await send(sockets[0]!, id, secret);
    await call(sockets[1]!, 'message:delete', { conversationId: id, messageId: m.id }).catch(() => undefined); // a member: refused
    await call(sockets[0]!, 'message:delete', { conversationId: id, messageId: m.id });
    for (const node of [0, 1]) {
      const history = await api(users[1]!, node).get(`/v1/conversations/${id}/messages`);
      const list = await api(users[1]!, node).get<ListConversationsResponse>('/v1/conversations');
      const sync = await call(sockets[node]!, 'conversation:sync', { conversationId: id, afterSeq: 0 });
      expect(history.body.messages.find((x: Message) => x.id === m.id).deletedAt).toBeDefined();
      expect(list.body.conversations.find((c) => c.id === id)!.lastMessage).toMatchObject({ id: m.id, deletedAt: expect.any(String) });
      for (const body of [history.body, list.body, sync]) expect(JSON.stringify(body)).not.toContain(secret);
    }
  });

  it('refusals answer the §4 codes and change nothing', async () => {
    const { users, sockets, id } = await group();
    const [alice, bob] = sockets as [ClientSocket, ClientSocket];
    const m = await send(alice, id, 'mine');
    const outsider = await cluster.connect(`${store}-outsider-${n}`, 1);
    const before = await lastSeq(users[0]!, id);
    const refused = [
      [bob, 'message:edit', { conversationId: id, messageId: m.id, text: 'hijack' }, 'FORBIDDEN'],
      [bob, 'message:delete', { conversationId: id, messageId: m.id }, 'FORBIDDEN'],
      [outsider, 'message:react', { conversationId: id, messageId: m.id, emoji: '👍', on: true }, 'NOT_FOUND'],
      // Another id of the same shape (an id that already ends in 0 must not stay the same).
      [alice, 'message:edit', { conversationId: id, messageId: `${m.id.slice(0, -1)}${m.id.endsWith('0') ? '1' : '0'}`, text: 'x' }, 'NOT_FOUND'],
      [alice, 'message:react', { conversationId: id, messageId: m.id, emoji: '', on: true }, 'INVALID_ARGUMENT'],
      [alice, 'message:edit', { conversationId: id, messageId: m.id, text: '   ' }, 'INVALID_ARGUMENT'],
    ] as const;
    for (const [socket, event, payload, code] of refused) {
      const res = await raw(socket, event, payload);
      expect(res.ok ? 'OK' : res.error.code, `${event} ${JSON.stringify(payload)}`).toBe(code);
    }
    expect(await lastSeq(users[0]!, id)).toBe(before);
    const [stored] = (await call(alice, 'conversation:sync', { conversationId: id, afterSeq: m.seq - 1 })).messages;
    expect(stored).toEqual(m);
  });

  it('in a channel members react but do not edit or delete; moderators delete others\' messages', async () => {
    const { users, sockets, id } = await group('channel');
    const [owner, member] = sockets as [ClientSocket, ClientSocket];
    const post = await send(owner, id, 'announcement');
    await call(member, 'message:react', { conversationId: id, messageId: post.id, emoji: '❤️', on: true });
    const res = await raw(member, 'message:delete', { conversationId: id, messageId: post.id });
    expect(res.ok ? 'OK' : res.error.code).toBe('FORBIDDEN');
    await call(owner, 'conversation:setRole', { conversationId: id, userId: users[1]!, role: 'moderator' });
    await call(member, 'message:delete', { conversationId: id, messageId: post.id });
    const edit = await raw(member, 'message:edit', { conversationId: id, messageId: post.id, text: 'x' });
    expect(edit.ok ? 'OK' : edit.error.code).toBe('NOT_FOUND');
  });

  it('repeats change nothing: same edit, same reaction, second deletion take no seq', async () => {
    const { users, sockets, id } = await group();
    const [alice, bob] = sockets as [ClientSocket, ClientSocket];
    const m = await send(alice, id, 'once');
    await call(alice, 'message:edit', { conversationId: id, messageId: m.id, text: 'twice' });
    await call(bob, 'message:react', { conversationId: id, messageId: m.id, emoji: '👀', on: true });
    const seq = await lastSeq(users[0]!, id);
    const again = await call(alice, 'message:edit', { conversationId: id, messageId: m.id, text: 'twice' });
    expect(again.message.updatedSeq).toBe(seq);
    await call(bob, 'message:react', { conversationId: id, messageId: m.id, emoji: '👀', on: true });
    await call(alice, 'message:react', { conversationId: id, messageId: m.id, emoji: '👀', on: false });
    expect(await lastSeq(users[0]!, id)).toBe(seq);
    await call(alice, 'message:delete', { conversationId: id, messageId: m.id });
    await call(alice, 'message:delete', { conversationId: id, messageId: m.id });
    expect(await lastSeq(users[0]!, id)).toBe(seq + 1);
  });

  it('20 concurrent toggles of one reaction by 10 members end with the exact count; unread counts no change', async () => {
    const { users, sockets, id } = await group('group', 11);
    const m = await send(sockets[0]!, id, 'vote');
    const unreadOf = async (u: string) => (await api(u).get<ListConversationsResponse>('/v1/conversations')).body.conversations.find((c) => c.id === id)!.unread;
    const unreadBefore = await unreadOf(users[1]!);
    // Each member: on, off, on at once with an extra on — ends on; the three first members end off.
    await Promise.all(
      sockets.slice(1).flatMap((s, i) => [
        call(s, 'message:react', { conversationId: id, messageId: m.id, emoji: '✅', on: true }),
        call(s, 'message:react', { conversationId: id, messageId: m.id, emoji: '✅', on: i >= 3 }),
      ]),
    );
    await Promise.all(sockets.slice(1, 4).map((s) => call(s, 'message:react', { conversationId: id, messageId: m.id, emoji: '✅', on: false })));
    const [current] = (await call(sockets[0]!, 'conversation:sync', { conversationId: id, afterSeq: m.seq - 1 })).messages;
    expect(current!.reactions).toEqual([{ emoji: '✅', count: 7 }]);
    expect(await unreadOf(users[1]!)).toBe(unreadBefore);
  });

  it('REST routes are the same domain: PATCH edits, PUT/DELETE reactions, DELETE deletes, all live on sockets', async () => {
    const { users, sockets, id } = await group();
    const seen = updates(sockets[1]!);
    const m = await send(sockets[0]!, id, 'via rest');
    const base = `/v1/conversations/${id}/messages/${m.id}`;
    const alice = api(users[0]!, 1);
    const bob = api(users[1]!, 0);
    const etag = (await bob.get(`/v1/conversations/${id}/messages`)).headers.get('etag')!;
    const patched = await alice.request('PATCH', base, { json: { text: 'patched' } });
    // A cached history page must not hide the edit.
    const fresh = await bob.get(`/v1/conversations/${id}/messages`, { headers: { 'if-none-match': etag } });
    expect(fresh.status).toBe(200);
    expect(fresh.body.messages[0]).toMatchObject({ id: m.id, text: 'patched' });
    expect(patched.status).toBe(200);
    expect(patched.body.message).toMatchObject({ id: m.id, text: 'patched', updatedSeq: m.seq + 1 });
    expect((await bob.request('PATCH', base, { json: { text: 'nope' } })).status).toBe(403);
    expect((await bob.request('PATCH', base, { json: { text: 'x', extra: 1 } })).status).toBe(400);
    const emoji = encodeURIComponent('🔥');
    expect((await bob.put(`${base}/reactions/${emoji}`)).status).toBe(204);
    expect((await bob.put(`${base}/reactions/${emoji}`)).status).toBe(204);
    await seen.until(m.id, (x) => x.reactions?.[0]?.count === 1);
    expect((await bob.request('DELETE', `${base}/reactions/${emoji}`)).status).toBe(204);
    await seen.until(m.id, (x) => x.reactions === undefined && (x.updatedSeq ?? 0) === m.seq + 3);
    expect((await bob.put(`${base}/reactions/${'x'.repeat(33)}`)).status).toBe(400);
    expect((await bob.request('DELETE', base)).status).toBe(403);
    expect((await alice.request('DELETE', base)).status).toBe(204);
    await seen.until(m.id, (x) => x.deletedAt !== undefined);
    expect((await alice.request('PATCH', base, { json: { text: 'back' } })).status).toBe(404);
    const history = await bob.get(`/v1/conversations/${id}/messages`);
    expect(JSON.stringify(history.body)).not.toContain('via rest');
    expect(JSON.stringify(history.body)).not.toContain('patched');
  });
});
