// Pipeline vs relay (or any server variants) in ONE run: for each run and each variant it
// starts a fresh gateway cluster as child processes (own PostgreSQL database, own Redis
// prefix), drives the same load at it, stops and cleans it up; variants are interleaved so
// drifting background load hits them alike. Prints medians of the runs and ratios to the relay
// ceiling; writes bench.json and bench.md. `--scenario idle` holds sockets on one node instead.
//
//   npx tsx loadtest/bench.ts                                 # steady, pipeline vs relay, 3 runs
//   npx tsx loadtest/bench.ts --scenario ramp                 # sustainable rates and their ratio
//   npx tsx loadtest/bench.ts --variants "pipeline;wc8:WORKER_CONCURRENCY=8;relay:RELAY_MODE=1"
//   npx tsx loadtest/bench.ts --scenario idle --users 19500 --generators 2
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runIdle } from './bench-idle.js';
import { medians, metricsOf, renderMarkdown, type RunMetrics } from './bench-results.js';
import { parseVariants } from './bench-variants.js';
import { startGatewayCluster, type GatewayCluster } from './gateways.js';
import { parseMix, parseSeconds, type LoadOptionsInput, type Scenario } from './options.js';
import { writeReport, type LoadReport } from './report.js';
import { runLoad } from './run.js';

const HELP = `Usage: npx tsx loadtest/bench.ts [options]

  --scenario <s>       steady (default) | ramp | idle
  --variants <spec>    "name[:KEY=VAL ...];..." (default "pipeline;relay:RELAY_MODE=1");
                       LT_TRANSPORTS=polling,websocket changes the clients instead of the server
  --runs <n>           runs per variant, interleaved (default 3)
  --nodes <n>          gateway nodes per cluster, ROLE=all (default 2; idle: 1)
  --built              run dist/server/main.js (npm run build first) instead of tsx
  --out <dir>          results directory (default loadtest/reports/bench-<time>)
  --deadline <t>       hard stop of the whole benchmark (default 90m)
  --quiet              no progress lines
Load (as for the CLI): --users --rate --duration --group-size --channel-size --channel-posters
  --mix --pattern --transports --message-chars --receipt-sample
  --ramp-start --ramp-factor --ramp-max --step-duration --p99-limit --ramp-warmup --ramp-retries
Idle: --users (sockets, default 19500) --generators <n> (client processes, default 2)
`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      scenario: { type: 'string' },
      variants: { type: 'string' },
      runs: { type: 'string' },
      nodes: { type: 'string' },
      built: { type: 'boolean' },
      out: { type: 'string' },
      deadline: { type: 'string' },
      quiet: { type: 'boolean' },
      users: { type: 'string' },
      rate: { type: 'string' },
      duration: { type: 'string' },
      'group-size': { type: 'string' },
      'channel-size': { type: 'string' },
      'channel-posters': { type: 'string' },
      mix: { type: 'string' },
      pattern: { type: 'string' },
      transports: { type: 'string' },
      'message-chars': { type: 'string' },
      'receipt-sample': { type: 'string' },
      'ramp-start': { type: 'string' },
      'ramp-factor': { type: 'string' },
      'ramp-max': { type: 'string' },
      'step-duration': { type: 'string' },
      'p99-limit': { type: 'string' },
      'ramp-warmup': { type: 'string' },
      'ramp-retries': { type: 'string' },
      generators: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const n = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  const scenario = (values.scenario ?? 'steady') as Scenario;
  const benchId = `b${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  const outDir = values.out ?? join('loadtest', 'reports', `bench-${new Date().toISOString().replace(/[:.]/g, '-')}-${scenario}`);
  mkdirSync(outDir, { recursive: true });
  const jwtSecret = randomBytes(24).toString('hex');
  const deadlineS = values.deadline ? parseSeconds(values.deadline, '--deadline') : 90 * 60;
  const abort = new AbortController();
  const clusters = new Set<GatewayCluster>();
  const stopAll = () => Promise.all([...clusters].map((c) => c.stop(5_000)));
  let interrupts = 0;
  const onSignal = () => {
    if (++interrupts > 1) process.exit(130);
    process.stderr.write('\nstopping: cleaning up gateway processes...\n');
    abort.abort();
    void stopAll().then(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const deadline = setTimeout(() => {
    process.stderr.write(`\nbenchmark deadline of ${deadlineS} s reached\n`);
    onSignal();
  }, deadlineS * 1000);
  deadline.unref();

  const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${os.platform()} ${os.release()}, node ${process.version}`;
  const log = (s: string) => process.stderr.write(`${s}\n`);

  if (scenario === 'idle') {
    const result = await runIdle({
      benchId,
      jwtSecret,
      users: n(values.users) ?? 19_500,
      generators: n(values.generators) ?? 2,
      duration: values.duration ? parseSeconds(values.duration, '--duration') : 20,
      built: Boolean(values.built),
      outDir,
      clusters,
      signal: abort.signal,
      log,
    });
    writeFileSync(join(outDir, 'bench.json'), `${JSON.stringify({ machine, ...result }, null, 2)}\n`);
    process.stdout.write(`${result.markdown}\n`);
    return 0;
  }

  const variants = parseVariants(values.variants ?? 'pipeline;relay:RELAY_MODE=1');
  const runs = n(values.runs) ?? 3;
  const nodes = n(values.nodes) ?? 2;
  const load: Omit<LoadOptionsInput, 'urls' | 'jwtSecret'> = {
    scenario,
    users: n(values.users),
    rate: n(values.rate),
    duration: values.duration ? parseSeconds(values.duration, '--duration') : 20,
    groupSize: n(values['group-size']),
    channelSize: n(values['channel-size']),
    channelPosters: n(values['channel-posters']),
    ...(values.mix ? { mix: parseMix(values.mix) } : {}),
    pattern: values.pattern as LoadOptionsInput['pattern'],
    transports: values.transports?.split(',') as LoadOptionsInput['transports'],
    messageChars: n(values['message-chars']),
    receiptSample: n(values['receipt-sample']),
    drainMs: 15_000,
    progress: !values.quiet,
    ramp: {
      start: n(values['ramp-start']),
      factor: n(values['ramp-factor']),
      max: n(values['ramp-max']),
      stepSeconds: values['step-duration'] ? parseSeconds(values['step-duration'], '--step-duration') : undefined,
      p99LimitMs: n(values['p99-limit']),
      warmupSeconds: values['ramp-warmup'] ? parseSeconds(values['ramp-warmup'], '--ramp-warmup') : undefined,
      retries: n(values['ramp-retries']),
    },
  };

  const results = new Map<string, RunMetrics[]>(variants.map((v) => [v.name, []]));
  for (let run = 1; run <= runs && !abort.signal.aborted; run++) {
    for (const v of variants) {
      if (abort.signal.aborted) break;
      log(`\n=== run ${run}/${runs}: ${v.name} ${JSON.stringify(v.env)}${v.transports ? ` transports=${v.transports.join(',')}` : ''}`);
      const cluster = await startGatewayCluster({ name: `${benchId}_${v.name}_${run}`, nodes, env: v.env, jwtSecret, built: Boolean(values.built) });
      clusters.add(cluster);
      let report: LoadReport;
      let dbCpu0 = new Map<number, number>();
      let dbCpuSeconds = 0;
      try {
        report = await runLoad(
          { ...load, ...(v.transports ? { transports: v.transports } : {}), urls: cluster.urls, jwtSecret, runId: `${benchId}${v.name.slice(0, 6)}${run}` },
          {
            signal: abort.signal,
            onLoadStart: async () => {
              dbCpu0 = await cluster.databaseCpu().catch(() => new Map());
            },
            onLoadEnd: async () => {
              const now = await cluster.databaseCpu().catch(() => new Map<number, number>());
              for (const [pid, s] of now) dbCpuSeconds += s - (dbCpu0.get(pid) ?? 0);
            },
          },
        );
      } finally {
        // A node that died during the run makes its numbers meaningless: say so, with its output.
        for (const p of cluster.processes) {
          if (p.proc.exitCode !== null || p.proc.signalCode !== null)
            log(`!! ${p.role} node ${p.url ?? ''} exited during the run (code ${p.proc.exitCode}, signal ${p.proc.signalCode}):\n${p.output().slice(-3_000)}`);
        }
        await cluster.stop();
        clusters.delete(cluster);
      }
      writeReport(report, join(outDir, `${v.name}-${run}`));
      const m = metricsOf(report, dbCpuSeconds);
      results.get(v.name)!.push(m);
      log(
        `${v.name} run ${run}: accepted ${m.acceptedPerSec}/s, deliveries ${m.deliveriesPerSec}/s, ack p99 ${m.ackP99} ms, ` +
          `deliver p50 ${m.deliverP50} p99 ${m.deliverP99} ms, loss ${m.lossRatio}, stored dups ${m.storedDuplicates}, errors ${m.errors}, ` +
          `CPU/send gateway ${m.gatewayCpuMsPerSend} ms + postgres ${m.dbCpuMsPerSend} ms` +
          `${m.sustainableRate !== undefined ? `, sustainable ${m.sustainableRate}/s` : ''}`,
      );
    }
  }

  const summary = variants.map((v) => ({ variant: v, runs: results.get(v.name)!, median: medians(results.get(v.name)!) }));
  const relay = summary.find((s) => s.variant.env.RELAY_MODE === '1' || s.variant.env.RELAY_MODE === 'true');
  const markdown = renderMarkdown(summary, relay, { scenario, runs, nodes, machine, load });
  writeFileSync(join(outDir, 'bench.json'), `${JSON.stringify({ machine, scenario, runs, nodes, load, summary }, null, 2)}\n`);
  writeFileSync(join(outDir, 'bench.md'), `${markdown}\n`);
  process.stdout.write(`${markdown}\n`);
  log(`results: ${outDir}`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`benchmark failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(2);
  },
);
