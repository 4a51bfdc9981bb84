// Storage benchmark of the PostgreSQL adapter, run against a database filled by the seed tool:
//
//   npm run seed -- --url postgres://root@127.0.0.1:5432/relaygate_bench
//   npx tsx loadtest/store-bench.ts --url postgres://root@127.0.0.1:5432/relaygate_bench
//
// Unlike the rest of loadtest/ (a black-box client that imports protocol/ only) this drives the
// store adapter directly, to measure the database path without the gateway in front of it; it
// also EXPLAINs the exact SQL the adapter runs (server/store/postgres/sql.ts).
import os from 'node:os';
import { parseArgs } from 'node:util';
import pg from 'pg';
import type { NewMessage, Period } from '../server/store/store.js';
import { PostgresStore } from '../server/store/postgres/postgres.store.js';
import { LIST_CONVERSATIONS, pageMessagesQuery } from '../server/store/postgres/sql.js';

const HELP = `Usage: npx tsx loadtest/store-bench.ts --url <postgres url> [options]

  --single <n>       sequential single appends (default 2000)
  --concurrent <n>   appends for each concurrent run (default 5000)
  --in-flight <n>    appends in flight in the concurrent runs (default 32)
  --batches <n>      appendMessages calls (default 50)
  --batch-size <n>   messages per appendMessages call (default 100)
  --history <n>      history pages read (default 2000)
  --list <n>         listConversations calls (default 500)
  --pool <n>         connection pool size (default 32)
  --user <id>        the seeded heavy user (default bench-user)
  --big <id>         the seeded big conversation (default seedbig)
`;

/** Nearest-rank percentile of an ascending array. */
function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
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
  const row: Row = { name, ops: total, seconds: (performance.now() - started) / 1000, latencies: latencies.sort((a, b) => a - b), ...(perOp && { perOp }) };
  rows.push(row);
  console.error(`  ${name}: done`);
  return row;
}

function table(): string {
  const head = '| measurement | ops | ops/s | p50 ms | p99 ms | max ms |\n|---|---:|---:|---:|---:|---:|';
  const lines = rows.map((r) => {
    const rate = r.ops / r.seconds;
    const f = (ms: number) => ms.toFixed(2);
    const l = r.latencies;
    return `| ${r.name} | ${r.ops.toLocaleString('en-US')}${r.perOp ?? ''} | ${Math.round(rate).toLocaleString('en-US')} | ${f(percentile(l, 50))} | ${f(percentile(l, 99))} | ${f(l.at(-1)!)} |`;
  });
  return [head, ...lines].join('\n');
}

const randomInt = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo + 1));

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      single: { type: 'string', default: '2000' },
      concurrent: { type: 'string', default: '5000' },
      'in-flight': { type: 'string', default: '32' },
      batches: { type: 'string', default: '50' },
      'batch-size': { type: 'string', default: '100' },
      history: { type: 'string', default: '2000' },
      list: { type: 'string', default: '500' },
      pool: { type: 'string', default: '32' },
      user: { type: 'string', default: 'bench-user' },
      big: { type: 'string', default: 'seedbig' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help || !values.url) {
    console.log(HELP);
    if (!values.help) process.exitCode = 1;
    return;
  }
  const n = (k: keyof typeof values) => Number(values[k]);
  const user = values.user;
  const store = new PostgresStore({ url: values.url, poolSize: n('pool') });
  const db = new pg.Client({ connectionString: values.url });
  await db.connect();
  try {
    await store.init();
    const startLoad = os.loadavg()[0]!;
    const big = await store.getConversation(values.big);
    if (!big || big.lastSeq < 1000) throw new Error(`conversation ${values.big} is missing or small: run the seed tool first`);
    const settings = await db.query<{ name: string; setting: string }>(
      "SELECT name, setting FROM pg_settings WHERE name IN ('server_version', 'synchronous_commit', 'shared_buffers', 'max_wal_size')",
    );
    console.log(`node ${process.version}, ${os.cpus().length} cpus, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB; postgres ${settings.rows.map((r) => `${r.name}=${r.setting}`).join(' ')}`);
    // Start from clean buffers: a checkpoint of earlier writes would otherwise land in the middle.
    await db.query('CHECKPOINT').catch(() => console.log('(CHECKPOINT not permitted; results may include one)'));
    console.log(`pool ${n('pool')}; big conversation ${big.id} lastSeq ${big.lastSeq.toLocaleString('en-US')}\n`);

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
    await measure('append, sequential (1 in flight)', n('single'), 1, (i) => store.appendMessage(msg(solo, `s${i}`)));
    const spread = await Promise.all(Array.from({ length: n('in-flight') }, (_, i) => newGroup(`bench spread ${i}`)));
    await measure(`append, ${n('in-flight')} in flight, ${spread.length} conversations`, n('concurrent'), n('in-flight'), (i) =>
      store.appendMessage(msg(spread[i % spread.length]!, `c${i}`)),
    );
    const hot = await newGroup('bench hot');
    await measure(`append, ${n('in-flight')} in flight, 1 conversation`, n('concurrent'), n('in-flight'), (i) => store.appendMessage(msg(hot, `h${i}`)));
    const batched = await newGroup('bench batch');
    const size = n('batch-size');
    const batch = await measure(
      `appendMessages, ${size} per call, sequential`,
      n('batches'),
      1,
      (i) => store.appendMessages(Array.from({ length: size }, (_, j) => msg(batched, `b${i}-${j}`))),
      ` × ${size}`,
    );
    console.error(`  batch throughput: ${Math.round((batch.ops * size) / batch.seconds).toLocaleString('en-US')} messages/s`);

    // History deep inside the big conversation, as the domain asks for it (limit + 1).
    const periods = await store.listPeriods(big.id, user);
    const randomBefore = () => randomInt(1_000, big.lastSeq);
    await measure('history page (50), random before, 1 period', n('history'), 1, () =>
      store.pageMessages({ conversationId: big.id, periods, before: randomBefore(), limit: 51 }),
    );
    const gapped: Period[] = [
      { afterSeq: 0, untilSeq: Math.floor(big.lastSeq / 2) },
      { afterSeq: Math.floor(big.lastSeq / 2) + 10_000, untilSeq: null },
    ];
    await measure('history page (50), random before, 2 periods', n('history'), 1, () =>
      store.pageMessages({ conversationId: big.id, periods: gapped, before: randomBefore(), limit: 51 }),
    );
    await measure(`history page (50), 8 in flight`, n('history'), 8, () =>
      store.pageMessages({ conversationId: big.id, periods, before: randomBefore(), limit: 51 }),
    );

    const ids = await store.listConversationIds(user);
    await measure(`listConversations (20), user in ${ids.length.toLocaleString('en-US')}`, n('list'), 1, () => store.listConversations(user, { limit: 20 }));
    let deepCursor: string | undefined;
    for (let i = 0; i < 10; i++) deepCursor = (await store.listConversations(user, { limit: 50, ...(deepCursor && { cursor: deepCursor }) })).nextCursor;
    await measure('listConversations (20), after 500 via cursor', n('list'), 1, () => store.listConversations(user, { limit: 20, ...(deepCursor && { cursor: deepCursor }) }));

    console.log(table());
    console.log(`\nload average (1 min) at the start ${startLoad.toFixed(2)}, at the end ${os.loadavg()[0]!.toFixed(2)} on ${os.cpus().length} cpus`);
    console.log(`\nappendMessages: ${Math.round((batch.ops * size) / batch.seconds).toLocaleString('en-US')} messages/s in batches of ${size}`);

    // Time inside the server (EXPLAIN ANALYZE's execution time, per-node timing off): what the
    // query costs without the round trip and the client's share of the CPU.
    const serverSide = async (title: string, runs: number, make: () => [string, unknown[]]) => {
      const times: number[] = [];
      for (let i = 0; i < runs; i++) {
        const [sql, params] = make();
        const { rows: out } = await db.query<{ 'QUERY PLAN': [{ 'Execution Time': number }] }>(`EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) ${sql}`, params);
        times.push(out[0]!['QUERY PLAN'][0]['Execution Time']);
      }
      times.sort((a, b) => a - b);
      console.log(`| ${title} | ${runs} | ${percentile(times, 50).toFixed(3)} | ${percentile(times, 99).toFixed(3)} | ${times.at(-1)!.toFixed(3)} |`);
    };
    console.log('\n| server-side execution time | runs | p50 ms | p99 ms | max ms |\n|---|---:|---:|---:|---:|');
    await serverSide('history page (50), random before', 500, () => {
      return pageMessagesQuery({ conversationId: big.id, periods, before: randomBefore(), limit: 51 })!;
    });
    await serverSide(`listConversations (20), user in ${ids.length.toLocaleString('en-US')}`, 200, () => [LIST_CONVERSATIONS, [user, null, null, 21]]);

    const explain = async (title: string, sql: string, params: unknown[]) => {
      const { rows: plan } = await db.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) ${sql}`, params);
      console.log(`\n-- EXPLAIN (ANALYZE, BUFFERS): ${title}\n${plan.map((r) => r['QUERY PLAN']).join('\n')}`);
    };
    const before = randomBefore();
    await explain(`history page, before ${before}`, ...pageMessagesQuery({ conversationId: big.id, periods, before, limit: 51 })!);
    await explain('listConversations, first page of 20', LIST_CONVERSATIONS, [user, null, null, 21]);
  } finally {
    await db.end();
    await store.close();
  }
}

main().catch((err: unknown) => {
  console.error(`store-bench: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
