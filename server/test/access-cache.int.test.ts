// The hot paths (send, receipts, typing) check membership through a per-node cache. These tests
// pin what makes that safe: a membership change made on one node is in force on every other
// node, whose cache had the old answer, at the moment the change is acknowledged; and what
// makes it worth having: a warm sender costs no membership read.
import { once } from 'node:events';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../app.js';
import { call, clientMsgId, raw } from './support/chat.js';
import { startCluster, type Cluster } from './support/cluster.js';

const text = (conversationId: string, body: string) => ({ conversationId, clientMsgId: clientMsgId(), kind: 'text' as const, text: body });

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster({ nodes: 2, env: { RATE_LIMIT_SCALE: '50' } });
});
afterAll(() => cluster?.close());

/** How many times node `app` has read a membership from the store. */
async function membershipReads(app: App): Promise<number> {
  const metric = await app.metrics.storeSeconds.get();
  return metric.values.find((v) => v.metricName?.endsWith('_count') && v.labels.op === 'getMembership')?.value ?? 0;
}

describe('membership checks cached per node', () => {
  it('a removed member, cached as a member on the other node, is refused there from the ack on', async () => {
    const owner = await cluster.connect('ac-owner', 0);
    const member = await cluster.connect('ac-member', 1);
    const { conversation } = await call(owner, 'conversation:create', { type: 'group', title: 'cache', memberIds: ['ac-member'] });
    // Repeated: a missing invalidation barrier is a race that the ack sometimes wins.
    for (let round = 0; round < 10; round++) {
      // Twice, so node B certainly answers the second from its cache.
      await call(member, 'message:send', text(conversation.id, `r${round}-a`));
      await call(member, 'message:send', text(conversation.id, `r${round}-b`));
      await call(owner, 'conversation:removeMember', { conversationId: conversation.id, userId: 'ac-member' });
      const refused = await raw(member, 'message:send', text(conversation.id, `r${round}-after-removal`));
      expect(refused, `round ${round}`).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
      await call(owner, 'conversation:addMembers', { conversationId: conversation.id, userIds: ['ac-member'] });
      await call(member, 'message:send', text(conversation.id, `r${round}-after-readd`));
    }
  });

  it('a role change on one node decides who may post in a channel on the other node from the ack on', async () => {
    const owner = await cluster.connect('acr-owner', 0);
    const poster = await cluster.connect('acr-poster', 1);
    const { conversation } = await call(owner, 'conversation:create', { type: 'channel', title: 'roles', memberIds: ['acr-poster'] });
    for (let round = 0; round < 5; round++) {
      expect(await raw(poster, 'message:send', text(conversation.id, `p${round}-member`))).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
      await call(owner, 'conversation:setRole', { conversationId: conversation.id, userId: 'acr-poster', role: 'moderator' });
      await call(poster, 'message:send', text(conversation.id, `p${round}-moderator`));
      await call(owner, 'conversation:setRole', { conversationId: conversation.id, userId: 'acr-poster', role: 'member' });
    }
  });

  it('a node cut off from the notices while a member is removed refuses the member once its link is back', async () => {
    const isolated = await startCluster({ nodes: 2, env: { RATE_LIMIT_SCALE: '50' } });
    try {
      const owner = await isolated.connect('acl-owner', 0);
      const member = await isolated.connect('acl-member', 1);
      const { conversation } = await call(owner, 'conversation:create', { type: 'group', title: 'link', memberIds: ['acl-member'] });
      await call(member, 'message:send', text(conversation.id, 'cached'));
      // Node B loses its subscriber connection, and ioredis brings it back only after 3 s.
      const sub = isolated.nodes[1]!.app.redis.sub as Redis;
      const retry = sub.options.retryStrategy;
      sub.options.retryStrategy = () => 3_000;
      const closed = once(sub, 'close');
      (sub as unknown as { stream: { destroy(): void } }).stream.destroy();
      await closed;
      // Acknowledged after the barrier gives up on node B, which never hears of it.
      await call(owner, 'conversation:removeMember', { conversationId: conversation.id, userId: 'acl-member' });
      await once(sub, 'ready');
      sub.options.retryStrategy = retry;
      expect(await raw(member, 'message:send', text(conversation.id, 'after the link is back'))).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    } finally {
      await isolated.close();
    }
  });

  it('a warm sender costs no membership read: 30 sends, 30 receipts and 30 typing events read none', async () => {
    const alice = await cluster.connect('acw-alice', 1);
    const { conversation } = await call(alice, 'conversation:create', { type: 'group', title: 'warm', memberIds: ['acw-bob'] });
    const first = await call(alice, 'message:send', text(conversation.id, 'warm-up'));
    const node = cluster.nodes[1]!.app;
    const before = await membershipReads(node);
    for (let i = 0; i < 30; i++) {
      const { message } = await call(alice, 'message:send', text(conversation.id, `w${i}`));
      await call(alice, 'message:delivered', { conversationId: conversation.id, seq: message.seq });
      await call(alice, 'typing', { conversationId: conversation.id, typing: i % 2 === 0 });
    }
    expect(first.message.seq).toBeGreaterThan(0);
    expect(await membershipReads(node)).toBe(before);
  });
});
