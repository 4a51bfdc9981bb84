// A self-contained HTML page with hand-written SVG line charts of the run over time: latency
// percentiles per second, throughput, and the gateways' event-loop lag and memory. No
// dependencies, no scripts: it opens from disk anywhere.
import type { LoadReport } from './report.js';

interface Series {
  name: string;
  color: string;
  points: [number, number][];
}

interface ChartOptions {
  yLabel: string;
  log?: boolean;
  markers?: { x: number; label: string }[];
}

const W = 960;
const H = 280;
const M = { left: 64, right: 16, top: 30, bottom: 36 };
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function niceStep(range: number, ticks: number): number {
  const raw = range / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw || 1));
  const norm = raw / mag;
  return (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
}

function fmt(v: number): string {
  if (Math.abs(v) >= 1000) return `${Math.round(v / 100) / 10}k`;
  if (Math.abs(v) >= 10 || v === 0) return String(Math.round(v));
  return String(Math.round(v * 100) / 100);
}

export function lineChart(title: string, series: Series[], o: ChartOptions): string {
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) return `<h3>${esc(title)}</h3><p>no data</p>`;
  const maxX = Math.max(1, ...all.map((p) => p[0]));
  const ys = all.map((p) => p[1]);
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  let yOf: (v: number) => number;
  const yTicks: number[] = [];
  if (o.log) {
    const lo = Math.floor(Math.log10(Math.max(0.1, Math.min(...ys.filter((v) => v > 0), 1))));
    const hi = Math.ceil(Math.log10(Math.max(1, ...ys)));
    const span = Math.max(1, hi - lo);
    yOf = (v) => M.top + ph - ((Math.log10(Math.max(v, 10 ** lo)) - lo) / span) * ph;
    for (let e = lo; e <= hi; e++) yTicks.push(10 ** e);
  } else {
    const maxY = Math.max(1, ...ys) * 1.05;
    const step = niceStep(maxY, 5);
    const top = Math.ceil(maxY / step) * step;
    yOf = (v) => M.top + ph - (v / top) * ph;
    for (let v = 0; v <= top + step / 2; v += step) yTicks.push(v);
  }
  const xOf = (t: number) => M.left + (t / maxX) * pw;
  const xStep = niceStep(maxX, 8);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`);
  parts.push(`<text x="${M.left}" y="18" font-size="13" font-weight="bold">${esc(title)}</text>`);
  for (const v of yTicks) {
    const y = yOf(v).toFixed(1);
    parts.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${y}" y2="${y}" stroke="#eee"/>`);
    parts.push(`<text x="${M.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle" fill="#555">${fmt(v)}</text>`);
  }
  for (let t = 0; t <= maxX + 1e-9; t += xStep) {
    const x = xOf(t).toFixed(1);
    parts.push(`<line x1="${x}" x2="${x}" y1="${M.top}" y2="${M.top + ph}" stroke="#f4f4f4"/>`);
    parts.push(`<text x="${x}" y="${H - M.bottom + 14}" text-anchor="middle" fill="#555">${fmt(t)}</text>`);
  }
  for (const m of o.markers ?? []) {
    const x = xOf(m.x).toFixed(1);
    parts.push(`<line x1="${x}" x2="${x}" y1="${M.top}" y2="${M.top + ph}" stroke="#aaa" stroke-dasharray="3,3"/>`);
    parts.push(`<text x="${x}" y="${M.top - 3}" fill="#777" font-size="9">${esc(m.label)}</text>`);
  }
  parts.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`);
  parts.push(`<text x="${M.left + pw / 2}" y="${H - 4}" text-anchor="middle" fill="#333">seconds</text>`);
  parts.push(`<text x="12" y="${M.top + ph / 2}" transform="rotate(-90 12 ${M.top + ph / 2})" text-anchor="middle" fill="#333">${esc(o.yLabel)}</text>`);
  series.forEach((s, i) => {
    if (s.points.length === 0) return;
    const d = s.points.map((p, k) => `${k ? 'L' : 'M'}${xOf(p[0]).toFixed(1)},${yOf(p[1]).toFixed(1)}`).join('');
    parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.5"/>`);
    const lx = M.left + 10 + i * 150;
    parts.push(`<rect x="${lx}" y="${M.top + 6}" width="10" height="10" fill="${s.color}"/>`);
    parts.push(`<text x="${lx + 14}" y="${M.top + 15}">${esc(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

export function renderChart(r: LoadReport, summary: string): string {
  const w = r.windows;
  const stepMarkers: { x: number; label: string }[] = [];
  if (r.ramp) {
    let prev = -2;
    for (const p of w) {
      if (p.step !== prev && p.step >= 0) {
        const s = r.ramp.steps[p.step];
        stepMarkers.push({ x: Math.max(0, p.t - 1), label: s ? `${s.rate}/s` : `step ${p.step}` });
      }
      prev = p.step;
    }
  }
  const pts = (f: (p: (typeof w)[number]) => number, skipZero = false) =>
    w.filter((p) => !skipZero || f(p) > 0).map((p): [number, number] => [p.t, f(p)]);
  const urls = [...new Set(r.scrapes.map((s) => s.url))];
  const byUrl = (f: (s: (typeof r.scrapes)[number]) => number | undefined) =>
    urls.map((url, i) => ({
      name: url.replace(/^https?:\/\//, ''),
      color: COLORS[i % COLORS.length]!,
      points: r.scrapes.filter((s) => s.url === url && f(s) !== undefined).map((s): [number, number] => [s.t, f(s)!]),
    }));
  const charts: string[] = [];
  if (r.scenario !== 'idle') {
    charts.push(
      lineChart(
        'Latency per second (ms, log scale)',
        [
          { name: 'send→ack p50', color: COLORS[0]!, points: pts((p) => p.ackP50, true) },
          { name: 'send→ack p99', color: COLORS[1]!, points: pts((p) => p.ackP99, true) },
          { name: 'send→deliver p50', color: COLORS[2]!, points: pts((p) => p.deliverP50, true) },
          { name: 'send→deliver p99', color: COLORS[3]!, points: pts((p) => p.deliverP99, true) },
        ],
        { yLabel: 'ms', log: true, markers: stepMarkers },
      ),
    );
    charts.push(
      lineChart(
        'Sends per second',
        [
          { name: 'attempted/s', color: COLORS[0]!, points: pts((p) => p.attempted) },
          { name: 'acked/s', color: COLORS[2]!, points: pts((p) => p.acked) },
          { name: 'errors/s', color: COLORS[1]!, points: pts((p) => p.errors) },
        ],
        { yLabel: 'per second', markers: stepMarkers },
      ),
    );
    charts.push(
      lineChart('Deliveries per second', [{ name: 'message:new/s', color: COLORS[4]!, points: pts((p) => p.deliveries) }], {
        yLabel: 'per second',
        markers: stepMarkers,
      }),
    );
  }
  charts.push(lineChart('Gateway event-loop lag p99 beyond the 20 ms sampling interval (ms)', byUrl((s) => s.lagExcessP99Ms), { yLabel: 'ms' }));
  charts.push(lineChart('Gateway resident memory (MB)', byUrl((s) => s.rssMb), { yLabel: 'MB' }));
  if (r.scenario === 'idle') charts.push(lineChart('Connected sockets per gateway', byUrl((s) => s.sockets), { yLabel: 'sockets' }));

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>relaygate load test — ${esc(r.scenario)} — ${esc(r.startedAt)}</title>
<style>body{font-family:sans-serif;margin:24px;color:#222}pre{background:#f6f6f6;padding:12px;overflow-x:auto;font-size:12px}svg{display:block;margin:8px 0 20px}</style>
</head><body>
<h1>relaygate load test: ${esc(r.scenario)}</h1>
<pre>${esc(summary)}</pre>
${charts.join('\n')}
</body></html>
`;
}
