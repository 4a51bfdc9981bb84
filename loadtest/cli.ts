// `npm run loadtest -- [options]`: runs one load scenario against running gateways, prints the
// summary, writes report.json / summary.txt / chart.html. Exit 0 when loss and stored
// duplicates are zero, 1 when not, 2 for bad options or a run that could not start.
import { join } from 'node:path';
import { z } from 'zod';
import { flag, helpText, OptionsError, readFlags, validate } from './flags.js';
import { LOAD_SHAPE, resolveOptions, type LoadOptionsInput } from './options.js';
import { runLoad } from './run.js';
import { runStorm } from './storm.js';
import { formatSummary } from './summary.js';
import { writeReport } from './write-report.js';

/** Flags of the CLI beyond the run's options. */
const OUTPUT_SHAPE = {
  out: flag(z.string().optional(), { flag: 'out', arg: 'dir', help: 'report directory', group: 'Output', shownDefault: 'loadtest/reports/<time>-<scenario>' }),
  json: flag(z.boolean().default(false), { flag: 'json', help: 'print the JSON report on stdout instead of the summary' }),
};
const CLI_SHAPE = { ...LOAD_SHAPE, ...OUTPUT_SHAPE };

const HELP = `relaygate load generator

Usage: npm run loadtest -- [options]

${helpText(CLI_SHAPE)}

Rate limits: the gateways' per-user limits (20 sends/s) apply; start them with a high
RATE_LIMIT_SCALE (e.g. 1000) for load tests. More in docs/loadtest.md.
Exit status: 0 when no acked message was lost and none was stored twice; 1 otherwise; 2 on error.
`;

function main(): Promise<number> {
  const { help, raw } = readFlags(CLI_SHAPE, process.argv.slice(2));
  if (help) {
    process.stdout.write(HELP);
    return Promise.resolve(0);
  }
  const { out, json, ...input } = raw;
  const output = validate(z.object(OUTPUT_SHAPE), { out, json });
  const opts = resolveOptions(input as LoadOptionsInput);

  // First Ctrl-C: stop sending and still write the report; second: exit at once.
  const abort = new AbortController();
  let interrupts = 0;
  process.on('SIGINT', () => {
    if (++interrupts > 1) process.exit(130);
    process.stderr.write('\ninterrupted: finishing up (Ctrl-C again to quit now)\n');
    abort.abort();
  });

  if (opts.scenario === 'storm') {
    // The nodes are spawned with this process's environment (STORE, DATABASE_URL, REDIS_URL, ...).
    const env = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined));
    return runStorm({
      sockets: opts.users,
      signal: opts.stormSignal,
      // The gateways' own limits (RATE_LIMIT_SCALE 1 unless the environment says otherwise): a
      // storm has to come back through the limits production runs with.
      env,
      jwtSecret: opts.jwtSecret,
      runId: opts.runId,
      sendRate: opts.stormRate,
      warmup: opts.stormWarmup,
      ...(opts.stormGenerators ? { generators: opts.stormGenerators } : {}),
      ...(opts.stormNice ? { generatorNice: opts.stormNice } : {}),
      ...(opts.stormProfile ? { survivorNodeArgs: ['--cpu-prof', `--cpu-prof-dir=${opts.stormProfile}`] } : {}),
      // Other Node flags for node B, e.g. `--perf-basic-prof` so `perf record -p` names JS frames.
      ...(process.env.STORM_SURVIVOR_NODE_ARGS ? { survivorNodeArgs: process.env.STORM_SURVIVOR_NODE_ARGS.split(' ') } : {}),
      timeoutMs: Math.min(opts.hardDeadlineSeconds * 1000, 120_000),
      built: process.env.LOADTEST_BUILT === '1',
      // Another build to compare with (e.g. a copy of dist/ from an earlier commit, in the repository).
      ...(process.env.STORM_GATEWAY_ENTRY ? { entry: process.env.STORM_GATEWAY_ENTRY } : {}),
      ...(opts.progress ? { log: (line: string) => process.stderr.write(`${line}\n`) } : {}),
    }).then((report) => {
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      return report.back === report.sockets && report.lost === 0 ? 0 : 1;
    });
  }

  return runLoad(opts, { signal: abort.signal }).then((report) => {
    const stamp = report.startedAt.replace(/[:.]/g, '-');
    const dir = output.out ?? join('loadtest', 'reports', `${stamp}-${report.scenario}`);
    const paths = writeReport(report, dir);
    if (output.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    else process.stdout.write(`${formatSummary(report)}\n`);
    process.stderr.write(`report: ${paths.json}\nsummary: ${paths.summary}\nchart: ${paths.chart}\n`);
    if (report.scenario === 'idle') return report.connect.failed === 0 ? 0 : 1;
    return report.verdict.zeroLoss && report.verdict.zeroStoredDuplicates ? 0 : 1;
  });
}

Promise.resolve()
  .then(main)
  .then(
    (code) => process.exit(code),
    (err: unknown) => {
      const message = err instanceof Error ? err.message : String(err);
      const usage = err instanceof OptionsError;
      process.stderr.write(`${usage ? 'error' : 'load test failed'}: ${message}\n`);
      if (usage) process.stderr.write('Try --help.\n');
      process.exit(2);
    },
  );
