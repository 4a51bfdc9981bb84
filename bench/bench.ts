// The gateway against its transport ceiling and against what a team would write instead, in ONE
// run: for each run and each variant it starts a fresh cluster of server processes (own
// PostgreSQL database, own Redis prefix), drives the same load at it, stops and cleans it up;
// variants are interleaved so drifting background load hits them alike. The default variants are
// the pipeline (the gateway as shipped), the relay (RELAY_MODE=1: same Socket.IO stack, no store,
// no queue) and the hand-rolled peer (bench/peer.ts). Prints medians of the runs and ratios to the
// relay and to the peer; writes bench.json and bench.md. `--scenario idle` holds sockets on one
// node instead.
//
//   npm run bench                                       # steady, pipeline vs relay vs peer, 3 runs
//   npm run bench -- --scenario ramp                    # sustainable rates and their ratios
//   npm run bench -- --variants "pipeline;wc8:WORKER_CONCURRENCY=8;relay:RELAY_MODE=1"
//   npm run bench -- --scenario idle --users 19500 --generators 2
import { randomBytes } from 'node:crypto';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { flag, helpText, numeric, OptionsError, readFlags, seconds, validate } from '../loadtest/flags.js';
import { LOAD_SHAPE, resolveOptions, type LoadOptionsInput } from '../loadtest/options.js';
import type { LoadReport } from '../loadtest/report.js';
import { runLoad } from '../loadtest/run.js';
import { writeReport } from '../loadtest/write-report.js';
import { startGatewayCluster, type GatewayCluster } from './gateways.js';
import { runIdle } from './idle.js';
import { medians, metricsOf, renderMarkdown, type RunMetrics } from './results.js';
import { DEFAULT_VARIANTS, isPeer, isRelay, parseVariants } from './variants.js';

const count = numeric(z.number().int().min(1));
const BENCH_SHAPE = {
  variants: flag(z.string().default(DEFAULT_VARIANTS), {
    flag: 'variants',
    arg: 'spec',
    help: '"name[:KEY=VAL ...];...": server environment; ENTRY=<script> another server program; NODE_ARGS=<flag,...> node flags (--cpu-prof); LT_TRANSPORTS=<list> the clients; LT_MIX=<spec> the load\'s --mix',
    group: 'Benchmark',
  }),
  runs: flag(count.default(3), { flag: 'runs', arg: 'n', help: 'runs per variant, interleaved' }),
  nodes: flag(count.default(2), { flag: 'nodes', arg: 'n', help: 'server nodes per cluster, ROLE=all (idle: always 1)' }),
  built: flag(z.boolean().default(false), { flag: 'built', help: 'run dist/server/main.js (npm run build first) instead of tsx' }),
  out: flag(z.string().optional(), { flag: 'out', arg: 'dir', help: 'results directory', shownDefault: 'bench/reports/bench-<time>-<scenario>' }),
  deadline: flag(seconds(1).default(90 * 60), { flag: 'deadline', arg: 't', help: 'hard stop of the whole benchmark', unit: 's' }),
  generators: flag(count.default(2), { flag: 'generators', arg: 'n', help: 'idle: client processes opening the sockets' }),
  serverCpus: flag(z.string().regex(/^[0-9,-]+$/).optional(), { flag: 'server-cpus', arg: 'list', help: 'pin every server process to these CPUs (taskset -c list, e.g. 0)' }),
  keepAwake: flag(z.boolean().default(false), {
    flag: 'keep-awake',
    help: 'with --server-cpus: a nice-19 busy loop on those CPUs, so an idle virtual CPU is never parked by the hypervisor (see BENCHMARKS.md: wake-up stalls)',
  }),
  staleStats: flag(z.boolean().default(false), {
    flag: 'stale-stats',
    help: "skip the ANALYZE of each variant's fresh database once its population exists (what autovacuum does in production; off on this machine's PostgreSQL)",
  }),
  generatorCpus: flag(z.string().regex(/^[0-9,-]+$/).optional(), { flag: 'generator-cpus', arg: 'list', help: 'pin this process (the load generator) to these CPUs (e.g. 1)' }),
};
// The cluster supplies the URLs and the secret, the benchmark the run ids and the deadline.
const { urls: _u, jwtSecret: _j, runId: _r, hardDeadlineSeconds: _d, ...LOAD_FLAGS } = LOAD_SHAPE;
const CLI_SHAPE = { ...BENCH_SHAPE, ...LOAD_FLAGS };
/** Defaults of the benchmark that differ from the load generator's. */
const LOAD_DEFAULTS = { duration: 20, drainMs: 15_000 };

const HELP = `Usage: npm run bench -- [options]

${helpText(CLI_SHAPE, { duration: '20s', drainMs: '15s', users: '200; idle: 19500' })}
`;

async function main(): Promise<number> {
  const { help, raw } = readFlags(CLI_SHAPE, process.argv.slice(2));
  if (help) {
    process.stdout.write(HELP);
    return 0;
  }
  const ownRaw = Object.fromEntries(Object.keys(BENCH_SHAPE).map((k) => [k, raw[k]]));
  const own = validate(z.object(BENCH_SHAPE), ownRaw);
  const load = { ...LOAD_DEFAULTS, ...Object.fromEntries(Object.entries(raw).filter(([k]) => !(k in BENCH_SHAPE))) } as Omit<LoadOptionsInput, 'urls' | 'jwtSecret'>;
  // Bad load options fail here, before any server starts.
  const checked = resolveOptions({ ...load, urls: ['http://127.0.0.1:1'], jwtSecret: 'check' });
  const scenario = checked.scenario;
  const variants = parseVariants(own.variants);
  for (const v of variants) if (v.mix) resolveOptions({ ...load, mix: v.mix, urls: ['http://127.0.0.1:1'], jwtSecret: 'check' });
  const benchId = `b${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  const outDir = own.out ?? join('bench', 'reports', `bench-${new Date().toISOString().replace(/[:.]/g, '-')}-${scenario}`);
  mkdirSync(outDir, { recursive: true });
  const jwtSecret = randomBytes(24).toString('hex');
  const deadlineS = own.deadline;
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
    // One idle run per variant, one after the other: `--variants "before:ENTRY=...;after"`.
    const results = [];
    for (const variant of raw.variants === undefined ? [undefined] : variants) {
      if (abort.signal.aborted) break;
      results.push(
        await runIdle({
          benchId,
          jwtSecret,
          users: raw.users === undefined ? 19_500 : checked.users,
          generators: own.generators,
          duration: checked.duration,
          built: own.built,
          ...(variant ? { variant } : {}),
          outDir,
          clusters,
          signal: abort.signal,
          log,
        }),
      );
    }
    writeFileSync(join(outDir, 'bench.json'), `${JSON.stringify({ machine, results }, null, 2)}\n`);
    const [first, ...rest] = results.map((r) => r.markdown.split('\n'));
    process.stdout.write(`${[...(first ?? []), ...rest.flatMap((lines) => lines.slice(2))].join('\n')}\n`);
    return 0;
  }

  const { runs, nodes } = own;
  // Server and generator on separate cores: the generator's CPU is then not taken from the server.
  if (own.generatorCpus) execFileSync('taskset', ['-a', '-cp', own.generatorCpus, String(process.pid)], { stdio: 'ignore' });
  // The lowest-priority spinner takes ~1 % of the core from the servers (CFS weight 15 vs 1024)
  // but keeps the vCPU running, so a wake-up never waits for the hypervisor to schedule it.
  if (own.keepAwake) {
    if (!own.serverCpus) throw new OptionsError('--keep-awake needs --server-cpus');
    const spinner = spawn('taskset', ['-c', own.serverCpus, 'nice', '-n', '19', 'sh', '-c', 'while :; do :; done'], { stdio: 'ignore' });
    process.on('exit', () => spinner.kill('SIGKILL'));
  }

  const results = new Map<string, RunMetrics[]>(variants.map((v) => [v.name, []]));
  for (let run = 1; run <= runs && !abort.signal.aborted; run++) {
    for (const v of variants) {
      if (abort.signal.aborted) break;
      log(`\n=== run ${run}/${runs}: ${v.name} ${v.entry ?? ''} ${JSON.stringify(v.env)}${v.transports ? ` transports=${v.transports.join(',')}` : ''}`);
      const cluster = await startGatewayCluster({
        name: `${benchId}_${v.name}_${run}`,
        nodes,
        env: v.env,
        ...(v.entry ? { entry: v.entry } : {}),
        ...(v.nodeArgs ? { nodeArgs: v.nodeArgs } : {}),
        jwtSecret,
        built: own.built,
        ...(own.serverCpus ? { cpus: own.serverCpus } : {}),
      });
      clusters.add(cluster);
      let report: LoadReport;
      let dbCpu0 = new Map<number, number>();
      let dbCpuSeconds = 0;
      try {
        report = await runLoad(
          { ...load, ...(v.transports ? { transports: v.transports } : {}), ...(v.mix ? { mix: v.mix } : {}), urls: cluster.urls, jwtSecret, runId: `${benchId}${v.name.slice(0, 6)}${run}` },
          {
            signal: abort.signal,
            onLoadStart: async () => {
              // A fresh database's tables have no planner statistics until autovacuum analyzes
              // them; without them PostgreSQL plans lookups of the grown tables as scans.
              if (!own.staleStats) await cluster.analyze();
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
          `${m.changesPerSec ? `, changes ${m.changesPerSec}/s, CPU/operation gateway ${m.gatewayCpuMsPerOp} ms + postgres ${m.dbCpuMsPerOp} ms` : ''}` +
          `${m.sustainableRate !== undefined ? `, sustainable ${m.sustainableRate}/s` : ''}`,
      );
    }
  }

  const summary = variants.map((v) => ({ variant: v, runs: results.get(v.name)!, median: medians(results.get(v.name)!) }));
  const relay = summary.find((s) => isRelay(s.variant));
  const peer = summary.find((s) => isPeer(s.variant));
  const markdown = renderMarkdown(summary, relay, peer, { scenario, runs, nodes, machine, load });
  writeFileSync(join(outDir, 'bench.json'), `${JSON.stringify({ machine, scenario, runs, nodes, load, summary }, null, 2)}\n`);
  writeFileSync(join(outDir, 'bench.md'), `${markdown}\n`);
  process.stdout.write(`${markdown}\n`);
  log(`results: ${outDir}`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof OptionsError) process.stderr.write(`error: ${err.message}\nTry --help.\n`);
    else process.stderr.write(`benchmark failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(2);
  },
);
