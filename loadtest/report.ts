// The run's report: one JSON-serialisable object, a readable summary, and files on disk
// (report.json, summary.txt, chart.html).
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import type { LoadOptions } from './options.js';
import { renderChart } from './chart.js';
import type { GatewaySummary, ScrapeSample, Scraper } from './scrape.js';
import { summarize, type LatencySummary, type Stats, type WindowPoint } from './stats.js';
import type { ConvInfo, Tracker } from './tracker.js';
import type { VerifyResult } from './verify.js';

export interface RampStep {
  step: number;
  /** Target rate of the step, sends/s. */
  rate: number;
  seconds: number;
  attempted: number;
  acked: number;
  acceptedPerSec: number;
  deliveriesPerSec: number;
  ack: LatencySummary;
  deliver: LatencySummary;
  expectedPairs: number;
  undeliveredPairs: number;
  lossRatio: number;
  errors: number;
  passed: boolean;
  failedBecause?: string;
}

export interface LoadReport {
  tool: 'relaygate-loadtest';
  version: 1;
  startedAt: string;
  finishedAt: string;
  /** Set when the run was cut short (Ctrl-C, hard deadline): numbers cover what ran. */
  interrupted?: string;
  scenario: LoadOptions['scenario'];
  options: Omit<LoadOptions, 'jwtSecret'>;
  machine: { cpus: number; cpuModel: string; memoryGb: number; node: string; platform: string };
  connect: { users: number; connected: number; failed: number; seconds: number; perSec: number; connectedAtEnd: number };
  conversations: { direct: number; group: number; channel: number; avgMembersPerSend: number };
  sends: {
    loadSeconds: number;
    drainSeconds: number;
    targetRate: number;
    attempted: number;
    acked: number;
    unacked: number;
    duplicateAcks: number;
    skippedOffline: number;
    skippedBackpressure: number;
    skippedGeneratorLag: number;
    attemptedPerSec: number;
    acceptedPerSec: number;
  };
  latencyMs: { ack: LatencySummary; deliver: LatencySummary };
  delivery: {
    /** (acked message, member) pairs, the sender's own socket included. */
    expectedPairs: number;
    /** First deliveries by live `message:new` (all messages of the run, sender echo included). */
    live: number;
    deliveriesPerSec: number;
    /** The same message id delivered live to one socket more than once. */
    duplicateDeliveries: number;
    /** Pairs missed live and recovered by the member's `conversation:sync`. */
    recoveredBySync: number;
    /** Pairs neither delivered live nor recoverable from history. */
    lostPairs: number;
    /** Acked messages with at least one lost pair. */
    lostMessages: number;
    lossRatio: number;
  };
  storage: {
    checked: boolean;
    conversationsChecked: number;
    messagesInHistory: number;
    /** Extra copies of a clientMsgId in history; must be 0. */
    duplicates: number;
    /** Acked sends missing from history; must be 0. */
    missingAcked: number;
    /** The same clientMsgId seen live with two message ids. */
    duplicateIdsLive: number;
  };
  errors: Record<string, number>;
  receipts: { sent: number; received: number };
  connections: { disconnects: number; reconnects: number };
  gateways: GatewaySummary[];
  generator: { cpuPercent: number; eventLoopDelayP99Ms: number; rssMb: number };
  /** CPU used by all scraped gateways from the start of sending to the end of the drain. */
  cost?: { gatewayCpuSeconds: number; gatewayCpuMsPerAcceptedSend: number; gatewayCpuUsPerDelivery: number };
  ramp?: { steps: RampStep[]; sustainableRate: number; stoppedBecause: string };
  idle?: { sockets: number; nodes: { url: string; rssBeforeMb: number; rssAfterMb: number; sockets: number; kbPerSocket: number }[] };
  verdict: { zeroLoss: boolean; zeroStoredDuplicates: boolean };
  windows: WindowPoint[];
  scrapes: ScrapeSample[];
}

export interface ReportInput {
  opts: LoadOptions;
  startedAt: Date;
  stats: Stats;
  tracker: Tracker;
  scraper: Scraper;
  baseline: GatewaySummary[];
  connect: { connected: number; failed: number; seconds: number };
  convs: ConvInfo[];
  loadSeconds: number;
  drainSeconds: number;
  skippedLag: number;
  rampSteps: RampStep[];
  verify: VerifyResult | undefined;
  interrupted: string | undefined;
  generator: LoadReport['generator'];
  connectedAtEnd: number;
  gatewayCpuSeconds: number | undefined;
}

const r1 = (n: number) => Math.round(n * 10) / 10;

export function buildReport(i: ReportInput): LoadReport {
  const { opts, stats, tracker } = i;
  const totals = tracker.totals();
  const lostPairs = totals.expectedPairs - totals.deliveredPairs;
  const { jwtSecret: _secret, ...options } = opts;
  const gateways = i.scraper.summary();
  // Steps pass in order up to the last rate; a retried step counts when its retry passed.
  const sustainable = i.rampSteps.filter((s) => s.passed).reduce((m, s) => Math.max(m, s.rate), 0);
  const lastStep = i.rampSteps[i.rampSteps.length - 1];
  const report: LoadReport = {
    tool: 'relaygate-loadtest',
    version: 1,
    startedAt: i.startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    ...(i.interrupted ? { interrupted: i.interrupted } : {}),
    scenario: opts.scenario,
    options,
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      memoryGb: r1(os.totalmem() / 2 ** 30),
      node: process.version,
      platform: `${os.platform()} ${os.release()}`,
    },
    connect: {
      users: opts.users,
      ...i.connect,
      seconds: r1(i.connect.seconds),
      perSec: Math.round(i.connect.connected / Math.max(i.connect.seconds, 0.001)),
      connectedAtEnd: i.connectedAtEnd,
    },
    conversations: {
      direct: i.convs.filter((c) => c.kind === 'direct').length,
      group: i.convs.filter((c) => c.kind === 'group').length,
      channel: i.convs.filter((c) => c.kind === 'channel').length,
      avgMembersPerSend: totals.acked ? r1(totals.expectedPairs / totals.acked) : 0,
    },
    sends: {
      loadSeconds: r1(i.loadSeconds),
      drainSeconds: r1(i.drainSeconds),
      targetRate: opts.scenario === 'steady' ? opts.rate : 0,
      attempted: stats.attempted,
      acked: stats.acked,
      unacked: stats.attempted - stats.acked,
      duplicateAcks: stats.duplicateAcks,
      skippedOffline: stats.skippedOffline,
      skippedBackpressure: stats.skippedBackpressure,
      skippedGeneratorLag: i.skippedLag,
      attemptedPerSec: Math.round(stats.attempted / Math.max(i.loadSeconds, 0.001)),
      acceptedPerSec: Math.round(stats.acked / Math.max(i.loadSeconds, 0.001)),
    },
    latencyMs: { ack: summarize(stats.ack), deliver: summarize(stats.deliver) },
    delivery: {
      expectedPairs: totals.expectedPairs,
      live: stats.deliveries,
      deliveriesPerSec: Math.round(stats.deliveries / Math.max(i.loadSeconds, 0.001)),
      duplicateDeliveries: stats.duplicateDeliveries,
      recoveredBySync: stats.syncRecovered,
      lostPairs,
      lostMessages: totals.incompleteMessages,
      lossRatio: totals.expectedPairs ? lostPairs / totals.expectedPairs : 0,
    },
    storage: {
      checked: i.verify?.storageChecked ?? false,
      conversationsChecked: i.verify?.conversationsChecked ?? 0,
      messagesInHistory: i.verify?.messagesInHistory ?? 0,
      duplicates: i.verify?.storedDuplicates ?? 0,
      missingAcked: i.verify?.missingAcked ?? 0,
      duplicateIdsLive: tracker.storageDuplicatesLive,
    },
    errors: stats.errorsObject(),
    receipts: { sent: stats.receiptsSent, received: stats.receiptsReceived },
    connections: { disconnects: stats.disconnects, reconnects: stats.reconnects },
    gateways,
    generator: i.generator,
    ...(i.gatewayCpuSeconds !== undefined && stats.acked > 0
      ? {
          cost: {
            gatewayCpuSeconds: r1(i.gatewayCpuSeconds),
            gatewayCpuMsPerAcceptedSend: Math.round((i.gatewayCpuSeconds * 1e5) / stats.acked) / 100,
            gatewayCpuUsPerDelivery: stats.deliveries ? Math.round((i.gatewayCpuSeconds * 1e6) / stats.deliveries) : 0,
          },
        }
      : {}),
    ...(opts.scenario === 'ramp'
      ? {
          ramp: {
            steps: i.rampSteps,
            sustainableRate: sustainable,
            stoppedBecause: lastStep?.failedBecause ?? (i.interrupted ? i.interrupted : `reached --ramp-max ${opts.ramp.max}/s`),
          },
        }
      : {}),
    ...(opts.scenario === 'idle'
      ? {
          idle: {
            sockets: i.connect.connected,
            nodes: gateways.map((g, k) => {
              const before = i.baseline[k]?.rssMb.last ?? 0;
              const sockets = g.socketsMax;
              return {
                url: g.url,
                rssBeforeMb: before,
                rssAfterMb: g.rssMb.max,
                sockets,
                kbPerSocket: sockets ? r1(((g.rssMb.max - before) * 1000) / sockets) : 0,
              };
            }),
          },
        }
      : {}),
    verdict: {
      zeroLoss: lostPairs === 0 && (i.verify?.missingAcked ?? 0) === 0,
      zeroStoredDuplicates: (i.verify?.storedDuplicates ?? 0) === 0 && tracker.storageDuplicatesLive === 0,
    },
    windows: stats.windows,
    scrapes: i.scraper.samples,
  };
  return report;
}

const lat = (l: LatencySummary) => `p50 ${l.p50}  p90 ${l.p90}  p99 ${l.p99}  p99.9 ${l.p999}  max ${l.max}  (n=${l.count})`;

export function formatSummary(r: LoadReport): string {
  const lines: string[] = [];
  const o = r.options;
  lines.push(`relaygate load test — ${r.scenario}${r.interrupted ? ` (INTERRUPTED: ${r.interrupted})` : ''}`);
  lines.push(`  ${r.startedAt} → ${r.finishedAt}; ${r.machine.cpus} CPUs (${r.machine.cpuModel}), ${r.machine.memoryGb} GB, node ${r.machine.node}`);
  lines.push(`  targets: ${o.urls.join(', ')}; transports ${o.transports.join(',')}`);
  lines.push(`  sockets: ${r.connect.connected}/${r.connect.users} connected in ${r.connect.seconds} s (${r.connect.perSec}/s); ${r.connect.connectedAtEnd} at the end`);
  if (r.scenario !== 'idle') {
    lines.push(
      `  conversations: ${r.conversations.direct} direct, ${r.conversations.group} groups of ${o.groupSize}, ${r.conversations.channel} channel of ${Math.min(o.channelSize, o.users)}; ` +
        `mix ${o.mix.direct}/${o.mix.group}/${o.mix.channel}; ${r.conversations.avgMembersPerSend} members per send on average`,
    );
    const s = r.sends;
    lines.push(
      `  sends: ${s.attempted} attempted, ${s.acked} acked in ${s.loadSeconds} s → ${s.acceptedPerSec}/s accepted` +
        `${s.targetRate ? ` (target ${s.targetRate}/s)` : ''}; ${s.unacked} unacked, ${s.duplicateAcks} duplicate acks`,
    );
    if (s.skippedOffline + s.skippedBackpressure + s.skippedGeneratorLag > 0)
      lines.push(`  skipped: ${s.skippedOffline} offline, ${s.skippedBackpressure} back-pressure, ${s.skippedGeneratorLag} generator lag`);
    lines.push(`  send→ack ms      ${lat(r.latencyMs.ack)}`);
    lines.push(`  send→deliver ms  ${lat(r.latencyMs.deliver)}`);
    const d = r.delivery;
    lines.push(
      `  deliveries: ${d.live} live (${d.deliveriesPerSec}/s), ${d.recoveredBySync} recovered by sync, ${d.duplicateDeliveries} duplicate deliveries; ` +
        `lost ${d.lostPairs} pairs / ${d.lostMessages} messages (${(d.lossRatio * 100).toFixed(4)} %)`,
    );
    const st = r.storage;
    lines.push(
      st.checked
        ? `  history: ${st.conversationsChecked} conversations, ${st.messagesInHistory} messages; ${st.duplicates} stored duplicates, ${st.missingAcked} acked but missing`
        : `  history: not checked${r.options.verify ? ' (no message of this run in history: a relay keeps none)' : ' (--no-verify)'}`,
    );
    lines.push(`  receipts: ${r.receipts.sent} sent, ${r.receipts.received} received; disconnects ${r.connections.disconnects}, reconnects ${r.connections.reconnects}`);
  }
  if (r.ramp) {
    lines.push(`  step ramp (p99 ≤ ${o.ramp.p99LimitMs} ms, loss ≤ ${o.ramp.lossLimit * 100} %, accepted ≥ ${o.ramp.minAcceptedShare * 100} %):`);
    for (const s of r.ramp.steps) {
      lines.push(
        `    ${String(s.rate).padStart(6)}/s  accepted ${String(s.acceptedPerSec).padStart(6)}/s  deliv ${String(s.deliveriesPerSec).padStart(7)}/s  ` +
          `ack p99 ${String(s.ack.p99).padStart(7)}  deliver p50 ${String(s.deliver.p50).padStart(7)} p99 ${String(s.deliver.p99).padStart(8)} ms  ` +
          `loss ${(s.lossRatio * 100).toFixed(3)} %  ${s.passed ? 'ok' : `FAIL: ${s.failedBecause}`}`,
      );
    }
    lines.push(`  highest sustainable rate: ${r.ramp.sustainableRate} sends/s (stopped: ${r.ramp.stoppedBecause})`);
  }
  if (r.idle) {
    for (const n of r.idle.nodes)
      lines.push(`  idle: ${n.url}: ${n.sockets} sockets, RSS ${n.rssBeforeMb} → ${n.rssAfterMb} MB (${n.kbPerSocket} kB/socket)`);
  }
  const errs = Object.entries(r.errors);
  lines.push(`  errors: ${errs.length ? errs.map(([k, v]) => `${k}=${v}`).join(', ') : 'none'}`);
  for (const g of r.gateways)
    lines.push(
      `  gateway ${g.url}: event-loop lag p99 median ${g.eventLoopLagP99Ms.median} ms, max ${g.eventLoopLagP99Ms.max} ms ` +
        `(beyond the 20 ms sampling: ${g.eventLoopLagExcessP99Ms.median} / ${g.eventLoopLagExcessP99Ms.max} ms); ` +
        `RSS ${g.rssMb.first} → max ${g.rssMb.max} MB; sockets max ${g.socketsMax}${g.failures ? `; ${g.failures} failed scrapes` : ''}`,
    );
  if (r.cost)
    lines.push(
      `  gateway CPU: ${r.cost.gatewayCpuSeconds} s over sending and drain = ${r.cost.gatewayCpuMsPerAcceptedSend} ms per accepted send (${r.cost.gatewayCpuUsPerDelivery} µs per delivery)`,
    );
  lines.push(`  generator: ${r.generator.cpuPercent} % CPU, event-loop delay p99 ${r.generator.eventLoopDelayP99Ms} ms, RSS ${r.generator.rssMb} MB`);
  if (r.scenario !== 'idle')
    lines.push(`  verdict: loss ${r.verdict.zeroLoss ? 'ZERO' : 'NON-ZERO'}, stored duplicates ${r.verdict.zeroStoredDuplicates ? 'ZERO' : 'NON-ZERO'}`);
  return lines.join('\n');
}

/** Writes report.json, summary.txt and chart.html into `dir`; returns their paths. */
export function writeReport(r: LoadReport, dir: string): { json: string; summary: string; chart: string } {
  mkdirSync(dir, { recursive: true });
  const paths = { json: join(dir, 'report.json'), summary: join(dir, 'summary.txt'), chart: join(dir, 'chart.html') };
  writeFileSync(paths.json, `${JSON.stringify(r, null, 2)}\n`);
  writeFileSync(paths.summary, `${formatSummary(r)}\n`);
  writeFileSync(paths.chart, renderChart(r, formatSummary(r)));
  return paths;
}
