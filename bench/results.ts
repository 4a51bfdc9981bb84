// What a benchmark keeps of each run, medians over runs, and the markdown table with the ratios
// of each variant to the relay ceiling and to the hand-rolled peer.
import type { LoadReport } from '../loadtest/report.js';
import { median } from '../loadtest/stats.js';
import type { Variant } from './variants.js';

export interface RunMetrics {
  acceptedPerSec: number;
  deliveriesPerSec: number;
  ackP50: number;
  ackP99: number;
  deliverP50: number;
  deliverP99: number;
  deliverP999: number;
  lossRatio: number;
  storedDuplicates: number;
  errors: number;
  gatewayLagP99Ms: number;
  gatewayRssMb: number;
  generatorCpuPercent: number;
  /** Gateway CPU per accepted send (all nodes, sending through drain), ms. */
  gatewayCpuMsPerSend: number;
  /** CPU of the cluster's PostgreSQL backends per accepted send, ms. */
  dbCpuMsPerSend: number;
  /** Accepted edits and reactions per second (`LT_MIX=edit=…,react=…`; 0 otherwise). */
  changesPerSec?: number;
  /** Gateway and PostgreSQL CPU per accepted operation (sends, edits, reactions), ms. */
  gatewayCpuMsPerOp?: number;
  dbCpuMsPerOp?: number;
  sustainableRate?: number;
}

export function metricsOf(r: LoadReport, dbCpuSeconds = 0): RunMetrics {
  // A ramp's latencies are those of its highest passing step, not of the failing ones after it.
  const top = r.ramp?.steps.filter((s) => s.passed).at(-1);
  const ack = r.ramp ? (top?.ack ?? r.latencyMs.ack) : r.latencyMs.ack;
  const deliver = r.ramp ? (top?.deliver ?? r.latencyMs.deliver) : r.latencyMs.deliver;
  // Reports of earlier versions have no changes.
  const changes = (r.changes?.edit.acked ?? 0) + (r.changes?.react.acked ?? 0);
  return {
    acceptedPerSec: r.ramp ? (r.ramp.steps.filter((s) => s.passed).at(-1)?.acceptedPerSec ?? 0) : r.sends.acceptedPerSec,
    deliveriesPerSec: r.ramp ? (r.ramp.steps.filter((s) => s.passed).at(-1)?.deliveriesPerSec ?? 0) : r.delivery.deliveriesPerSec,
    ackP50: ack.p50,
    ackP99: ack.p99,
    deliverP50: deliver.p50,
    deliverP99: deliver.p99,
    deliverP999: deliver.p999,
    lossRatio: r.delivery.lossRatio,
    storedDuplicates: r.storage.duplicates + r.storage.duplicateIdsLive,
    errors: Object.values(r.errors).reduce((a, b) => a + b, 0),
    gatewayLagP99Ms: Math.max(0, ...r.gateways.map((g) => g.eventLoopLagExcessP99Ms.median)),
    gatewayRssMb: Math.round(Math.max(0, ...r.gateways.map((g) => g.rssMb.max))),
    generatorCpuPercent: r.generator.cpuPercent,
    gatewayCpuMsPerSend: r.cost?.gatewayCpuMsPerAcceptedSend ?? 0,
    dbCpuMsPerSend: r.sends.acked ? Math.round((dbCpuSeconds * 1e5) / r.sends.acked) / 100 : 0,
    ...(changes > 0
      ? {
          changesPerSec: r.changes.edit.acceptedPerSec + r.changes.react.acceptedPerSec,
          gatewayCpuMsPerOp: r.cost?.gatewayCpuMsPerAcceptedOp ?? 0,
          dbCpuMsPerOp: Math.round((dbCpuSeconds * 1e5) / (r.sends.acked + changes)) / 100,
        }
      : {}),
    ...(r.ramp ? { sustainableRate: r.ramp.sustainableRate } : {}),
  };
}

export function medians(runs: RunMetrics[]): RunMetrics {
  const keys = Object.keys(runs[0] ?? {}) as (keyof RunMetrics)[];
  return Object.fromEntries(keys.map((k) => [k, Math.round(median(runs.map((r) => r[k] ?? 0)) * 1000) / 1000])) as unknown as RunMetrics;
}

export type Summary = { variant: Variant; runs: RunMetrics[]; median: RunMetrics };

const ratio = (a: number, b: number) => (b > 0 ? (a / b).toFixed(2) : 'n/a');

export function renderMarkdown(summary: Summary[], relay: Summary | undefined, peer: Summary | undefined, ctx: { scenario: string; runs: number; nodes: number; machine: string; load: object }): string {
  const ramp = ctx.scenario === 'ramp';
  const lines = [
    `Machine: ${ctx.machine}. ${ctx.nodes} gateway node(s) per variant, medians of ${ctx.runs} run(s), scenario ${ctx.scenario}.`,
    '',
    `| variant | ${ramp ? 'sustainable sends/s | ' : ''}accepted sends/s | deliveries/s | send→ack p50 / p99 ms | send→deliver p50 / p99 / p99.9 ms | loss | stored dups | gw lag p99 ms | gw RSS MB | CPU ms/send gw + pg |`,
    `|---|${ramp ? '---:|' : ''}---:|---:|---:|---:|---:|---:|---:|---:|---:|`,
  ];
  for (const s of summary) {
    const m = s.median;
    lines.push(
      `| ${s.variant.name} | ${ramp ? `${m.sustainableRate} | ` : ''}${Math.round(m.acceptedPerSec)} | ${Math.round(m.deliveriesPerSec)} | ${m.ackP50} / ${m.ackP99} | ` +
        `${m.deliverP50} / ${m.deliverP99} / ${m.deliverP999} | ${(m.lossRatio * 100).toFixed(3)} % | ${m.storedDuplicates} | ${m.gatewayLagP99Ms} | ${m.gatewayRssMb} | ${m.gatewayCpuMsPerSend} + ${m.dbCpuMsPerSend} |`,
    );
  }
  for (const base of [relay, peer]) {
    if (!base) continue;
    lines.push('');
    for (const s of summary) {
      if (s === base || (base === peer && s === relay)) continue; // relay/peer is peer/relay read backwards
      const a = s.median;
      const b = base.median;
      lines.push(
        `- ${s.variant.name}/${base.variant.name}: ${ramp ? `sustainable rate ${ratio(a.sustainableRate ?? 0, b.sustainableRate ?? 0)}, ` : ''}` +
          `accepted ${ratio(a.acceptedPerSec, b.acceptedPerSec)}, gateway CPU per send ×${ratio(a.gatewayCpuMsPerSend, b.gatewayCpuMsPerSend)}, ` +
          `send→ack p99 ×${ratio(a.ackP99, b.ackP99)}, send→deliver p99 ×${ratio(a.deliverP99, b.deliverP99)}`,
      );
    }
  }
  lines.push('', 'Per run:', '');
  for (const s of summary)
    lines.push(
      `- ${s.variant.name}: ${s.runs
        .map((r) => `${ramp ? `${r.sustainableRate}/s sustainable, ` : ''}${Math.round(r.acceptedPerSec)}/s, deliver p99 ${r.deliverP99} ms`)
        .join('; ')}`,
    );
  return lines.join('\n');
}
