// `npm run loadtest -- [options]`: runs one load scenario against running gateways, prints the
// summary, writes report.json / summary.txt / chart.html. Exit 0 when loss and stored
// duplicates are zero, 1 when not, 2 for bad options or a run that could not start.
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { DEFAULTS, OptionsError, parseMix, parseSeconds, type LoadOptionsInput, type Scenario, type SendPattern } from './options.js';
import { formatSummary, writeReport } from './report.js';
import { runLoad } from './run.js';

const D = DEFAULTS;
const HELP = `relaygate load generator

Usage: npm run loadtest -- [options]

Scenarios (--scenario, alias --mode):
  steady   send at --rate for --duration, then check every acked message against history
  ramp     raise the rate step by step until send→deliver p99 > --p99-limit or loss > --loss-limit;
           reports the highest sustainable rate
  idle     open --users sockets, hold them --duration, report the gateways' RSS

Target:
  --url <a,b,...>          gateway base URLs; users spread round robin (default http://127.0.0.1:3000,
                           or LOADTEST_URL)
  --jwt-secret <s>         HS256 secret of the gateways (default: JWT_SECRET from the environment)

Population:
  --users <n>              simulated users, one socket each (default ${D.users})
  --connect-rate <n>       sockets opened per second (default ${D.connectRate})
  --group-size <k>         members per group (default ${D.groupSize})
  --channel-size <m>       members of the one large channel, 0 = none (default ${D.channelSize})
  --channel-posters <p>    channel owner + admins who post (default ${D.channelPosters})
  --mix <spec>             share of sends per kind (default direct=${D.mix.direct},group=${D.mix.group},channel=${D.mix.channel})

Traffic:
  --rate <n>               aggregate sends/s (steady; default ${D.rate})
  --duration <t>           sending (steady) or holding (idle) time: 30, 30s, 2m (default ${D.duration}s)
  --pattern <p>            per-user pattern: uniform | poisson | bursty (default ${D.pattern})
  --burst-size <n>         messages per burst with --pattern bursty (default ${D.burstSize})
  --message-chars <n>      text length (default ${D.messageChars})
  --receipt-sample <f>     fraction of clients sending delivered/read receipts (default ${D.receiptSample})
  --receipt-interval <ms>  how often such a client reports its watermark (default ${D.receiptIntervalMs})
  --read-ratio <f>         chance that a delivered report comes with a read report (default ${D.readRatio})
  --transports <list>      websocket (default) or polling,websocket
  --ack-timeout <ms>       a send without ack after this is a TIMEOUT and is retried (default ${D.ackTimeoutMs})
  --max-in-flight <n>      sends awaiting an ack beyond which new sends are skipped (default ${D.maxInFlight})

Step ramp:
  --ramp-start <n>         first rate (default ${D.ramp.start}/s)
  --ramp-factor <f>        rate multiplier per step (default ${D.ramp.factor})
  --ramp-max <n>           highest rate tried (default ${D.ramp.max}/s)
  --step-duration <t>      sending time per step (default ${D.ramp.stepSeconds}s)
  --ramp-settle <ms>       quiet time after each step for late deliveries (default ${D.ramp.settleMs})
  --ramp-warmup <t>        sending at the start rate before the first step, not judged (default ${D.ramp.warmupSeconds}s)
  --ramp-retries <n>       a failed step is tried again this many times before stopping (default ${D.ramp.retries})
  --p99-limit <ms>         send→deliver p99 a step may reach (default ${D.ramp.p99LimitMs})
  --loss-limit <f>         undelivered fraction a step may reach (default ${D.ramp.lossLimit})

Run:
  --drain <t>              wait for outstanding acks/deliveries after sending (default ${D.drainMs / 1000}s)
  --no-verify              skip the end-of-run check against history
  --scrape-interval <ms>   /metrics scrape period, 0 = off (default ${D.scrapeIntervalMs})
  --deadline <t>           hard stop of the whole run (default ${D.hardDeadlineSeconds}s)
  --run-id <id>            prefix of user ids and clientMsgIds (default: random)
  --out <dir>              report directory (default loadtest/reports/<time>-<scenario>)
  --json                   print the JSON report on stdout instead of the summary
  --quiet                  no progress line on stderr
  -h, --help               this text

Rate limits: the gateways' per-user limits (20 sends/s) apply; start them with a high
RATE_LIMIT_SCALE (e.g. 1000) for load tests.
Exit status: 0 when no acked message was lost and none was stored twice; 1 otherwise; 2 on error.
`;

function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      'jwt-secret': { type: 'string' },
      scenario: { type: 'string' },
      mode: { type: 'string' },
      users: { type: 'string' },
      'connect-rate': { type: 'string' },
      'group-size': { type: 'string' },
      'channel-size': { type: 'string' },
      'channel-posters': { type: 'string' },
      mix: { type: 'string' },
      rate: { type: 'string' },
      duration: { type: 'string' },
      pattern: { type: 'string' },
      'burst-size': { type: 'string' },
      'message-chars': { type: 'string' },
      'receipt-sample': { type: 'string' },
      'receipt-interval': { type: 'string' },
      'read-ratio': { type: 'string' },
      transports: { type: 'string' },
      'ack-timeout': { type: 'string' },
      'max-in-flight': { type: 'string' },
      'ramp-start': { type: 'string' },
      'ramp-factor': { type: 'string' },
      'ramp-max': { type: 'string' },
      'step-duration': { type: 'string' },
      'ramp-settle': { type: 'string' },
      'ramp-warmup': { type: 'string' },
      'ramp-retries': { type: 'string' },
      'p99-limit': { type: 'string' },
      'loss-limit': { type: 'string' },
      drain: { type: 'string' },
      'no-verify': { type: 'boolean' },
      'scrape-interval': { type: 'string' },
      deadline: { type: 'string' },
      'run-id': { type: 'string' },
      out: { type: 'string' },
      json: { type: 'boolean' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return Promise.resolve(0);
  }
  const num = (flag: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new OptionsError(`--${flag}: not a number: ${v}`);
    return n;
  };
  const secs = (flag: string, v: string | undefined) => (v === undefined ? undefined : parseSeconds(v, `--${flag}`));
  const scenario = (values.scenario ?? values.mode ?? 'steady') as Scenario;
  if (!['steady', 'ramp', 'idle'].includes(scenario)) throw new OptionsError(`--scenario: steady, ramp or idle, not ${scenario}`);
  const pattern = values.pattern as SendPattern | undefined;
  if (pattern && !['uniform', 'poisson', 'bursty'].includes(pattern)) throw new OptionsError(`--pattern: uniform, poisson or bursty`);
  const transports = values.transports?.split(',').map((t) => t.trim());
  if (transports && (transports.length === 0 || transports.some((t) => t !== 'websocket' && t !== 'polling')))
    throw new OptionsError('--transports: websocket and/or polling');
  const drain = secs('drain', values.drain);

  const input: LoadOptionsInput = {
    urls: (values.url ?? process.env.LOADTEST_URL ?? 'http://127.0.0.1:3000').split(',').map((u) => u.trim()).filter(Boolean),
    jwtSecret: values['jwt-secret'] ?? process.env.JWT_SECRET ?? '',
    scenario,
    users: num('users', values.users),
    connectRate: num('connect-rate', values['connect-rate']),
    groupSize: num('group-size', values['group-size']),
    channelSize: num('channel-size', values['channel-size']),
    channelPosters: num('channel-posters', values['channel-posters']),
    ...(values.mix ? { mix: parseMix(values.mix) } : {}),
    rate: num('rate', values.rate),
    duration: secs('duration', values.duration),
    pattern,
    burstSize: num('burst-size', values['burst-size']),
    messageChars: num('message-chars', values['message-chars']),
    receiptSample: num('receipt-sample', values['receipt-sample']),
    receiptIntervalMs: num('receipt-interval', values['receipt-interval']),
    readRatio: num('read-ratio', values['read-ratio']),
    transports: transports as ('websocket' | 'polling')[] | undefined,
    ackTimeoutMs: num('ack-timeout', values['ack-timeout']),
    maxInFlight: num('max-in-flight', values['max-in-flight']),
    drainMs: drain === undefined ? undefined : drain * 1000,
    verify: values['no-verify'] ? false : undefined,
    scrapeIntervalMs: num('scrape-interval', values['scrape-interval']),
    hardDeadlineSeconds: secs('deadline', values.deadline),
    runId: values['run-id'],
    progress: !values.quiet,
    ramp: {
      start: num('ramp-start', values['ramp-start']),
      factor: num('ramp-factor', values['ramp-factor']),
      max: num('ramp-max', values['ramp-max']),
      stepSeconds: secs('step-duration', values['step-duration']),
      settleMs: num('ramp-settle', values['ramp-settle']),
      warmupSeconds: secs('ramp-warmup', values['ramp-warmup']),
      retries: num('ramp-retries', values['ramp-retries']),
      p99LimitMs: num('p99-limit', values['p99-limit']),
      lossLimit: num('loss-limit', values['loss-limit']),
    },
  };

  // First Ctrl-C: stop sending and still write the report; second: exit at once.
  const abort = new AbortController();
  let interrupts = 0;
  process.on('SIGINT', () => {
    if (++interrupts > 1) process.exit(130);
    process.stderr.write('\ninterrupted: finishing up (Ctrl-C again to quit now)\n');
    abort.abort();
  });

  return runLoad(input, { signal: abort.signal }).then((report) => {
    const stamp = report.startedAt.replace(/[:.]/g, '-');
    const dir = values.out ?? join('loadtest', 'reports', `${stamp}-${report.scenario}`);
    const paths = writeReport(report, dir);
    if (values.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    else process.stdout.write(`${formatSummary(report)}\n`);
    process.stderr.write(`report: ${paths.json}\nsummary: ${paths.summary}\nchart: ${paths.chart}\n`);
    if (report.scenario === 'idle') return report.connect.failed === 0 ? 0 : 1;
    return report.verdict.zeroLoss && report.verdict.zeroStoredDuplicates ? 0 : 1;
  });
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    const usage = err instanceof OptionsError || Boolean((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'));
    process.stderr.write(`${usage ? 'error' : 'load test failed'}: ${message}\n`);
    if (usage) process.stderr.write('Try --help.\n');
    process.exit(2);
  },
);
