// Fills a PostgreSQL database with a large history for the storage benchmark
// (bench/store-bench.ts), server-side with generate_series: nothing is sent row by row.
//
//   npm run seed -- --url postgres://root@127.0.0.1:5432/relaygate_bench \
//     --messages 1000000 --conversations 100000 --user-conversations 1000
//
// What it makes: one group "seedbig" with --messages messages; --conversations - 1 more
// conversations with --messages-per-conversation messages each and two members; the user
// --user is a member of "seedbig" and of --user-conversations - 1 of the others (half of them
// direct), with a few unread messages in most of them. The schema comes from the store's public
// entry point (`createStore(...).init()`); the rows are written with SQL against that schema.
import pg from 'pg';
import { z } from 'zod';
import { flag, helpText, numeric, OptionsError, readFlags, validate } from '../loadtest/flags.js';
import { createStore } from '../server/store/index.js';

const CHUNK = 250_000; // rows per INSERT of the big conversation, for progress output

const int = (min: number) => numeric(z.number().int().min(min));
const SHAPE = {
  url: flag(z.string().min(1).default('postgres://root@127.0.0.1:5432/relaygate_bench'), {
    flag: 'url',
    arg: 'url',
    help: 'database (created if missing)',
    env: 'DATABASE_URL',
    shownDefault: '$DATABASE_URL or postgres://root@127.0.0.1:5432/relaygate_bench',
  }),
  messages: flag(int(0).default(1_000_000), { flag: 'messages', arg: 'n', help: 'messages in the big conversation "seedbig"' }),
  conversations: flag(int(1).default(100_000), { flag: 'conversations', arg: 'n', help: 'conversations in all, "seedbig" included' }),
  userConversations: flag(int(1).default(1_000), { flag: 'user-conversations', arg: 'n', help: 'conversations --user belongs to, "seedbig" included' }),
  perConversation: flag(int(0).default(3), { flag: 'messages-per-conversation', arg: 'n', help: 'messages in each other conversation' }),
  users: flag(int(2).default(10_000), { flag: 'users', arg: 'n', help: 'distinct other users' }),
  user: flag(z.string().min(1).default('bench-user'), { flag: 'user', arg: 'id', help: "the heavy user's id" }),
  reset: flag(z.boolean().default(false), { flag: 'reset', help: 'empty the tables first (a non-empty database is refused otherwise)' }),
};
const OptionsSchema = z.object(SHAPE).refine((o) => o.userConversations <= o.conversations, {
  path: ['userConversations'],
  message: 'cannot exceed --conversations',
});
type Options = z.output<typeof OptionsSchema>;

async function step(label: string, fn: () => Promise<number | void>): Promise<void> {
  const started = performance.now();
  process.stdout.write(`${label.padEnd(44)} `);
  const rows = await fn();
  const s = (performance.now() - started) / 1000;
  console.log(`${s.toFixed(1).padStart(6)} s${typeof rows === 'number' ? `  ${rows.toLocaleString('en-US')} rows` : ''}`);
}

async function seed(o: Options): Promise<void> {
  const store = await createStore({ kind: 'postgres', url: o.url, poolSize: 1 });
  await store.init(); // creates the database and schema when missing
  await store.close();

  const db = new pg.Client({ connectionString: o.url });
  await db.connect();
  const run = async (sql: string, values: unknown[] = []) => (await db.query(sql, values)).rowCount ?? 0;
  try {
    await db.query("SET synchronous_commit = off; SET maintenance_work_mem = '256MB'; SET work_mem = '64MB'");
    const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM conversations');
    if (Number(rows[0]!.n) > 0) {
      if (!o.reset) throw new Error('the database already holds conversations; pass --reset to empty it first');
      await step('truncate', async () => void (await run('TRUNCATE messages, memberships, conversations, user_settings')));
    }
    const started = performance.now();
    const small = o.conversations - 1;
    const N = o.messages;
    const M = o.perConversation;

    // One row per small conversation: its id, its two members (a is the heavy user in the
    // first --user-conversations - 1), whether it is direct, and when it was created.
    await step('plan small conversations', () =>
      run(
        `CREATE TEMP TABLE seed_conv AS
         SELECT i,
                'seed' || lpad(i::text, 8, '0') AS id,
                CASE WHEN i < $2 THEN $1 ELSE 'user' || (i % $3) END AS a,
                CASE WHEN i < $2 THEN 'user' || i ELSE 'user' || ((i % $3 + 1 + i % ($3 - 1)) % $3) END AS b,
                i < $2 AND i % 2 = 0 AS direct,
                now() - interval '30 days' + i * (interval '25 days' / GREATEST($4::int, 1)) AS created_at
         FROM generate_series(1, $4::int) AS i`,
        [o.user, o.userConversations, o.users, small],
      ),
    );

    await step('conversations', async () => {
      let n = await run(
        `INSERT INTO conversations (id, type, title, created_by, created_at, public, last_seq, last_activity_at)
         VALUES ('seedbig', 'group', 'Big room', $1, now() - interval '3 days', true, $2::bigint,
                 now() - interval '2 days' + $2::bigint * interval '10 ms')`,
        [o.user, N],
      );
      n += await run(
        `INSERT INTO conversations (id, type, title, created_by, created_at, public, last_seq, last_activity_at, direct_key)
         SELECT id, CASE WHEN direct THEN 'direct' ELSE 'group' END, CASE WHEN direct THEN NULL ELSE 'Room ' || i END,
                a, created_at, false, $1::bigint, created_at + $1::bigint * interval '1 minute',
                CASE WHEN direct THEN '["' || least(a COLLATE "C", b) || '","' || greatest(a COLLATE "C", b) || '"]' END
         FROM seed_conv`,
        [M],
      );
      return n;
    });

    await step('memberships', async () => {
      // The heavy user has 500 unread in the big room and 0-2 in the others.
      let n = await run(
        `INSERT INTO memberships (conversation_id, user_id, role, joined_at, joined_seq, delivered_seq, read_seq)
         SELECT 'seedbig', CASE WHEN k = 0 THEN $1 ELSE 'user' || k END, CASE WHEN k = 0 THEN 'owner' ELSE 'member' END,
                now() - interval '3 days', 0, $2::bigint, CASE WHEN k = 0 THEN GREATEST($2::bigint - 500, 0) ELSE $2::bigint END
         FROM generate_series(0, LEAST(199, $3::int - 1)) AS k`,
        [o.user, N, o.users],
      );
      n += await run(
        `INSERT INTO memberships (conversation_id, user_id, role, joined_at, joined_seq, delivered_seq, read_seq)
         SELECT s.id, u.user_id, CASE WHEN u.first AND NOT s.direct THEN 'owner' ELSE 'member' END, s.created_at, 0, $1::bigint,
                CASE WHEN u.first THEN GREATEST($1::bigint - i % 3, 0) ELSE $1::bigint END
         FROM seed_conv s, LATERAL (VALUES (s.a, true), (s.b, false)) AS u(user_id, first)`,
        [M],
      );
      return n;
    });

    await step(`messages, ${small.toLocaleString('en-US')} small conversations`, () =>
      run(
        `INSERT INTO messages (conversation_id, seq, sender_id, client_msg_id, kind, text, created_at)
         SELECT s.id, k, CASE WHEN k % 2 = 1 THEN s.b ELSE s.a END, 'seed-' || k, 'text',
                'seed message ' || k || ' in ' || s.id, s.created_at + k * interval '1 minute'
         FROM seed_conv s, generate_series(1, $1::int) AS k`,
        [M],
      ),
    );

    for (let lo = 1; lo <= N; lo += CHUNK) {
      const hi = Math.min(N, lo + CHUNK - 1);
      await step(`messages, seedbig ${lo.toLocaleString('en-US')}..${hi.toLocaleString('en-US')}`, () =>
        run(
          `INSERT INTO messages (conversation_id, seq, sender_id, client_msg_id, kind, text, created_at)
           SELECT 'seedbig', g, CASE WHEN g % 10 = 0 THEN $3 ELSE 'user' || (1 + g % 19) END, 'seed-' || g, 'text',
                  'message ' || g || ': the quick brown fox jumps over the lazy dog',
                  now() - interval '2 days' + g * interval '10 ms'
           FROM generate_series($1::bigint, $2::bigint) AS g`,
          [lo, hi, o.user],
        ),
      );
    }

    await step('vacuum analyze', async () => {
      await db.query('VACUUM (ANALYZE) conversations, memberships, messages');
    });
    // Flush the load now, so a benchmark started next does not share the disk with it.
    await step('checkpoint', async () => {
      await db.query('CHECKPOINT').catch((err: Error) => console.log(`(skipped: ${err.message})`));
    });
    const size = await db.query<{ size: string }>('SELECT pg_size_pretty(pg_database_size(current_database())) AS size');
    console.log(
      `\nseeded ${o.conversations.toLocaleString('en-US')} conversations, ${(N + small * M).toLocaleString('en-US')} messages ` +
        `(seedbig: ${N.toLocaleString('en-US')}); ${o.user} is in ${o.userConversations.toLocaleString('en-US')} conversations; ` +
        `database ${size.rows[0]!.size}; ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
  } finally {
    await db.end();
  }
}

try {
  const { help, raw } = readFlags(SHAPE, process.argv.slice(2));
  if (help) console.log(`Usage: npm run seed -- [options]\n\n${helpText(SHAPE)}`);
  else await seed(validate(OptionsSchema, raw));
} catch (err) {
  console.error(`seed: ${err instanceof Error ? err.message : String(err)}${err instanceof OptionsError ? '\nTry --help.' : ''}`);
  process.exitCode = err instanceof OptionsError ? 2 : 1;
}
