// Scrapes each gateway's /metrics (prom-client default metrics) during the run: event-loop lag
// p99, resident memory and connected sockets, and summarises them per node.
import type { LoadOptions } from './options.js';
import { median } from './stats.js';

const round3 = (n: number) => Math.round(n * 1000) / 1000;

export interface ScrapeSample {
  /** Seconds since the scraper started. */
  t: number;
  url: string;
  /** prom-client's p99 as exposed; it includes the 20 ms sampling interval of the monitor. */
  lagP99Ms?: number;
  /** p99 minus the monitor's minimum (≈ its sampling interval): the lag proper. */
  lagExcessP99Ms?: number;
  rssMb?: number;
  sockets?: number;
  /** process_cpu_seconds_total: CPU the node has used since it started. */
  cpuSeconds?: number;
}

export interface GatewaySummary {
  url: string;
  samples: number;
  failures: number;
  eventLoopLagP99Ms: { median: number; max: number };
  /** The same minus the monitor's sampling interval (its observed minimum). */
  eventLoopLagExcessP99Ms: { median: number; max: number };
  rssMb: { first: number; max: number; last: number };
  socketsMax: number;
}

const METRICS = {
  lag: 'nodejs_eventloop_lag_p99_seconds',
  lagMin: 'nodejs_eventloop_lag_min_seconds',
  rss: 'process_resident_memory_bytes',
  sockets: 'gateway_sockets_connected',
  cpu: 'process_cpu_seconds_total',
} as const;

/** Value of the first sample of `name` in a Prometheus text exposition. */
export function metricValue(text: string, name: string): number | undefined {
  const re = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+|NaN)`, 'm');
  const m = re.exec(text);
  if (!m) return undefined;
  const v = Number(m[1]);
  return Number.isFinite(v) ? v : undefined;
}

export async function scrapeOnce(url: string, timeoutMs = 2_000): Promise<Omit<ScrapeSample, 't'>> {
  const res = await fetch(new URL('/metrics', url), { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`GET /metrics: ${res.status}`);
  const text = await res.text();
  const lag = metricValue(text, METRICS.lag);
  const lagMin = metricValue(text, METRICS.lagMin);
  const rss = metricValue(text, METRICS.rss);
  const sockets = metricValue(text, METRICS.sockets);
  const cpu = metricValue(text, METRICS.cpu);
  return {
    url,
    ...(lag !== undefined ? { lagP99Ms: Math.round(lag * 1e6) / 1e3 } : {}),
    ...(lag !== undefined && lagMin !== undefined ? { lagExcessP99Ms: Math.max(0, Math.round((lag - lagMin) * 1e6) / 1e3) } : {}),
    ...(rss !== undefined ? { rssMb: Math.round(rss / 1e4) / 1e2 } : {}),
    ...(sockets !== undefined ? { sockets } : {}),
    ...(cpu !== undefined ? { cpuSeconds: cpu } : {}),
  };
}

export class Scraper {
  readonly samples: ScrapeSample[] = [];
  private readonly failures = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private readonly started = performance.now();

  constructor(private readonly opts: Pick<LoadOptions, 'urls' | 'scrapeIntervalMs'>) {}

  start(): void {
    if (this.opts.scrapeIntervalMs <= 0 || this.timer) return;
    void this.scrapeAll();
    this.timer = setInterval(() => void this.scrapeAll(), this.opts.scrapeIntervalMs);
  }

  /** Scrapes every URL once; resolves with this round's samples. */
  async scrapeAll(): Promise<ScrapeSample[]> {
    const t = Math.round((performance.now() - this.started) / 100) / 10;
    const round: ScrapeSample[] = [];
    await Promise.all(
      this.opts.urls.map(async (url) => {
        try {
          const sample = { t, ...(await scrapeOnce(url)) };
          this.samples.push(sample);
          round.push(sample);
        } catch {
          this.failures.set(url, (this.failures.get(url) ?? 0) + 1);
        }
      }),
    );
    return round;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  summary(): GatewaySummary[] {
    return this.opts.urls.map((url) => {
      const mine = this.samples.filter((s) => s.url === url);
      const values = (f: (s: ScrapeSample) => number | undefined) => mine.map(f).filter((v): v is number => v !== undefined);
      const lags = values((s) => s.lagP99Ms);
      const excess = values((s) => s.lagExcessP99Ms);
      const rss = mine.map((s) => s.rssMb).filter((v): v is number => v !== undefined);
      return {
        url,
        samples: mine.length,
        failures: this.failures.get(url) ?? 0,
        eventLoopLagP99Ms: { median: round3(median(lags)), max: Math.max(0, ...lags) },
        eventLoopLagExcessP99Ms: { median: round3(median(excess)), max: Math.max(0, ...excess) },
        rssMb: { first: rss[0] ?? 0, max: rss.length ? Math.max(...rss) : 0, last: rss[rss.length - 1] ?? 0 },
        socketsMax: Math.max(0, ...mine.map((s) => s.sockets ?? 0)),
      };
    });
  }
}
