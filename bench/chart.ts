/**
 * The report's chart, written by hand as SVG: for each scenario, throughput and p99 latency
 * against concurrency, Tobira beside the baseline.
 *
 * @packageDocumentation
 */
import type { Scenario } from './flows.ts';
import type { Aggregate, Report, Row } from './report.ts';
import { fmt } from './stats.ts';

const panel = { width: 380, height: 220, left: 64, right: 16, top: 34, bottom: 40 };
const colors = { tobira: '#d9480f', baseline: '#1c7ed6', candidate: '#2b8a3e' };

/** What one flow of each scenario is, for the throughput axis. */
const units: Record<Scenario, string> = { signin: 'sign-ins/s', refresh: 'grants/s', client_credentials: 'grants/s', discovery: 'discovery + JWKS/s' };

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A "nice" axis maximum and step (1, 2 or 5 × 10^n) covering `max`. */
export function niceAxis(max: number, ticks = 4): { top: number; step: number } {
  if (!(max > 0)) return { top: 1, step: 0.25 };
  const raw = max / ticks;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw)!;
  return { top: Math.ceil(max / step) * step, step };
}

interface Series { name: 'tobira' | 'baseline' | 'candidate'; points: { c: number; v: number }[] }

function seriesOf(rows: Row[], pick: (a: Aggregate) => number): Series[] {
  return (['baseline', 'tobira', 'candidate'] as const).map((name) => ({
    name,
    points: rows.filter((r) => r[name]).map((r) => ({ c: r.concurrency, v: pick(r[name]!) })).filter((p) => Number.isFinite(p.v)),
  }));
}

function drawPanel(x0: number, y0: number, title: string, unit: string, concurrencies: number[], series: Series[]): string {
  const w = panel.width - panel.left - panel.right;
  const h = panel.height - panel.top - panel.bottom;
  const { top, step } = niceAxis(Math.max(0, ...series.flatMap((s) => s.points.map((p) => p.v))));
  const xAt = (c: number) => panel.left + (concurrencies.length === 1 ? w / 2 : (concurrencies.indexOf(c) / (concurrencies.length - 1)) * w);
  const yAt = (v: number) => panel.top + h - (v / top) * h;
  const parts = [`<g transform="translate(${x0},${y0})">`, `<text x="${panel.left}" y="20" class="title">${esc(title)}</text>`];
  for (let v = 0; v <= top + step / 2; v += step) {
    parts.push(`<line x1="${panel.left}" x2="${panel.left + w}" y1="${yAt(v)}" y2="${yAt(v)}" class="grid"/>`,
      `<text x="${panel.left - 6}" y="${yAt(v) + 4}" class="tick" text-anchor="end">${fmt(v)}</text>`);
  }
  for (const c of concurrencies) parts.push(`<text x="${xAt(c)}" y="${panel.top + h + 16}" class="tick" text-anchor="middle">${c}</text>`);
  parts.push(`<text x="${panel.left + w / 2}" y="${panel.height - 6}" class="axis" text-anchor="middle">concurrency (virtual users)</text>`,
    `<text transform="translate(14,${panel.top + h / 2}) rotate(-90)" class="axis" text-anchor="middle">${esc(unit)}</text>`);
  for (const s of series) {
    if (!s.points.length) continue;
    const path = s.points.map((p, i) => `${i ? 'L' : 'M'}${xAt(p.c).toFixed(1)},${yAt(p.v).toFixed(1)}`).join(' ');
    parts.push(`<path d="${path}" class="line ${s.name}"/>`,
      ...s.points.map((p) => `<circle cx="${xAt(p.c).toFixed(1)}" cy="${yAt(p.v).toFixed(1)}" r="3.5" class="dot ${s.name}"><title>${s.name} c=${p.c}: ${fmt(p.v)} ${esc(unit)}</title></circle>`));
  }
  parts.push('</g>');
  return parts.join('\n');
}

/** Renders the chart for a report. */
export function renderChart(report: Report): string {
  const scenarios = [...new Set(report.rows.map((r) => r.scenario))];
  const concurrencies = [...new Set(report.rows.map((r) => r.concurrency))].sort((a, b) => a - b);
  const header = 56;
  const width = panel.width * 2;
  const height = header + panel.height * scenarios.length + 10;
  const body = scenarios.flatMap((scenario, i) => {
    const rows = report.rows.filter((r) => r.scenario === scenario);
    const y = header + i * panel.height;
    return [
      drawPanel(0, y, `${scenario}: throughput`, units[scenario], concurrencies, seriesOf(rows, (a) => a.flowsPerSec)),
      drawPanel(panel.width, y, `${scenario}: p99 latency`, 'ms', concurrencies, seriesOf(rows, (a) => a.p99)),
    ];
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif">
<style>
  .title { font-size: 13px; font-weight: 600; fill: #222; }
  .tick { font-size: 10px; fill: #555; }
  .axis { font-size: 10px; fill: #777; }
  .grid { stroke: #e5e5e5; stroke-width: 1; }
  .line { fill: none; stroke-width: 2; }
  .line.tobira { stroke: ${colors.tobira}; }
  .line.baseline { stroke: ${colors.baseline}; stroke-dasharray: 6 4; }
  .dot.tobira { fill: ${colors.tobira}; }
  .dot.baseline { fill: ${colors.baseline}; }
  .line.candidate { stroke: ${colors.candidate}; stroke-dasharray: 2 3; }
  .dot.candidate { fill: ${colors.candidate}; }
</style>
<rect width="100%" height="100%" fill="#fff"/>
<text x="16" y="24" class="title" style="font-size:14px">Tobira vs baseline: ${esc(report.generatedAt.slice(0, 10))}, commit ${esc(report.environment.commit)}, ${report.options.instances} Tobira instance(s), ${report.environment.cpus} cores</text>
<g transform="translate(16,36)">
  <line x1="0" x2="24" y1="6" y2="6" class="line tobira"/><text x="30" y="10" class="tick">Tobira (Postgres + Redis)</text>
  <line x1="190" x2="214" y1="6" y2="6" class="line baseline"/><text x="220" y="10" class="tick">baseline (no database)</text>
  ${report.options.candidate ? '<line x1="360" x2="384" y1="6" y2="6" class="line candidate"/><text x="390" y="10" class="tick">candidate</text>' : ''}
</g>
${body.join('\n')}
</svg>
`;
}
