// Index management. Rebuilding indexes is a deploy step, `MongoStore.migrate()`: it creates what
// is missing and rebuilds what differs from models.ts. Start-up (`init`) never rebuilds: it only
// creates indexes that do not exist at all (a fresh database, or a release that adds one) and
// leaves one whose key or options changed in place, reported by `indexDrift`, for `migrate` —
// so a rolling start neither crash-loops on IndexOptionsConflict nor rebuilds on every node.
// Indexes a release stopped declaring stay until `migrate --drop-retired` (indexes.ts RETIRED),
// run once no node of an older release is left that relies on them.
// On a replica set a build waits for a majority of members (`commitQuorum: 'majority'`), not for
// every voting member, so one member being down cannot hang a start.
import type { Connection } from 'mongoose';
import type { Models } from './models.js';

interface DeclaredIndex {
  collection: string;
  name: string;
  key: Record<string, unknown>;
  unique: boolean;
  partialFilterExpression?: unknown;
}

export interface IndexDrift {
  collection: string;
  name: string;
  problem: 'missing' | 'different' | 'retired';
}

/**
 * Indexes no release declares any more, dropped by `migrate --drop-retired`. `direct_pair`
 * (unique `conversations.directKey`) blocked sharding `conversations`; pairs are unique through
 * `direct_pairs` now (create.ts), and the index is dropped once every direct conversation has
 * its claim there.
 */
const RETIRED: { collection: string; name: string }[] = [{ collection: 'conversations', name: 'direct_pair' }];

const NAMESPACE_NOT_FOUND = 26;
const INDEX_NOT_FOUND = 27;

function declaredIndexes(models: Models): DeclaredIndex[] {
  return Object.values(models).flatMap((model) =>
    (model.schema.indexes() as [Record<string, unknown>, { name?: unknown; unique?: unknown; partialFilterExpression?: unknown }][]).map(([key, options]) => ({
      collection: model.collection.collectionName,
      name: String(options.name),
      key,
      unique: options.unique === true,
      ...(options.partialFilterExpression !== undefined && { partialFilterExpression: options.partialFilterExpression }),
    })),
  );
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** Declared indexes that do not exist, or exist under their name with another key or options. */
export async function indexDrift(conn: Connection, models: Models): Promise<IndexDrift[]> {
  const declared = declaredIndexes(models);
  const drift: IndexDrift[] = [];
  for (const collection of new Set([...declared.map((d) => d.collection), ...RETIRED.map((r) => r.collection)])) {
    const existing = await conn.db!.collection(collection).listIndexes().toArray().catch((err: { code?: number }) => {
      if (err.code === NAMESPACE_NOT_FOUND) return [];
      throw err;
    });
    const byName = new Map(existing.map((i) => [String(i.name), i]));
    for (const d of declared.filter((x) => x.collection === collection)) {
      const found = byName.get(d.name);
      if (!found) drift.push({ collection, name: d.name, problem: 'missing' });
      else if (!same(found.key, d.key) || (found.unique === true) !== d.unique || !same(found.partialFilterExpression, d.partialFilterExpression)) {
        drift.push({ collection, name: d.name, problem: 'different' });
      }
    }
    for (const r of RETIRED.filter((x) => x.collection === collection && byName.has(x.name))) drift.push({ ...r, problem: 'retired' });
  }
  return drift;
}

async function build(conn: Connection, models: Models, which: IndexDrift[]): Promise<void> {
  if (which.length === 0) return;
  const hello = await conn.db!.admin().command({ hello: 1 });
  const quorum = typeof hello.setName === 'string' ? { commitQuorum: 'majority' } : {};
  const wanted = new Set(which.map((w) => `${w.collection}.${w.name}`));
  const specs = declaredIndexes(models).filter((d) => wanted.has(`${d.collection}.${d.name}`));
  for (const collection of new Set(specs.map((s) => s.collection))) {
    const indexes = specs
      .filter((s) => s.collection === collection)
      .map((s) => ({ key: s.key, name: s.name, ...(s.unique && { unique: true }), ...(s.partialFilterExpression !== undefined && { partialFilterExpression: s.partialFilterExpression }) }));
    await conn.db!.command({ createIndexes: collection, indexes, ...quorum });
  }
}

/** Start-up: creates the missing indexes only; returns what still differs (for `migrate`). */
export async function createMissingIndexes(conn: Connection, models: Models): Promise<IndexDrift[]> {
  const drift = await indexDrift(conn, models);
  await build(conn, models, drift.filter((d) => d.problem === 'missing'));
  return drift.filter((d) => d.problem !== 'missing');
}

/** Deploy step: creates what is missing and rebuilds what differs (drop, then create). */
export async function migrateIndexes(conn: Connection, models: Models): Promise<void> {
  const drift = await indexDrift(conn, models);
  for (const d of drift.filter((x) => x.problem === 'different')) await conn.db!.collection(d.collection).dropIndex(d.name);
  await build(conn, models, drift.filter((x) => x.problem !== 'retired'));
}

/** Drops the retired indexes that still exist (after the caller did what each needs first). */
export async function dropRetiredIndexes(conn: Connection, models: Models): Promise<void> {
  for (const d of (await indexDrift(conn, models)).filter((x) => x.problem === 'retired')) {
    await conn.db!.collection(d.collection).dropIndex(d.name).catch((err: { code?: number }) => {
      if (err.code !== INDEX_NOT_FOUND) throw err; // a concurrent migrate dropped it
    });
  }
}
