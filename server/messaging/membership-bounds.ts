// Bounds on being put into conversations by others (PROTOCOL.md §7): a limit per added user
// across every node (the `added` rate-limit family on Redis), and notices that stay small
// however many users one change concerns.
import { LIMITS } from '../../protocol/index.js';
import { AppError } from '../errors.js';
import type { Limiter } from './ports.js';

/**
 * The users of `userIds` whom others may still add this hour, in input order; takes one `added`
 * point from each. Users over their limit are left out (the caller's `added` says who made it).
 * Call after the actor is authorised: points of a refused call would be the victims' loss.
 */
export async function mayBeAdded(limiter: Limiter, userIds: string[]): Promise<string[]> {
  const allowed = await Promise.all(
    userIds.map((u) =>
      limiter.consume('added', u).then(
        () => true,
        (err: unknown) => {
          if (err instanceof AppError && err.code === 'RATE_LIMITED') return false;
          throw err;
        },
      ),
    ),
  );
  return userIds.filter((_, i) => allowed[i]);
}

/** What a notice says about the users concerned: every id up to 20, else 20 of them and the count. */
export function noticeOf(userIds: string[]): { userIds: string[]; count?: number } {
  return userIds.length <= LIMITS.noticeMaxIds ? { userIds } : { userIds: userIds.slice(0, LIMITS.noticeMaxIds), count: userIds.length };
}
