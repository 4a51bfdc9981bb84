// REST read latency under concurrent load: history pages deep inside a large conversation and
// the conversation list of a user in many conversations, against running gateway nodes on a
// database filled by `npm run seed`. Uses the public REST API only (PROTOCOL.md §6).
//
//   npx tsx loadtest/rest-bench.ts --url http://127.0.0.1:3100,http://127.0.0.1:3101 \
//     --jwt-secret bench --concurrency 16 --duration 20
import { parseArgs } from 'node:util';
import hdr from 'hdr-histogram-js';
import jwt from 'jsonwebtoken';
import type { HistoryResponse, ListConversationsResponse } from '../protocol/index.js';

const HELP = `npx tsx loadtest/rest-bench.ts [options]
  --url <a,b>           gateway base URLs, requests are spread over them (default http://127.0.0.1:3000)
  --jwt-secret <s>      HS256 secret of the gateways (default $JWT_SECRET)
  --user <id>           the seeded heavy user (default bench-user)
  --conversation <id>   the seeded large conversation (default seedbig)
  --messages <n>        its number of messages (default 1000000)
  --concurrency <n>     requests in flight (default 16)
  --duration <s>        seconds per scenario (default 20)
  --scenario <name>     history | list | mixed | all (default all)
  --json                print the results as JSON`;

const { values: o } = parseArgs({
  options: {
    url: { type: 'string', default: 'http://127.0.0.1:3000' },
    'jwt-secret': { type: 'string', default: process.env.JWT_SECRET ?? '' },
    user: { type: 'string', default: 'bench-user' },
    conversation: { type: 'string', default: 'seedbig' },
    messages: { type: 'string', default: '1000000' },
    concurrency: { type: 'string', default: '16' },
    duration: { type: 'string', default: '20' },
    scenario: { type: 'string', default: 'all' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (o.help || !o['jwt-secret']) {
  console.log(HELP);
  process.exit(o.help ? 0 : 2);
}

const urls = o.url.split(',').map((u) => u.replace(/\/$/, ''));
const token = jwt.sign({ sub: o.user }, o['jwt-secret'], { algorithm: 'HS256', expiresIn: 3600 });
const headers = { Authorization: `Bearer ${token}` };
const messages = Number(o.messages);
const concurrency = Number(o.concurrency);
const durationMs = Number(o.duration) * 1000;

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
  const histogram = hdr.build({ useWebAssembly: false, lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
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
        const us = Math.round((performance.now() - t0) * 1000);
        if (res.status !== 200 || !req.check(body)) errors[String(res.status)] = (errors[String(res.status)] ?? 0) + 1;
        else histogram.recordValue(Math.max(1, us));
      } catch (err) {
        const key = err instanceof Error ? err.message : 'error';
        errors[key] = (errors[key] ?? 0) + 1;
      }
      requests++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  const at = (p: number) => Math.round(histogram.getValueAtPercentile(p) / 10) / 100;
  return {
    scenario,
    requests,
    errors,
    perSecond: Math.round(requests / seconds),
    ms: { p50: at(50), p90: at(90), p99: at(99), p999: at(99.9), max: Math.round(histogram.maxValue / 10) / 100 },
  };
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
