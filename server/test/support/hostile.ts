// Hostile payload generation for fuzz tests: values that are never valid for the field they
// replace (wrong types, query operators, prototype keys, oversized strings and arrays, deep
// nesting, unicode edge cases), substituted into each field of a valid template.

function deep(depth: number): unknown {
  let v: unknown = 'leaf';
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
}

/** Own-property `__proto__` / `constructor` keys, as JSON.parse makes them. */
const protoPollution = [
  JSON.parse('{"__proto__": {"polluted": true}}') as unknown,
  JSON.parse('{"constructor": {"prototype": {"polluted": true}}}') as unknown,
];

const operators: unknown[] = [
  { $ne: null },
  { $gt: '' },
  { $where: 'sleep(1000)' },
  { $regex: '.*' },
  { $in: ['a', 'b'] },
  { $expr: { $eq: [1, 1] } },
];

/** Invalid for a string field (ids, titles, texts, clientMsgIds). */
export const BAD_STRINGS: unknown[] = [
  null,
  0,
  -1,
  true,
  [],
  ['a'],
  {},
  ...operators,
  ...protoPollution,
  deep(200),
  'x'.repeat(20_000), // over every field's limit, under the 64 KB frame
  '',
];

/** Invalid for an id-like string field specifically (charset [A-Za-z0-9_-]). */
export const BAD_IDS: unknown[] = [
  ...BAD_STRINGS,
  'a b',
  '../../etc/passwd',
  "'; DROP TABLE messages; --",
  '\u0000',
  '\ud800', // lone surrogate
  '\u202eevil', // right-to-left override
  'zero\u200bwidth',
  '😀',
  'x'.repeat(65),
];

/** Invalid for a user id (1–128 chars, no control characters). */
export const BAD_USER_IDS: unknown[] = [...BAD_STRINGS, 'x'.repeat(129), 'bad\u0000id', 'line\nbreak'];

/** Invalid for a seq (non-negative safe integer). */
export const BAD_NUMBERS: unknown[] = [null, '1', -1, 1.5, Number.MAX_SAFE_INTEGER + 2, NaN, Infinity, true, [], {}, ...operators, ...protoPollution];

/** Invalid for a boolean. */
export const BAD_BOOLEANS: unknown[] = [null, 'true', 0, 1, [], {}, ...operators];

/** Whole payloads that are never valid objects for any event. */
export const BAD_PAYLOADS: unknown[] = [null, undefined, 0, 'string', [], [1, 2], true, deep(500), ...protoPollution, ...operators];

/** Replaces each field of `template` with each bad value of its kind; adds unknown keys. */
export function mutate(template: Record<string, unknown>, kinds: Record<string, unknown[]>): unknown[] {
  const out: unknown[] = [...BAD_PAYLOADS];
  for (const [field, bad] of Object.entries(kinds)) {
    for (const value of bad) out.push({ ...template, [field]: value });
    const { [field]: _omitted, ...rest } = template;
    out.push(rest); // required field missing (fields listed here are all required)
  }
  out.push({ ...template, extra: 1 });
  out.push(Object.assign(JSON.parse('{"__proto__": {"admin": true}}') as object, template));
  return out;
}
