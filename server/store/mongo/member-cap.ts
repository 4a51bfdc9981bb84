// The cap on a user's open memberships (PROTOCOL.md §7) on MongoDB: counted, then inserted.
// MongoDB has no lock to hold between the two without a transaction (and the test server has no
// transactions), so the cap is checked, not reserved: adds of one user that race each other can
// each see the count below the cap, and the user ends up over it by at most the number of
// racing adds minus one. Those are bounded in the product by the limit on being added (20 an
// hour from others, PROTOCOL.md §7) and the user's own membership rate limit, so a user at the
// cap can be pushed a few dozen over it, never to an unbounded number.
import { ConflictStoreError } from '../store.js';
import { op, type Models } from './models.js';

/**
 * Throws ConflictStoreError naming the users (of `userIds`, none of them a current member of the
 * conversation) who already hold `cap` open memberships. One aggregation over the covered
 * `user_open` index: at most `cap` entries per user are counted.
 */
export async function checkMemberCap(models: Models, userIds: string[], cap: number | undefined): Promise<void> {
  if (cap === undefined || userIds.length === 0) return;
  const counts = await models.Membership.aggregate<{ _id: string; n: number }>([
    { $match: { userId: op({ $in: userIds }), open: true } },
    { $group: { _id: '$userId', n: { $sum: 1 } } },
  ]);
  const full = counts.filter((c) => c.n >= cap).map((c) => c._id);
  if (full.length > 0) throw new ConflictStoreError(`${full.length} user(s) are in ${cap} conversations already`, full);
}
