// The run's report: one JSON-serialisable object built from the run's bookkeeping. The summary
// (summary.ts), the chart (chart.ts) and the files on disk (write-report.ts) are made from it.
import os from 'node:os';
import type { LoadOptions } from './options.js';
import type { GatewaySummary, ScrapeSample, Scraper } from './scrape.js';
import { summarize, type ChangeTally, type LatencySummary, type Stats, type WindowPoint } from './stats.js';
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

export interface ChangeSummary {
  attempted: number;
  acked: number;
  /** Skipped: no acked message in that conversation to change yet. */
  noTarget: number;
  acceptedPerSec: number;
  ack: LatencySummary;
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
  /** Edits and reaction toggles (`--mix edit=…,react=…`): tries, ok acks, send→ack latency. */
  changes: {
    edit: ChangeSummary;
    react: ChangeSummary;
    /** Live `message:updated` events received by member sockets (the changer's own included). */
    updatesReceived: number;
  };
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
  cost?: {
    gatewayCpuSeconds: number;
    gatewayCpuMsPerAcceptedSend: number;
    gatewayCpuUsPerDelivery: number;
    /** Per accepted operation: sends, edits and reactions together (equals per send without changes). */
    gatewayCpuMsPerAcceptedOp: number;
  };
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

function changeSummary(t: ChangeTally, loadSeconds: number): ChangeSummary {
  return { attempted: t.attempted, acked: t.acked, noTarget: t.noTarget, acceptedPerSec: Math.round(t.acked / Math.max(loadSeconds, 0.001)), ack: summarize(t.ack) };
}

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
    changes: {
      edit: changeSummary(stats.changes.edit, i.loadSeconds),
      react: changeSummary(stats.changes.react, i.loadSeconds),
      updatesReceived: stats.updatesReceived,
    },
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
            gatewayCpuMsPerAcceptedOp: Math.round((i.gatewayCpuSeconds * 1e5) / (stats.acked + stats.changes.edit.acked + stats.changes.react.acked)) / 100,
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
