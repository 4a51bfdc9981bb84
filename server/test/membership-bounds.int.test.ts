// PROTOCOL.md §7 "being added is bounded", on two gateway nodes sharing one Redis: others add
// one user to at most 20 conversations an hour (counted across nodes; beyond, the user is left
// out of `added`), notices of large additions carry a count and at most 20 ids, and a join that
// adds nobody (a concurrent join won) announces nothing. The cap of 10,000 open conversations is
// tested on both stores in bounds.contract.ts (CONFLICT mapping in errors.test.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { record } from './support/clients.js';
import { call, storedMessages } from './support/chat.js';
import { startCluster, type Cluster } from './support/cluster.js';

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster({ nodes: 2 });
});
afterAll(async () => {
  await cluster?.close();
});

describe('being added is bounded (§7)', () => {
  it('others add one user to 20 conversations an hour across both nodes; the 21st leaves them out', async () => {
    const actors = [await cluster.connect('ab-actor-0', 0), await cluster.connect('ab-actor-1', 1)];
    const victim = await cluster.connect('ab-victim', 1);
    const results: { added: boolean; conversationId: string }[] = [];
    for (let i = 0; i < 22; i++) {
      const { conversation } = await call(actors[i % 2]!, 'conversation:create', { type: 'group', title: `g${i}`, memberIds: ['ab-victim'] });
      const mine = await call(victim, 'conversation:sync', { conversationId: conversation.id, afterSeq: 0 }).then(
        () => true,
        () => false,
      );
      results.push({ added: mine, conversationId: conversation.id });
    }
    expect(results.map((r) => r.added)).toEqual([...Array(20).fill(true), false, false]);
    // addMembers from either node is refused for them too, and says so in `added`.
    const later = await call(actors[0]!, 'conversation:create', { type: 'group', title: 'later' });
    expect((await call(actors[0]!, 'conversation:addMembers', { conversationId: later.conversation.id, userIds: ['ab-victim', 'ab-other'] })).added).toEqual(['ab-other']);
    // Joining a public group oneself is not being added.
    const pub = await call(actors[1]!, 'conversation:create', { type: 'group', title: 'pub', public: true });
    await expect(call(victim, 'conversation:join', { conversationId: pub.conversation.id })).resolves.toBeDefined();
  });

  it('a notice of 30 added users carries 20 ids and the count, to the room and to the added', async () => {
    const owner = await cluster.connect('nb-owner', 0);
    const { conversation } = await call(owner, 'conversation:create', { type: 'group', title: 'big' });
    const lastAdded = await cluster.connect('nb-u29', 1);
    const updates = record(lastAdded, 'conversation:updated');
    const roomUpdates = record(owner, 'conversation:updated');
    const userIds = Array.from({ length: 30 }, (_, i) => `nb-u${i}`);
    expect((await call(owner, 'conversation:addMembers', { conversationId: conversation.id, userIds })).added).toEqual(userIds);
    await updates.until((u) => u.some((x) => x.change?.action === 'added'));
    await roomUpdates.until((u) => u.some((x) => x.change?.action === 'added'));
    for (const u of [...updates.items, ...roomUpdates.items].filter((x) => x.change?.action === 'added')) {
      expect(u.change).toEqual({ action: 'added', userIds: userIds.slice(0, 20), count: 30 });
    }
    const stored = await storedMessages(cluster.nodes[0]!.app, 'nb-owner', conversation.id);
    expect(stored.find((m) => m.system?.action === 'added')?.system).toEqual({ action: 'added', actorId: 'nb-owner', userIds: userIds.slice(0, 20), count: 30 });
  });

  it('concurrent joins of one user from both nodes write one "joined" notice', async () => {
    const owner = await cluster.connect('jb-owner', 0);
    const { conversation } = await call(owner, 'conversation:create', { type: 'group', title: 'open', public: true });
    const [a, b] = [await cluster.connect('jb-joiner', 0), await cluster.connect('jb-joiner', 1)];
    const joins = await Promise.all([a, b, a, b].map((s) => call(s, 'conversation:join', { conversationId: conversation.id })));
    expect(new Set(joins.map((j) => j.membership.joinedSeq)).size).toBe(1);
    const stored = await storedMessages(cluster.nodes[0]!.app, 'jb-owner', conversation.id);
    expect(stored.filter((m) => m.system?.action === 'joined')).toHaveLength(1);
  });
});
