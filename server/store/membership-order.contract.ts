// Contract of the store port, part: joins and leaves ordered against appends (#14 item 7).
// Run by storeContract inside its describe block, on the same store.
//
// A membership change happens at one point of the conversation's seq order: a message whose
// append had finished while the user was observably not (or no longer) a member must lie outside
// the period, and one whose append started after the user was observably a member (or gone) must
// lie inside (outside). Senders append while the user joins or leaves, and each sender checks
// `getMembership` between its appends; the period's bounds must agree with every observation.
import { randomBytes } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Store } from './store.js';

const SENDERS = 4;
const ROUNDS = 6;
/** Appends each sender makes after the membership change resolved, so the window is covered. */
const AFTER = 3;

interface Observation {
  seq: number;
  /** Membership seen just before this append started, and just after it resolved. */
  before: boolean;
  after: boolean;
}

export function membershipOrderCases(getStore: () => Store): void {
  describe('membership changes ordered against appends', () => {
    let store: Store;
    beforeEach(() => {
      store = getStore();
    });

    const user = (label: string) => `${label}-${randomBytes(4).toString('hex')}`;

    /**
     * SENDERS loops of append → getMembership(subject) while `change` runs: `change` starts once
     * every sender has appended once, and each sender stops AFTER appends after it resolved.
     */
    async function race(conversationId: string, sender: string, subject: string, change: () => Promise<unknown>): Promise<Observation[]> {
      const observations: Observation[] = [];
      let done = false;
      let started = 0;
      let startChange!: () => void;
      const allStarted = new Promise<void>((resolve) => (startChange = resolve));
      const member = async () => (await store.getMembership(conversationId, subject)) !== null;
      const loop = async (n: number) => {
        let before = await member();
        let extra = 0;
        for (let i = 0; extra < AFTER; i++) {
          if (done) extra++;
          const { message } = await store.appendMessage({ conversationId, senderId: sender, clientMsgId: `s${n}-${i}`, kind: 'text', text: 'x' });
          const after = await member();
          observations.push({ seq: message.seq, before, after });
          before = after;
          if (i === 0 && ++started === SENDERS) startChange();
        }
      };
      const loops = Array.from({ length: SENDERS }, (_, n) => loop(n));
      await allStarted;
      await change();
      done = true;
      await Promise.all(loops);
      return observations;
    }

    async function group(owner: string, members: string[]): Promise<string> {
      const { conversation } = await store.createConversation({
        type: 'group',
        createdBy: owner,
        public: false,
        members: [{ userId: owner, role: 'owner' }, ...members.map((userId) => ({ userId, role: 'member' as const }))],
      });
      return conversation.id;
    }

    it('a join takes effect at one seq: messages appended before it stay outside the period, later ones inside', async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const [a, b] = [user('a'), user('b')];
        const conv = await group(a, []);
        const seen = await race(conv, a, b, () => store.addMembers(conv, [{ userId: b, role: 'member' }]));
        const [period] = await store.listPeriods(conv, b);
        const joinedSeq = period!.afterSeq;
        // Not a member after the append finished: the append came first.
        for (const o of seen.filter((x) => !x.after)) expect(o.seq, `round ${round}`).toBeLessThanOrEqual(joinedSeq);
        // Already a member before the append started: the append came after.
        for (const o of seen.filter((x) => x.before)) expect(o.seq, `round ${round}`).toBeGreaterThan(joinedSeq);
        expect(seen.some((x) => x.after)).toBe(true);
      }
    });

    it('a leave takes effect at one seq: messages appended before it stay inside the period, later ones outside', async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const [a, b] = [user('a'), user('b')];
        const conv = await group(a, [b]);
        const seen = await race(conv, a, b, () => store.removeMember(conv, b));
        const [period] = await store.listPeriods(conv, b);
        const leftSeq = period!.untilSeq!;
        for (const o of seen.filter((x) => x.after)) expect(o.seq, `round ${round}`).toBeLessThanOrEqual(leftSeq);
        for (const o of seen.filter((x) => !x.before)) expect(o.seq, `round ${round}`).toBeGreaterThan(leftSeq);
        expect(seen.some((x) => !x.after)).toBe(true);
      }
    });
  });
}
