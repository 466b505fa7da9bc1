/**
 * Server-rendered SVG charts for the dashboard: no script, no inline style (the CSP allows
 * neither), a title and description for screen readers, and the same numbers as a table.
 */

/** One stacked series: a label and a value per bucket. */
export interface ChartSeries { label: string; values: number[] }

/** A chart ready for a page: SVG markup, legend entries and the table fallback. */
export interface Chart {
  id: string;
  title: string;
  svg: string;
  legend: { label: string; color: string; total: number }[];
  table: { head: string[]; rows: string[][] };
  total: number;
}

/** Okabe–Ito colours: told apart with the common colour-vision deficiencies. */
export const chartColors = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#6b6b6b'];

const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A round upper bound for the y axis (1, 2, 5 × 10^n). */
export function niceMax(value: number): number {
  if (value <= 4) return 4;
  const power = 10 ** Math.floor(Math.log10(value));
  const step = [1, 2, 5, 10].find((m) => m * power >= value)!;
  return step * power;
}

// Small enough that tick labels stay readable when a phone shrinks the chart to ~330px.
const width = 480;
const height = 220;
const margin = { top: 12, right: 6, bottom: 30, left: 40 };

/**
 * A stacked bar chart over time buckets. `labels` name the buckets (every `tickEvery`-th one is
 * printed under the axis); `description` says in words what the chart shows.
 */
export function stackedBarChart(options: {
  id: string; title: string; description: string; labels: string[]; tickEvery: number;
  series: ChartSeries[]; bucketHeading: string; totalHeading: string; colors?: string[];
}): Chart {
  const { id, title, description, labels, series, tickEvery } = options;
  const colors = options.colors ?? chartColors;
  const stacks = labels.map((_, i) => series.reduce((sum, s) => sum + (s.values[i] ?? 0), 0));
  const max = niceMax(Math.max(0, ...stacks));
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const slot = plotW / Math.max(1, labels.length);
  const barW = Math.max(2, slot * 0.72);
  const y = (v: number) => margin.top + plotH - (v / max) * plotH;

  const parts: string[] = [];
  for (const v of [0, max / 2, max]) {
    parts.push(`<line x1="${margin.left}" x2="${width - margin.right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#d5d9de" stroke-width="1"/>`);
    parts.push(`<text x="${margin.left - 6}" y="${(y(v) + 5).toFixed(1)}" text-anchor="end" font-size="13" fill="#5a5f66">${v}</text>`);
  }
  labels.forEach((label, i) => {
    const x = margin.left + i * slot + (slot - barW) / 2;
    let base = 0;
    series.forEach((s, k) => {
      const v = s.values[i] ?? 0;
      if (!v) return;
      const top = y(base + v);
      const h = y(base) - top;
      parts.push(`<rect x="${x.toFixed(1)}" y="${top.toFixed(1)}" width="${barW.toFixed(1)}" height="${Math.max(1, h).toFixed(1)}" fill="${colors[k % colors.length]}"><title>${escapeXml(`${label} · ${s.label}: ${v}`)}</title></rect>`);
      base += v;
    });
    if (i % tickEvery === 0) {
      parts.push(`<text x="${(margin.left + i * slot + slot / 2).toFixed(1)}" y="${height - 10}" text-anchor="middle" font-size="13" fill="#5a5f66">${escapeXml(label)}</text>`);
    }
  });
  parts.push(`<line x1="${margin.left}" x2="${width - margin.right}" y1="${y(0).toFixed(1)}" y2="${y(0).toFixed(1)}" stroke="#5a5f66" stroke-width="1"/>`);

  const svg = `<svg class="chart" id="${id}" viewBox="0 0 ${width} ${height}" role="img" aria-labelledby="${id}-title ${id}-desc" focusable="false" xmlns="http://www.w3.org/2000/svg">`
    + `<title id="${id}-title">${escapeXml(title)}</title><desc id="${id}-desc">${escapeXml(description)}</desc>${parts.join('')}</svg>`;
  const totals = series.map((s) => s.values.reduce((a, b) => a + b, 0));
  return {
    id,
    title,
    svg,
    legend: series.map((s, k) => ({ label: s.label, color: colors[k % colors.length], total: totals[k] })),
    table: {
      head: [options.bucketHeading, ...series.map((s) => s.label), options.totalHeading],
      rows: labels.map((label, i) => [label, ...series.map((s) => String(s.values[i] ?? 0)), String(stacks[i])]),
    },
    total: stacks.reduce((a, b) => a + b, 0),
  };
}

/**
 * Keeps the `keep` largest series and adds the rest up as one more (labelled `otherLabel`), so
 * that a chart stays readable with many clients.
 */
export function topSeries(series: ChartSeries[], keep: number, otherLabel: string): ChartSeries[] {
  if (series.length <= keep + 1) return series;
  const sum = (s: ChartSeries) => s.values.reduce((a, b) => a + b, 0);
  const sorted = [...series].sort((a, b) => sum(b) - sum(a));
  const rest = sorted.slice(keep);
  return [...sorted.slice(0, keep), { label: otherLabel, values: rest[0].values.map((_, i) => rest.reduce((a, s) => a + (s.values[i] ?? 0), 0)) }];
}
