// Storage benchmark of the PostgreSQL adapter, run against a database filled by the seed tool:
//
//   npm run seed -- --url postgres://root@127.0.0.1:5432/relaygate_bench
//   npm run bench:store -- --url postgres://root@127.0.0.1:5432/relaygate_bench
//
// It drives the store through its public entry point (server/store/index.ts: `createStore`, and
// the port's types), to measure the database path without the gateway in front of it. To EXPLAIN
// the exact SQL the adapter runs it records the statements the adapter sends through `pg`
// (`recordQueries`) rather than importing the adapter's internals.
import os from 'node:os';
import pg from 'pg';
import { z } from 'zod';
import { flag, helpText, numeric, OptionsError, readFlags, validate } from '../loadtest/flags.js';
import { summarizeMs } from '../loadtest/stats.js';
import { createStore } from '../server/store/index.js';
import type { NewMessage, Period } from '../server/store/store.js';

const count = (def: number, help: string, name: string) => flag(numeric(z.number().int().min(1)).default(def), { flag: name, arg: 'n', help });
const SHAPE = {
  url: flag(z.string().min(1, 'required'), { flag: 'url', arg: 'postgres url', help: 'a database filled by `npm run seed`' }),
  single: count(2_000, 'sequential single appends', 'single'),
  concurrent: count(5_000, 'appends for each concurrent run', 'concurrent'),
  inFlight: count(32, 'appends in flight in the concurrent runs', 'in-flight'),
  batches: count(50, 'appendMessages calls', 'batches'),
  batchSize: count(100, 'messages per appendMessages call', 'batch-size'),
  history: count(2_000, 'history pages read', 'history'),
  list: count(500, 'listConversations calls', 'list'),
  pool: count(32, 'connection pool size', 'pool'),
  user: flag(z.string().default('bench-user'), { flag: 'user', arg: 'id', help: 'the seeded heavy user' }),
  big: flag(z.string().default('seedbig'), { flag: 'big', arg: 'id', help: 'the seeded big conversation' }),
};

/** Runs `fn` and returns it result with every statement it sent through `pg` (text and values). */
async function recordQueries<T>(fn: () => Promise<T>): Promise<{ result: T; queries: [string, unknown[]][] }> {
  const queries: [string, unknown[]][] = [];
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = proto.query;
  proto.query = function (this: unknown, ...args: unknown[]) {
    const [q, values] = args as [string | { text: string; values?: unknown[] }, unknown[] | undefined];
    if (typeof q === 'string') queries.push([q, values ?? []]);
    else if (q && typeof q.text === 'string') queries.push([q.text, q.values ?? (Array.isArray(values) ? values : [])]);
    return original.apply(this, args);
  };
  try {
    return { result: await fn(), queries };
  } finally {
    proto.query = original;
  }
}

interface Row {
  name: string;
  ops: number;
  seconds: number;
  perOp?: string;
  latencies: number[];
}

const rows: Row[] = [];

/** Runs `total` operations with `inFlight` workers; records each latency in ms. */
async function measure(name: string, total: number, inFlight: number, op: (i: number) => Promise<unknown>, perOp?: string): Promise<Row> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(inFlight, total) }, async () => {
      while (next < total) {
        const i = next++;
        const t0 = performance.now();
        await op(i);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const row: Row = { name, ops: total, seconds: (performance.now() - started) / 1000, latencies, ...(perOp && { perOp }) };
  rows.push(row);
  console.error(`  ${name}: done`);
  return row;
}

function table(): string {
  const head = '| measurement | ops | ops/s | p50 ms | p99 ms | max ms |\n|---|---:|---:|---:|---:|---:|';
  const lines = rows.map((r) => {
    const rate = r.ops / r.seconds;
    const f = (ms: number) => ms.toFixed(2);
    const l = summarizeMs(r.latencies);
    return `| ${r.name} | ${r.ops.toLocaleString('en-US')}${r.perOp ?? ''} | ${Math.round(rate).toLocaleString('en-US')} | ${f(l.p50)} | ${f(l.p99)} | ${f(l.max)} |`;
  });
  return [head, ...lines].join('\n');
}

const randomInt = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo + 1));

async function main(): Promise<void> {
  const { help, raw } = readFlags(SHAPE, process.argv.slice(2));
  if (help) {
    console.log(`Usage: npm run bench:store -- --url <postgres url> [options]\n\n${helpText(SHAPE)}`);
    return;
  }
  const o = validate(z.object(SHAPE), raw);
  const user = o.user;
  const store = await createStore({ kind: 'postgres', url: o.url, poolSize: o.pool });
  const db = new pg.Client({ connectionString: o.url });
  await db.connect();
  try {
    await store.init();
    const startLoad = os.loadavg()[0]!;
    const big = await store.getConversation(o.big);
    if (!big || big.lastSeq < 1000) throw new Error(`conversation ${o.big} is missing or small: run the seed tool first`);
    const settings = await db.query<{ name: string; setting: string }>(
      "SELECT name, setting FROM pg_settings WHERE name IN ('server_version', 'synchronous_commit', 'shared_buffers', 'max_wal_size')",
    );
    console.log(`node ${process.version}, ${os.cpus().length} cpus, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB; postgres ${settings.rows.map((r) => `${r.name}=${r.setting}`).join(' ')}`);
    // Start from clean buffers: a checkpoint of earlier writes would otherwise land in the middle.
    await db.query('CHECKPOINT').catch(() => console.log('(CHECKPOINT not permitted; results may include one)'));
    console.log(`pool ${o.pool}; big conversation ${big.id} lastSeq ${big.lastSeq.toLocaleString('en-US')}\n`);

    // Appends go to conversations of their own users, so the seeded heavy user's list (measured
    // below) is the same however often the benchmark ran.
    const run = Date.now().toString(36);
    const writer = 'bench-writer';
    const newGroup = async (title: string) =>
      (await store.createConversation({ type: 'group', title, createdBy: writer, public: false, members: [{ userId: writer, role: 'owner' }, { userId: 'bench-peer', role: 'member' }] }))
        .conversation.id;
    const msg = (conversationId: string, key: string): NewMessage => ({
      conversationId,
      senderId: writer,
      clientMsgId: `${run}-${key}`,
      kind: 'text',
      text: `benchmark message ${key}: the quick brown fox jumps over the lazy dog`,
    });

    // Appends: warm up the pool and caches first, then measure.
    const solo = await newGroup('bench single');
    await measure('warm-up', 200, 8, (i) => store.appendMessage(msg(solo, `w${i}`)));
    rows.pop();
    await measure('append, sequential (1 in flight)', o.single, 1, (i) => store.appendMessage(msg(solo, `s${i}`)));
    const spread = await Promise.all(Array.from({ length: o.inFlight }, (_, i) => newGroup(`bench spread ${i}`)));
    await measure(`append, ${o.inFlight} in flight, ${spread.length} conversations`, o.concurrent, o.inFlight, (i) =>
      store.appendMessage(msg(spread[i % spread.length]!, `c${i}`)),
    );
    const hot = await newGroup('bench hot');
    await measure(`append, ${o.inFlight} in flight, 1 conversation`, o.concurrent, o.inFlight, (i) => store.appendMessage(msg(hot, `h${i}`)));
    const batched = await newGroup('bench batch');
    const size = o.batchSize;
    const batch = await measure(
      `appendMessages, ${size} per call, sequential`,
      o.batches,
      1,
      (i) => store.appendMessages(Array.from({ length: size }, (_, j) => msg(batched, `b${i}-${j}`))),
      ` × ${size}`,
    );
    console.error(`  batch throughput: ${Math.round((batch.ops * size) / batch.seconds).toLocaleString('en-US')} messages/s`);

    // History deep inside the big conversation, as the domain asks for it (limit + 1).
    const periods = await store.listPeriods(big.id, user);
    const randomBefore = () => randomInt(1_000, big.lastSeq);
    await measure('history page (50), random before, 1 period', o.history, 1, () =>
      store.pageMessages({ conversationId: big.id, periods, before: randomBefore(), limit: 51 }),
    );
    const gapped: Period[] = [
      { afterSeq: 0, untilSeq: Math.floor(big.lastSeq / 2) },
      { afterSeq: Math.floor(big.lastSeq / 2) + 10_000, untilSeq: null },
    ];
    await measure('history page (50), random before, 2 periods', o.history, 1, () =>
      store.pageMessages({ conversationId: big.id, periods: gapped, before: randomBefore(), limit: 51 }),
    );
    await measure(`history page (50), 8 in flight`, o.history, 8, () =>
      store.pageMessages({ conversationId: big.id, periods, before: randomBefore(), limit: 51 }),
    );

    const ids = await store.listConversationIds(user);
    await measure(`listConversations (20), user in ${ids.length.toLocaleString('en-US')}`, o.list, 1, () => store.listConversations(user, { limit: 20 }));
    let deepCursor: string | undefined;
    for (let i = 0; i < 10; i++) deepCursor = (await store.listConversations(user, { limit: 50, ...(deepCursor && { cursor: deepCursor }) })).nextCursor;
    await measure('listConversations (20), after 500 via cursor', o.list, 1, () => store.listConversations(user, { limit: 20, ...(deepCursor && { cursor: deepCursor }) }));

    console.log(table());
    console.log(`\nload average (1 min) at the start ${startLoad.toFixed(2)}, at the end ${os.loadavg()[0]!.toFixed(2)} on ${os.cpus().length} cpus`);
    console.log(`\nappendMessages: ${Math.round((batch.ops * size) / batch.seconds).toLocaleString('en-US')} messages/s in batches of ${size}`);

    // Time inside the server (EXPLAIN ANALYZE's execution time, per-node timing off): what the
    // query costs without the round trip and the client's share of the CPU. The statement is the
    // one the adapter sent for the call (the read itself, not its transaction bookkeeping).
    const sqlOf = async (call: () => Promise<unknown>): Promise<[string, unknown[]]> => {
      const { queries } = await recordQueries(call);
      const read = queries.find(([text]) => /^\s*(WITH|SELECT)\b/i.test(text));
      if (!read) throw new Error(`no SELECT among the statements the adapter sent: ${queries.map(([t]) => t.slice(0, 40)).join(' | ')}`);
      return read;
    };
    const historyCall = (before: number) => () => store.pageMessages({ conversationId: big.id, periods, before, limit: 51 });
    const listCall = () => store.listConversations(user, { limit: 20 });
    const serverSide = async (title: string, runs: number, call: () => () => Promise<unknown>) => {
      const times: number[] = [];
      for (let i = 0; i < runs; i++) {
        const [sql, params] = await sqlOf(call());
        const { rows: out } = await db.query<{ 'QUERY PLAN': [{ 'Execution Time': number }] }>(`EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) ${sql}`, params);
        times.push(out[0]!['QUERY PLAN'][0]['Execution Time']);
      }
      const t = summarizeMs(times);
      console.log(`| ${title} | ${runs} | ${t.p50.toFixed(3)} | ${t.p99.toFixed(3)} | ${t.max.toFixed(3)} |`);
    };
    console.log('\n| server-side execution time | runs | p50 ms | p99 ms | max ms |\n|---|---:|---:|---:|---:|');
    await serverSide('history page (50), random before', 500, () => historyCall(randomBefore()));
    await serverSide(`listConversations (20), user in ${ids.length.toLocaleString('en-US')}`, 200, () => listCall);

    const explain = async (title: string, [sql, params]: [string, unknown[]]) => {
      const { rows: plan } = await db.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) ${sql}`, params);
      console.log(`\n-- EXPLAIN (ANALYZE, BUFFERS): ${title}\n${plan.map((r) => r['QUERY PLAN']).join('\n')}`);
    };
    const before = randomBefore();
    await explain(`history page, before ${before}`, await sqlOf(historyCall(before)));
    await explain('listConversations, first page of 20', await sqlOf(listCall));
  } finally {
    await db.end();
    await store.close();
  }
}

main().catch((err: unknown) => {
  console.error(`store-bench: ${err instanceof Error ? err.message : String(err)}${err instanceof OptionsError ? '\nTry --help.' : ''}`);
  process.exitCode = err instanceof OptionsError ? 2 : 1;
});
