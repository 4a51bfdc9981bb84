// A run's report on disk: report.json, summary.txt and chart.html in one directory.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderChart } from './chart.js';
import type { LoadReport } from './report.js';
import { formatSummary } from './summary.js';

/** Writes report.json, summary.txt and chart.html into `dir`; returns their paths. */
export function writeReport(r: LoadReport, dir: string): { json: string; summary: string; chart: string } {
  mkdirSync(dir, { recursive: true });
  const paths = { json: join(dir, 'report.json'), summary: join(dir, 'summary.txt'), chart: join(dir, 'chart.html') };
  writeFileSync(paths.json, `${JSON.stringify(r, null, 2)}\n`);
  writeFileSync(paths.summary, `${formatSummary(r)}\n`);
  writeFileSync(paths.chart, renderChart(r, formatSummary(r)));
  return paths;
}
