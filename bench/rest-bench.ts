// REST read latency under concurrent load: history pages deep inside a large conversation and
// the conversation list of a user in many conversations, against running gateway nodes on a
// database filled by `npm run seed`. Uses the public REST API only (PROTOCOL.md §6).
//
//   npm run bench:rest -- --url http://127.0.0.1:3100,http://127.0.0.1:3101 \
//     --jwt-secret bench --concurrency 16 --duration 20
import jwt from 'jsonwebtoken';
import { z } from 'zod';
import type { HistoryResponse, ListConversationsResponse } from '../protocol/index.js';
import { cliOptions, flag, list as commaList, numeric, seconds } from '../loadtest/flags.js';
import { summarizeMs } from '../loadtest/stats.js';

const SHAPE = {
  urls: flag(commaList(z.array(z.url()).min(1)).default(['http://127.0.0.1:3000']), { flag: 'url', arg: 'a,b', help: 'gateway base URLs, requests are spread over them' }),
  jwtSecret: flag(z.string().min(1, 'required (or JWT_SECRET)'), { flag: 'jwt-secret', arg: 's', help: 'HS256 secret of the gateways', env: 'JWT_SECRET', shownDefault: '$JWT_SECRET' }),
  user: flag(z.string().default('bench-user'), { flag: 'user', arg: 'id', help: 'the seeded heavy user' }),
  conversation: flag(z.string().default('seedbig'), { flag: 'conversation', arg: 'id', help: 'the seeded large conversation' }),
  messages: flag(numeric(z.number().int().min(1)).default(1_000_000), { flag: 'messages', arg: 'n', help: 'its number of messages' }),
  concurrency: flag(numeric(z.number().int().min(1)).default(16), { flag: 'concurrency', arg: 'n', help: 'requests in flight' }),
  duration: flag(seconds(0.001).default(20), { flag: 'duration', arg: 't', help: 'time per scenario', unit: 's' }),
  scenario: flag(z.enum(['history', 'list', 'mixed', 'all']).default('all'), { flag: 'scenario', arg: 'name', help: 'history | list | mixed | all' }),
  json: flag(z.boolean().default(false), { flag: 'json', help: 'print the results as JSON' }),
};

const o = cliOptions(SHAPE, 'Usage: npm run bench:rest -- [options]');

const urls = o.urls.map((u) => u.replace(/\/$/, ''));
const token = jwt.sign({ sub: o.user }, o.jwtSecret, { algorithm: 'HS256', expiresIn: 3600 });
const headers = { Authorization: `Bearer ${token}` };
const { messages, concurrency } = o;
const durationMs = o.duration * 1000;

type Request = () => { path: string; check: (body: unknown) => boolean };
const history: Request = () => ({
  path: `/v1/conversations/${o.conversation}/messages?before=${1 + Math.floor(Math.random() * messages)}&limit=50`,
  check: (b) => (b as HistoryResponse).messages.length > 0,
});
const list: Request = () => ({ path: '/v1/conversations?limit=20', check: (b) => (b as ListConversationsResponse).conversations.length === 20 });

interface Result {
  scenario: string;
  requests: number;
  errors: Record<string, number>;
  perSecond: number;
  ms: { p50: number; p90: number; p99: number; p999: number; max: number };
}

async function run(scenario: string, pick: () => Request, forMs = durationMs): Promise<Result> {
  const latencies: number[] = [];
  const errors: Record<string, number> = {};
  let requests = 0;
  let n = 0;
  const started = performance.now();
  const worker = async () => {
    while (performance.now() - started < forMs) {
      const req = pick()();
      const url = `${urls[n++ % urls.length]}${req.path}`;
      const t0 = performance.now();
      try {
        const res = await fetch(url, { headers });
        const body: unknown = await res.json();
        const ms = performance.now() - t0;
        if (res.status !== 200 || !req.check(body)) errors[String(res.status)] = (errors[String(res.status)] ?? 0) + 1;
        else latencies.push(ms);
      } catch (err) {
        const key = err instanceof Error ? err.message : 'error';
        errors[key] = (errors[key] ?? 0) + 1;
      }
      requests++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - started) / 1000;
  const { p50, p90, p99, p999, max } = summarizeMs(latencies);
  return { scenario, requests, errors, perSecond: Math.round(requests / elapsed), ms: { p50, p90, p99, p999, max } };
}

const scenarios: Record<string, () => Request> = {
  history: () => history,
  list: () => list,
  // Nine history pages per list call, as a client scrolling back in one conversation does.
  mixed: () => (Math.random() < 0.1 ? list : history),
};
const chosen = o.scenario === 'all' ? Object.keys(scenarios) : [o.scenario];
const results: Result[] = [];
for (const name of chosen) {
  const make = scenarios[name];
  if (!make) throw new Error(`unknown scenario ${name}`);
  // A short warm-up so connection set-up and JIT are not in the numbers.
  await run(`${name} (warm-up)`, make, 3_000).catch(() => undefined);
  results.push(await run(name, make));
}
if (o.json) console.log(JSON.stringify({ urls, concurrency, durationMs, results }, null, 2));
else {
  console.log(`REST read latency, ${concurrency} in flight, ${o.duration} s each, over ${urls.length} node(s)`);
  console.log('| scenario | requests | req/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | errors |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const r of results)
    console.log(`| ${r.scenario} | ${r.requests} | ${r.perSecond} | ${r.ms.p50} | ${r.ms.p90} | ${r.ms.p99} | ${r.ms.p999} | ${r.ms.max} | ${JSON.stringify(r.errors)} |`);
}
