// The run's summary as the CLI prints it and summary.txt keeps it.
import type { LoadReport } from './report.js';
import type { LatencySummary } from './stats.js';

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
        `mix ${o.mix.direct}/${o.mix.group}/${o.mix.channel}${o.mix.edit + o.mix.react > 0 ? `, edit ${o.mix.edit}, react ${o.mix.react}` : ''}; ${r.conversations.avgMembersPerSend} members per send on average`,
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
    for (const op of ['edit', 'react'] as const) {
      const c = r.changes[op];
      if (c.attempted + c.noTarget === 0) continue;
      lines.push(`  ${op}s: ${c.attempted} attempted, ${c.acked} acked → ${c.acceptedPerSec}/s; ${c.noTarget} skipped (no target yet)`);
      lines.push(`  ${`${op}→ack ms`.padEnd(16)} ${lat(c.ack)}`);
    }
    if (r.changes.edit.acked + r.changes.react.acked > 0) lines.push(`  message:updated received live: ${r.changes.updatesReceived}`);
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
      `  gateway CPU: ${r.cost.gatewayCpuSeconds} s over sending and drain = ${r.cost.gatewayCpuMsPerAcceptedSend} ms per accepted send (${r.cost.gatewayCpuUsPerDelivery} µs per delivery)` +
        (r.changes.edit.acked + r.changes.react.acked > 0 ? `, ${r.cost.gatewayCpuMsPerAcceptedOp} ms per accepted operation (sends, edits, reactions)` : ''),
    );
  lines.push(`  generator: ${r.generator.cpuPercent} % CPU, event-loop delay p99 ${r.generator.eventLoopDelayP99Ms} ms, RSS ${r.generator.rssMb} MB`);
  if (r.scenario !== 'idle')
    lines.push(`  verdict: loss ${r.verdict.zeroLoss ? 'ZERO' : 'NON-ZERO'}, stored duplicates ${r.verdict.zeroStoredDuplicates ? 'ZERO' : 'NON-ZERO'}`);
  return lines.join('\n');
}
