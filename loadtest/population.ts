// The simulated population: which users share which conversations (a pair per direct chat,
// users partitioned into groups of k, one large channel with a few posters), created over the
// users' own sockets exactly as a client would.
import { LIMITS } from '../protocol/index.js';
import type { LoadOptions } from './options.js';
import type { SimUser } from './sim-user.js';
import type { ConvInfo, ConversationKind } from './tracker.js';

export interface PlannedConversation {
  kind: ConversationKind;
  members: number[];
  creator: number;
  posters: number[];
}

/** Pure: the conversations of a run, from the user count and the mix. */
export function planConversations(
  opts: Pick<LoadOptions, 'users' | 'groupSize' | 'channelSize' | 'channelPosters'> & { mix: Pick<LoadOptions['mix'], ConversationKind> },
): PlannedConversation[] {
  const plan: PlannedConversation[] = [];
  const n = opts.users;
  if (opts.mix.direct > 0) {
    for (let i = 0; i + 1 < n; i += 2) plan.push({ kind: 'direct', members: [i, i + 1], creator: i, posters: [i, i + 1] });
  }
  if (opts.mix.group > 0) {
    const groups: number[][] = [];
    for (let i = 0; i < n; i += opts.groupSize) groups.push(Array.from({ length: Math.min(opts.groupSize, n - i) }, (_, j) => i + j));
    // A lone leftover user joins the previous group rather than forming a group of one.
    if (groups.length > 1 && groups[groups.length - 1]!.length < 2) groups[groups.length - 2]!.push(...groups.pop()!);
    for (const members of groups) plan.push({ kind: 'group', members, creator: members[0]!, posters: members });
  }
  const channelSize = Math.min(opts.channelSize, n, LIMITS.groupMaxMembers);
  if (opts.mix.channel > 0 && channelSize >= 2) {
    const members = Array.from({ length: channelSize }, (_, i) => i);
    const posters = members.slice(0, Math.max(1, Math.min(opts.channelPosters, channelSize)));
    plan.push({ kind: 'channel', members, creator: 0, posters });
  }
  return plan;
}

export function toConvInfo(id: string, p: PlannedConversation): ConvInfo {
  return { id, kind: p.kind, members: p.members, pos: new Map(p.members.map((u, i) => [u, i])), creator: p.creator, posters: p.posters };
}

class SetupError extends Error {
  override name = 'SetupError';
}

/** `call`'s result; a failure (after the library's retries) as a SetupError naming the step. */
async function step<T>(what: string, call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (err) {
    throw new SetupError(`${what}: ${(err as Error).message}`);
  }
}

/** Creates one planned conversation through its creator's socket. */
async function createOne(users: SimUser[], p: PlannedConversation, runId: string, i: number): Promise<ConvInfo> {
  const owner = users[p.creator]!;
  const others = p.members.filter((m) => m !== p.creator).map((m) => users[m]!.userId);
  const perCall = LIMITS.addMembersMaxPerCall;
  const created = await step(
    `create ${p.kind}`,
    p.kind === 'direct'
      ? owner.call('conversation:create', { type: 'direct', peerId: others[0]! })
      : owner.call('conversation:create', { type: p.kind, title: `${runId} ${p.kind} ${i}`, memberIds: others.slice(0, perCall) }),
  );
  const conversationId = created.conversation.id;
  for (let from = perCall; from < others.length; from += perCall) {
    await step('add channel members', owner.call('conversation:addMembers', { conversationId, userIds: others.slice(from, from + perCall) }));
  }
  if (p.kind === 'channel') {
    for (const poster of p.posters.filter((u) => u !== p.creator)) {
      await step('make channel poster an admin', owner.call('conversation:setRole', { conversationId, userId: users[poster]!.userId, role: 'admin' }));
    }
  }
  return toConvInfo(conversationId, p);
}

/** Creates the whole plan, `concurrency` at a time; attaches each conversation to its members. */
export async function createConversations(
  users: SimUser[],
  plan: PlannedConversation[],
  runId: string,
  opts: { concurrency?: number; onProgress?: (done: number, total: number) => void } = {},
): Promise<ConvInfo[]> {
  const out: ConvInfo[] = new Array(plan.length);
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < plan.length) {
      const i = next++;
      out[i] = await createOne(users, plan[i]!, runId, i);
      done++;
      opts.onProgress?.(done, plan.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency ?? 32, plan.length) }, worker));
  for (const conv of out) for (const m of conv.members) users[m]!.conversations.push(conv);
  return out;
}
