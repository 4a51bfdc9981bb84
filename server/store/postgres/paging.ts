// The adapter's own keyset cursor (the shared ones, and the visible seq ranges, are in ../shared.ts).

/** listConversations: activity (µs since the epoch) and id of the page's last row. */
export const isListCursor = (v: unknown): v is [number, string] =>
  Array.isArray(v) && v.length === 2 && Number.isSafeInteger(v[0]) && typeof v[1] === 'string';
