// A load run, usable as a library (the CLI, the benchmark script and the smoke test call it):
// connect users (ramped) → create conversations → send (steady, step-ramp) or hold (idle) →
// drain → verify against history → report. It always ends by itself: every phase is bounded.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { resolveOptions, type LoadOptions, type LoadOptionsInput } from './options.js';
import { createConversations, planConversations } from './population.js';
import { bar, Progress } from './progress.js';
import { buildReport, type LoadReport, type RampStep } from './report.js';
import { Scraper } from './scrape.js';
import { Sender } from './sender.js';
import { SimUser } from './sim-user.js';
import { Stats, summarize } from './stats.js';
import { Tracker, type ConvInfo } from './tracker.js';
import { sleep, waitFor } from './util.js';
import { verifyRun, type VerifyResult } from './verify.js';

export interface RunHooks {
  /** Aborting stops sending, skips the history check and still resolves with a report. */
  signal?: AbortSignal;
  /** Called right before sending starts and right after the drain (cost measurements). */
  onLoadStart?: () => Promise<void> | void;
  onLoadEnd?: () => Promise<void> | void;
}

const round1 = (n: number) => Math.round(n * 10) / 10;

export async function runLoad(input: LoadOptionsInput, hooks: RunHooks = {}): Promise<LoadReport> {
  const opts = resolveOptions(input);
  if (opts.scenario === 'storm') throw new Error('the storm scenario runs through runStorm (loadtest/storm.ts)');
  const startedAt = new Date();
  const stats = new Stats();
  const tracker = new Tracker(opts.runId, stats);
  const progress = new Progress(opts.progress);
  const scraper = new Scraper(opts);
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();

  let stopping = false;
  let interrupted: string | undefined;
  const interrupt = (why: string) => {
    interrupted ??= why;
  };
  const deadline = setTimeout(() => interrupt(`hard deadline of ${opts.hardDeadlineSeconds} s`), opts.hardDeadlineSeconds * 1000);
  deadline.unref();
  hooks.signal?.addEventListener('abort', () => interrupt('interrupted'), { once: true });
  const halted = () => stopping || interrupted !== undefined;

  const ctx = { opts, stats, tracker, stopping: () => stopping };
  const sampleEvery = opts.receiptSample > 0 ? 1 / opts.receiptSample : Infinity;
  const users = Array.from(
    { length: opts.users },
    (_, i) => new SimUser(i, opts.urls[i % opts.urls.length]!, ctx, Number.isFinite(sampleEvery) && i % Math.round(sampleEvery) === 0),
  );

  let windowTimer: NodeJS.Timeout | undefined;
  try {
    // Baseline memory before any socket exists (the idle scenario reports the difference).
    await scraper.scrapeAll();
    const baseline = scraper.summary();
    scraper.start();

    // ---- connect, ramped
    const connect = await connectAll(users, opts, progress, halted);
    progress.log(`connected ${connect.connected}/${opts.users} sockets in ${connect.seconds.toFixed(1)} s`);
    if (opts.scenario !== 'idle' && connect.failed > 0 && !interrupted)
      throw new Error(`${connect.failed} of ${opts.users} users could not connect; errors: ${JSON.stringify(stats.errorsObject())}`);

    // ---- conversations
    let convs: ConvInfo[] = [];
    if (opts.scenario !== 'idle' && !interrupted) {
      const plan = planConversations(opts);
      convs = await createConversations(users, plan, opts.runId, {
        onProgress: (done, total) => progress.update(`creating conversations ${bar(done, total)} ${done}/${total}`),
      });
      progress.log(`created ${convs.length} conversations`);
      for (const u of users) {
        u.follow();
        u.startReceipts();
      }
    }

    // ---- load
    const sender = new Sender(users, convs, opts, stats, tracker, halted);
    let step = opts.scenario === 'ramp' ? 0 : -1;
    let stepRate = opts.scenario === 'ramp' ? opts.ramp.start : opts.rate;
    // CPU the gateways spend on the load (sending through drain), for a cost per send that
    // is far less sensitive to a shared box than latency is.
    await hooks.onLoadStart?.();
    if (opts.scenario === 'steady' && opts.warmupSeconds > 0 && !halted()) {
      // Not measured: the gateways' JIT and pools warm up, as on a server that has been running.
      progress.log(`warming up at ${opts.rate}/s for ${opts.warmupSeconds} s (not measured)`);
      await sender.run(opts.rate, opts.warmupSeconds, -1);
      stats.startMeasuring();
    }
    const cpuAtStart = await scraper.scrapeAll();
    const loadStart = performance.now();
    const gatewayLine = () => {
      const last = new Map(scraper.samples.map((s) => [s.url, s]));
      const lag = Math.max(0, ...[...last.values()].map((s) => s.lagExcessP99Ms ?? 0));
      const rss = [...last.values()].reduce((sum, s) => sum + (s.rssMb ?? 0), 0);
      return `gw lag p99 ${lag.toFixed(1)}ms rss ${rss.toFixed(0)}MB`;
    };
    windowTimer = setInterval(() => {
      const t = round1((performance.now() - loadStart) / 1000);
      const p = stats.tick(t, sender.inFlight, step);
      if (opts.scenario === 'idle') {
        progress.update(`[${t.toFixed(0).padStart(4)}s] holding ${users.filter((u) => u.connected).length} sockets | ${gatewayLine()}`);
        return;
      }
      const stepPart = step >= 0 ? `step ${step} ` : '';
      progress.update(
        `[${t.toFixed(0).padStart(4)}s] ${stepPart}@${stepRate}/s | acked ${p.acked}/s | deliv ${p.deliveries}/s | ` +
          `ack p99 ${p.ackP99.toFixed(1)}ms | deliver p99 ${p.deliverP99.toFixed(1)}ms | inflight ${p.inFlight} | err ${p.errors} | ${gatewayLine()}`,
      );
    }, 1_000);

    const rampSteps: RampStep[] = [];
    if (opts.scenario === 'steady') {
      await sender.run(opts.rate, opts.duration, 0);
    } else if (opts.scenario === 'ramp') {
      if (opts.ramp.warmupSeconds > 0) {
        step = -1;
        progress.log(`warming up at ${stepRate}/s for ${opts.ramp.warmupSeconds} s (not judged)`);
        await sender.run(stepRate, opts.ramp.warmupSeconds, -1);
        await waitFor(() => sender.inFlight === 0, opts.ramp.settleMs, halted);
        step = 0;
      }
      let retriesLeft = opts.ramp.retries;
      while (stepRate <= opts.ramp.max && !halted()) {
        const s = await runStep(sender, tracker, stats, opts, step, stepRate, halted);
        rampSteps.push(s);
        const retry = !s.passed && retriesLeft > 0;
        progress.log(
          `step ${step} @ ${stepRate}/s: accepted ${s.acceptedPerSec}/s, deliver p99 ${s.deliver.p99} ms, loss ${(s.lossRatio * 100).toFixed(3)} % → ` +
            `${s.passed ? 'ok' : retry ? `failed (${s.failedBecause}), trying again` : `stop (${s.failedBecause})`}`,
        );
        step++;
        if (retry) {
          retriesLeft--;
          continue;
        }
        if (!s.passed) break;
        retriesLeft = opts.ramp.retries;
        stepRate = Math.round(stepRate * opts.ramp.factor);
      }
    } else {
      const until = performance.now() + opts.duration * 1000;
      while (performance.now() < until && !halted()) await sleep(200);
    }
    const loadSeconds = (performance.now() - loadStart) / 1000;

    // ---- drain: outstanding acks and deliveries
    const drainStart = performance.now();
    await waitFor(() => sender.inFlight === 0 && tracker.outstandingPairs() === 0, interrupted ? 2_000 : opts.drainMs, () => false);
    const drainSeconds = (performance.now() - drainStart) / 1000;
    clearInterval(windowTimer);
    windowTimer = undefined;
    const cpuAtEnd = await scraper.scrapeAll();
    await hooks.onLoadEnd?.();
    scraper.stop();
    const cpuOf = (round: typeof cpuAtEnd) => round.reduce((sum, x) => sum + (x.cpuSeconds ?? 0), 0);
    const gatewayCpuSeconds = cpuAtStart.length === cpuAtEnd.length && cpuAtEnd.length > 0 ? cpuOf(cpuAtEnd) - cpuOf(cpuAtStart) : undefined;

    // ---- verify against history
    let verify: VerifyResult | undefined;
    if (opts.scenario !== 'idle' && opts.verify && !interrupted) {
      progress.log(`verifying ${tracker.records.size} sends against history...`);
      verify = await verifyRun(users, convs, tracker, (done, total) => progress.update(`verifying ${bar(done, total)} ${done}/${total}`));
    }

    const cpu = process.cpuUsage(cpu0);
    const wall = (performance.now() - wall0) / 1000;
    return buildReport({
      opts,
      startedAt,
      stats,
      tracker,
      scraper,
      baseline,
      connect,
      convs,
      loadSeconds,
      drainSeconds,
      skippedLag: sender.skippedLag,
      rampSteps,
      verify,
      interrupted,
      generator: {
        cpuPercent: round1(((cpu.user + cpu.system) / 1e6 / wall) * 100),
        // Minus the monitor's own 10 ms resolution, which every sample includes.
        eventLoopDelayP99Ms: round1(Math.max(0, loopDelay.percentile(99) - loopDelay.min) / 1e6),
        rssMb: Math.round(process.memoryUsage().rss / 1e6),
      },
      connectedAtEnd: users.filter((u) => u.connected).length,
      gatewayCpuSeconds,
    });
  } finally {
    stopping = true;
    clearTimeout(deadline);
    if (windowTimer) clearInterval(windowTimer);
    scraper.stop();
    loopDelay.disable();
    for (const u of users) u.close();
  }
}

export interface ConnectResult {
  connected: number;
  failed: number;
  seconds: number;
}

async function connectAll(users: SimUser[], opts: LoadOptions, progress: Progress, halted: () => boolean): Promise<ConnectResult> {
  const started = performance.now();
  let inFlight = 0;
  let connected = 0;
  let failed = 0;
  const pending: Promise<void>[] = [];
  for (let i = 0; i < users.length && !halted(); i++) {
    // Ramp: socket i opens no earlier than i / connectRate seconds in, with bounded handshakes in flight.
    const due = started + (i / opts.connectRate) * 1000;
    while (performance.now() < due || inFlight >= opts.connectConcurrency) {
      if (halted()) break;
      await sleep(Math.max(1, Math.min(20, due - performance.now())));
    }
    inFlight++;
    pending.push(
      users[i]!.connect().then(
        () => void connected++,
        () => void failed++,
      ).finally(() => {
        inFlight--;
        progress.update(`connecting ${bar(connected + failed, users.length)} ${connected}/${users.length} (${failed} failed)`);
      }),
    );
  }
  await Promise.all(pending);
  return { connected, failed, seconds: (performance.now() - started) / 1000 };
}

async function runStep(
  sender: Sender,
  tracker: Tracker,
  stats: Stats,
  opts: LoadOptions,
  step: number,
  rate: number,
  halted: () => boolean,
): Promise<RampStep> {
  const errors0 = [...stats.errors.values()].reduce((a, b) => a + b, 0);
  const t0 = performance.now();
  await sender.run(rate, opts.ramp.stepSeconds, step);
  const seconds = (performance.now() - t0) / 1000;
  const tally = tracker.step(step);
  await waitFor(() => sender.inFlight === 0 && tally.deliveredPairs >= tally.expectedPairs, opts.ramp.settleMs, halted);
  const deliver = summarize(tally.deliver);
  const ack = summarize(tally.ack);
  const undelivered = tally.expectedPairs - tally.deliveredPairs;
  const lossRatio = tally.expectedPairs ? undelivered / tally.expectedPairs : 0;
  const acceptedPerSec = Math.round(tally.acked / seconds);
  const reasons: string[] = [];
  if (deliver.p99 > opts.ramp.p99LimitMs) reasons.push(`deliver p99 ${deliver.p99} ms > ${opts.ramp.p99LimitMs} ms`);
  if (lossRatio > opts.ramp.lossLimit) reasons.push(`loss ${(lossRatio * 100).toFixed(3)} % > ${opts.ramp.lossLimit * 100} %`);
  if (acceptedPerSec < rate * opts.ramp.minAcceptedShare) reasons.push(`accepted ${acceptedPerSec}/s < ${opts.ramp.minAcceptedShare * 100} % of ${rate}/s`);
  return {
    step,
    rate,
    seconds: round1(seconds),
    attempted: tally.attempted,
    acked: tally.acked,
    acceptedPerSec,
    deliveriesPerSec: Math.round(tally.deliveredPairs / seconds),
    ack,
    deliver,
    expectedPairs: tally.expectedPairs,
    undeliveredPairs: undelivered,
    lossRatio,
    errors: [...stats.errors.values()].reduce((a, b) => a + b, 0) - errors0,
    passed: reasons.length === 0,
    ...(reasons.length ? { failedBecause: reasons.join('; ') } : {}),
  };
}

