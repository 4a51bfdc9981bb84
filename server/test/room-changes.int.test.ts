// The README promises that membership changes are in force on EVERY node when the ack arrives:
// the owner on node A changes the membership of a member whose socket is on node B, and at the
// moment the ack reaches the owner, node B's own room table already says so. What makes it hold
// is the barrier after the room change (realtime.membershipChanged); without it the ack wins
// the race against the adapter's publish in the first round.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { conversationRoom } from '../gateway/rooms.js';
import { call } from './support/chat.js';
import { startCluster, type Cluster } from './support/cluster.js';

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster({ nodes: 2, env: { RATE_LIMIT_SCALE: '20' } });
});
afterAll(() => cluster?.close());

/** Whether node `i` has this socket in the conversation's room, by its local room table only. */
function inRoomOn(i: number, conversationId: string, socketId: string): boolean {
  const rooms = cluster.nodes[i]!.app.io!.of('/').adapter.rooms;
  return rooms.get(conversationRoom(conversationId))?.has(socketId) ?? false;
}

describe('room changes reach every node before the ack', () => {
  it('addMembers / removeMember by an owner on node A: the member socket on node B is in / out of the room when the ack arrives', async () => {
    const owner = await cluster.connect('rc-owner', 0);
    const member = await cluster.connect('rc-member', 1);
    const { conversation } = await call(owner, 'conversation:create', { type: 'group', title: 'rooms' });
    // Repeated, because a missing barrier shows up as a race that an ack usually wins.
    for (let round = 0; round < 25; round++) {
      await call(owner, 'conversation:addMembers', { conversationId: conversation.id, userIds: ['rc-member'] });
      expect(inRoomOn(1, conversation.id, member.id!), `round ${round}: joined on node B at the ack`).toBe(true);
      await call(owner, 'conversation:removeMember', { conversationId: conversation.id, userId: 'rc-member' });
      expect(inRoomOn(1, conversation.id, member.id!), `round ${round}: left on node B at the ack`).toBe(false);
    }
  });

  it('join / leave by the member on node A: the same user\'s second device on node B follows before the ack', async () => {
    const owner = await cluster.connect('rc2-owner', 0);
    const { conversation } = await call(owner, 'conversation:create', { type: 'channel', title: 'rooms 2', public: true });
    const device0 = await cluster.connect('rc2-member', 0);
    const device1 = await cluster.connect('rc2-member', 1);
    for (let round = 0; round < 25; round++) {
      await call(device0, 'conversation:join', { conversationId: conversation.id });
      expect(inRoomOn(1, conversation.id, device1.id!), `round ${round}: joined on node B at the ack`).toBe(true);
      await call(device0, 'conversation:leave', { conversationId: conversation.id });
      expect(inRoomOn(1, conversation.id, device1.id!), `round ${round}: left on node B at the ack`).toBe(false);
    }
  });
});

describe('rooms joined at connect (cached per user on each node)', () => {
  it('a member added on node A while away is in the room when reconnecting to node B within the cache TTL', async () => {
    const owner = await cluster.connect('rc3-owner', 0);
    const { conversation: first } = await call(owner, 'conversation:create', { type: 'group', title: 'rooms 3a', memberIds: ['rc3-member'] });
    // Node B caches the member's rooms at this connect ...
    const before = await cluster.connect('rc3-member', 1);
    expect(inRoomOn(1, first.id, before.id!)).toBe(true);
    before.disconnect();
    // ... and must forget them when a membership changes anywhere, or the reconnect misses this room.
    const { conversation: second } = await call(owner, 'conversation:create', { type: 'group', title: 'rooms 3b' });
    await call(owner, 'conversation:addMembers', { conversationId: second.id, userIds: ['rc3-member'] });
    const after = await cluster.connect('rc3-member', 1);
    expect(inRoomOn(1, second.id, after.id!)).toBe(true);
    expect(inRoomOn(1, first.id, after.id!)).toBe(true);
  });
});
