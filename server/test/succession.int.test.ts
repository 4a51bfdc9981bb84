// PROTOCOL.md §7 "a group always has an owner", on two gateway nodes: when the last owner
// leaves, ownership passes to the longest-standing admin, else moderator, else member, with a
// system message and a conversation:updated, and the heir can manage the group at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Member } from '../../protocol/index.js';
import { record } from './support/clients.js';
import { call } from './support/chat.js';
import { startCluster, type Cluster } from './support/cluster.js';
import { client } from './support/http.js';

let cluster: Cluster;

beforeAll(async () => {
  cluster = await startCluster({ nodes: 2 });
});
afterAll(async () => {
  await cluster?.close();
});

async function members(conversationId: string, viewer: string, node = 1): Promise<Member[]> {
  const res = await client(cluster.nodes[node]!.url, cluster.token(viewer)).get(`/v1/conversations/${conversationId}/members?limit=200`);
  expect(res.status).toBe(200);
  return res.body.members as Member[];
}

/** A group whose members joined one after another (distinct joinedAt), with the given roles. */
async function group(owner: string, later: [string, 'admin' | 'moderator' | 'member'][]) {
  const socket = await cluster.connect(owner, 0);
  const { conversation } = await call(socket, 'conversation:create', { type: 'group', title: 'heirs' });
  for (const [userId, role] of later) {
    await call(socket, 'conversation:addMembers', { conversationId: conversation.id, userIds: [userId] });
    if (role !== 'member') await call(socket, 'conversation:setRole', { conversationId: conversation.id, userId, role });
  }
  return { socket, conversationId: conversation.id };
}

describe('owner succession (§7)', () => {
  it('the last owner leaving hands ownership to the longest-standing admin, announced on the other node', async () => {
    const { socket, conversationId } = await group('su-owner', [
      ['su-member', 'member'],
      ['su-admin-early', 'admin'],
      ['su-mod', 'moderator'],
      ['su-admin-late', 'admin'],
    ]);
    const heir = await cluster.connect('su-admin-early', 1);
    const watcher = await cluster.connect('su-member', 1);
    const updates = record(watcher, 'conversation:updated');
    const news = record(watcher, 'message:new');
    await call(socket, 'conversation:leave', { conversationId });
    await updates.until((items) => items.some((u) => u.change?.action === 'role'));
    expect(updates.items.filter((u) => u.change?.action === 'role').map((u) => u.change?.userIds)).toEqual([['su-admin-early']]);
    await news.until((items) => items.some((m) => m.message.system?.action === 'role'));
    expect(news.items.filter((m) => m.message.system?.action === 'role').map((m) => m.message.system)).toEqual([
      { action: 'role', actorId: 'su-owner', userIds: ['su-admin-early'], role: 'owner' },
    ]);
    const owners = (await members(conversationId, 'su-member')).filter((m) => m.role === 'owner').map((m) => m.userId);
    expect(owners).toEqual(['su-admin-early']);
    // The heir manages from the other node at once (the per-node access cache was told).
    await call(heir, 'conversation:setRole', { conversationId, userId: 'su-admin-late', role: 'member' });
  });

  it('without admins or moderators the longest-standing member inherits; with a second owner nothing passes', async () => {
    const plain = await group('su2-owner', [
      ['su2-first', 'member'],
      ['su2-second', 'member'],
    ]);
    await call(plain.socket, 'conversation:leave', { conversationId: plain.conversationId });
    expect((await members(plain.conversationId, 'su2-second')).map((m) => [m.userId, m.role])).toEqual([
      ['su2-first', 'owner'],
      ['su2-second', 'member'],
    ]);

    const two = await group('su3-owner', [
      ['su3-admin', 'admin'],
      ['su3-co', 'member'],
    ]);
    await call(two.socket, 'conversation:setRole', { conversationId: two.conversationId, userId: 'su3-co', role: 'owner' });
    await call(two.socket, 'conversation:leave', { conversationId: two.conversationId });
    const roles = (await members(two.conversationId, 'su3-admin')).map((m) => [m.userId, m.role]);
    expect(roles).toEqual([
      ['su3-admin', 'admin'],
      ['su3-co', 'owner'],
    ]);
  });
});
