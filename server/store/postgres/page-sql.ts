// The history page statement (PostgreSQL), apart from the other statements in sql.ts.
import { visibleRanges } from '../shared.js';
import type { MessagePageQuery } from '../store.js';
import { MESSAGE_COLUMNS } from './rows.js';

/** Upper bound of an open period; any seq fits below it. */
export const MAX_SEQ = Number.MAX_SAFE_INTEGER;

/**
 * A history page over seq ranges ($1 conversation, $2 limit, $3/$4 the ranges' lo/hi arrays for
 * `lo < seq <= hi`): a limited index scan per range, so the gap between two periods is never
 * read; as arrays, one statement and plan for 2 ranges or 201 (a UNION ALL arm per range cost
 * ~10 ms of planning at 51). Each range offers up to $2 rows: long periods cost ranges × $2.
 */
const pageOne = (dir: 'ASC' | 'DESC') => `
SELECT ${MESSAGE_COLUMNS} FROM messages
WHERE conversation_id = $1 AND seq > $3 AND seq <= $4 ORDER BY seq ${dir} LIMIT $2`;
const pageMany = (dir: 'ASC' | 'DESC') => `
SELECT page.* FROM unnest($3::bigint[], $4::bigint[]) AS r(lo, hi)
CROSS JOIN LATERAL (
  SELECT ${MESSAGE_COLUMNS} FROM messages
  WHERE conversation_id = $1 AND seq > r.lo AND seq <= r.hi ORDER BY seq ${dir} LIMIT $2
) page
ORDER BY page.seq ${dir} LIMIT $2`;
const PAGE_SQL = { ASC: [pageOne('ASC'), pageMany('ASC')], DESC: [pageOne('DESC'), pageMany('DESC')] } as const;
/** The page over one range, oldest first: what a sync reads (sync-reads.ts batches it). */
export const PAGE_ONE_ASC = PAGE_SQL.ASC[0];

/** pageMessages as one statement and its parameters; null when the periods leave nothing visible. */
export function pageMessagesQuery(q: MessagePageQuery): [string, unknown[]] | null {
  const ranges = visibleRanges(q.periods, q);
  if (ranges.length === 0 || q.limit <= 0) return null;
  const [one, many] = PAGE_SQL[q.after !== undefined ? 'ASC' : 'DESC'];
  if (ranges.length === 1) return [one, [q.conversationId, q.limit, ranges[0]!.gt, ranges[0]!.lte ?? MAX_SEQ]];
  return [many, [q.conversationId, q.limit, ranges.map((r) => r.gt), ranges.map((r) => r.lte ?? MAX_SEQ)]];
}
