/**
 * Turns measured runs into the report: medians per scenario, concurrency and target, Tobira as
 * a ratio of the baseline, the targets of docs/performance.md (met, or missed by how much), the
 * soak's memory trend, every failure, and the profile's hot spots.
 *
 * @packageDocumentation
 */
import { cpus } from 'node:os';
import { execFileSync } from 'node:child_process';
import type { Scenario, TargetSpec } from './flows.ts';
import type { RunMeasurement } from './measure.ts';
import { productionEnv, type BenchOptions } from './options.ts';
import type { ProfileSummary } from './profile.ts';
import { fmt, median, slope } from './stats.ts';
import { mergeFailures, noFailures, type Failures } from './window.ts';

/** Medians of one target's repeats of one scenario at one concurrency. */
export interface Aggregate {
  repeats: number;
  flowsPerSec: number;
  requestsPerSec: number;
  p50: number;
  p95: number;
  p99: number;
  serverCpuMsPerFlow: number;
  /** The part of serverCpuMsPerFlow on V8's background threads (garbage collection, optimizing compiler). */
  v8BackgroundCpuMsPerFlow: number;
  dbCpuMsPerFlow: number;
  loadCpuMsPerFlow: number;
  serverCores: number;
  machineBusy: number;
  /** Highest of the repeats. */
  peakRssMb: number;
  /** Summed over the repeats. */
  failures: Failures;
}

/** One line of the table: a scenario at a concurrency, both targets, and the ratios. */
export interface Row {
  scenario: Scenario;
  concurrency: number;
  tobira?: Aggregate;
  baseline?: Aggregate;
  /** Tobira from another checkout (--candidate). */
  candidate?: Aggregate;
  /** Tobira ÷ baseline. */
  ratio: { throughput: number; p99: number; cpu: number; cpuWithDb: number };
  /** Candidate ÷ Tobira, with --candidate. */
  candidateRatio?: { throughput: number; p99: number; cpu: number; cpuWithDb: number };
}

/** A target of issue 3, checked against this run. */
export interface TargetCheck {
  name: string;
  measured: string;
  wanted: string;
  /** null when this run did not measure it. */
  met: boolean | null;
  detail: string;
}

/** The soak's memory trend. */
export interface SoakSummary {
  seconds: number;
  concurrency: number;
  flowsPerSec: number;
  failed: number;
  rssFirstMb: number;
  rssLastMb: number;
  growthMb: number;
  slopeMbPerMin: number;
  peakRssMb: number;
  samples: { t: number; rssMb: number }[];
}

/** Everything the benchmark writes to JSON. */
export interface Report {
  generatedAt: string;
  environment: { node: string; cpus: number; cpuModel: string; commit: string };
  options: Omit<BenchOptions, 'databaseUrl' | 'redisUrl'>;
  rows: Row[];
  targets: TargetCheck[];
  failedFlows: number;
  soak?: SoakSummary;
  /** Where each server's CPU went, with --cpu-prof. */
  profiles?: { tobira?: ProfileSummary; baseline?: ProfileSummary; candidate?: ProfileSummary };
  runs: RunMeasurement[];
  logDir: string;
}

function aggregate(runs: RunMeasurement[]): Aggregate | undefined {
  if (!runs.length) return undefined;
  const m = (pick: (r: RunMeasurement) => number) => median(runs.map(pick));
  const failures = noFailures();
  for (const r of runs) mergeFailures(failures, r.failures);
  return {
    repeats: runs.length,
    flowsPerSec: m((r) => r.flowsPerSec), requestsPerSec: m((r) => r.requestsPerSec),
    p50: m((r) => r.p50), p95: m((r) => r.p95), p99: m((r) => r.p99),
    serverCpuMsPerFlow: m((r) => r.serverCpuMsPerFlow), v8BackgroundCpuMsPerFlow: m((r) => r.v8BackgroundCpuMsPerFlow),
    dbCpuMsPerFlow: m((r) => r.dbCpuMsPerFlow),
    loadCpuMsPerFlow: m((r) => r.loadCpuMsPerFlow), serverCores: m((r) => r.serverCores), machineBusy: m((r) => r.machineBusy),
    peakRssMb: Math.max(...runs.map((r) => r.peakRssMb)),
    failures,
  };
}

function ratios(a: Aggregate | undefined, b: Aggregate | undefined, bothWithDb = false): Row['ratio'] {
  const ratio = (x?: number, y?: number) => (x !== undefined && y ? x / y : NaN);
  return {
    throughput: ratio(a?.flowsPerSec, b?.flowsPerSec),
    p99: ratio(a?.p99, b?.p99),
    cpu: ratio(a?.serverCpuMsPerFlow, b?.serverCpuMsPerFlow),
    cpuWithDb: ratio(a && a.serverCpuMsPerFlow + a.dbCpuMsPerFlow, b && b.serverCpuMsPerFlow + (bothWithDb ? b.dbCpuMsPerFlow : 0)),
  };
}

function rowsOf(runs: RunMeasurement[]): Row[] {
  const keys = [...new Set(runs.map((r) => `${r.scenario}|${r.concurrency}`))];
  return keys.map((key) => {
    const [scenario, c] = key.split('|');
    const of = (target: TargetSpec['name']) => aggregate(runs.filter((r) => r.scenario === scenario && r.concurrency === Number(c) && r.target === target));
    const tobira = of('tobira');
    const baseline = of('baseline');
    const candidate = of('candidate');
    return {
      scenario: scenario as Scenario, concurrency: Number(c), tobira, baseline, candidate,
      ratio: ratios(tobira, baseline),
      ...(candidate ? { candidateRatio: ratios(candidate, tobira, true) } : {}),
    };
  });
}

/** A "ratio at least / at most" check, saying by how much it was missed. */
function ratioCheck(name: string, value: number, bound: number, atLeast: boolean): TargetCheck {
  const wanted = `${atLeast ? '≥' : '≤'} ${bound}×`;
  if (Number.isNaN(value)) return { name, measured: '–', wanted, met: null, detail: 'not measured in this run' };
  const met = atLeast ? value >= bound : value <= bound;
  const by = atLeast ? 1 - value / bound : value / bound - 1;
  return { name, measured: `${fmt(value)}×`, wanted, met, detail: met ? 'met' : `missed by ${(by * 100).toFixed(0)}%` };
}

function checks(rows: Row[], runs: RunMeasurement[], soak: SoakSummary | undefined): TargetCheck[] {
  const row = (s: Scenario, c: number) => rows.find((r) => r.scenario === s && r.concurrency === c);
  const out: TargetCheck[] = [];
  for (const c of [8, 32]) {
    out.push(ratioCheck(`sign-in flows/s at c=${c}, Tobira ÷ baseline`, row('signin', c)?.ratio.throughput ?? NaN, 0.6, true));
    out.push(ratioCheck(`sign-in server CPU per flow at c=${c}, Tobira ÷ baseline`, row('signin', c)?.ratio.cpu ?? NaN, 1.5, false));
  }
  out.push(ratioCheck('sign-in p99 at c=8, Tobira ÷ baseline', row('signin', 8)?.ratio.p99 ?? NaN, 2, false));
  for (const r of rows.filter((x) => x.scenario === 'refresh')) {
    out.push(ratioCheck(`refresh grants/s at c=${r.concurrency}, Tobira ÷ baseline`, r.ratio.throughput, 0.5, true));
  }
  const tobiraRuns = runs.filter((r) => r.target === 'tobira');
  const peak = Math.max(...tobiraRuns.map((r) => r.peakRssMb), soak?.peakRssMb ?? 0);
  out.push({
    name: 'peak RSS of a Tobira process', measured: `${fmt(peak)} MB`, wanted: '≤ 200 MB', met: tobiraRuns.length ? peak <= 200 : null,
    detail: peak <= 200 ? 'met' : `missed by ${fmt(peak - 200)} MB`,
  });
  out.push(soak
    ? {
      name: `RSS growth over a ${soak.seconds} s soak`, measured: `${fmt(soak.growthMb)} MB (${fmt(soak.slopeMbPerMin)} MB/min)`, wanted: '< 10 MB',
      met: soak.growthMb < 10, detail: soak.growthMb < 10 ? 'met' : `grew ${fmt(soak.growthMb)} MB`,
    }
    : { name: 'RSS growth over a soak', measured: '–', wanted: '< 10 MB', met: null, detail: 'run with --soak 300' });
  const failed = runs.reduce((a, r) => a + r.failures.total, 0) + (soak?.failed ?? 0);
  out.push({ name: 'failed flows (all runs, both targets)', measured: String(failed), wanted: '0', met: failed === 0, detail: failed ? `${failed} failed` : 'met' });
  return out;
}

function soakSummary(run: RunMeasurement | undefined): SoakSummary | undefined {
  const samples = run?.rssSamples;
  if (!run || !samples?.length) return undefined;
  const fifth = Math.max(1, Math.floor(samples.length / 5));
  const first = median(samples.slice(0, fifth).map((s) => s.rssMb));
  const last = median(samples.slice(-fifth).map((s) => s.rssMb));
  return {
    seconds: run.durationS, concurrency: run.concurrency, flowsPerSec: run.flowsPerSec, failed: run.failures.total,
    rssFirstMb: first, rssLastMb: last, growthMb: last - first,
    slopeMbPerMin: slope(samples.map((s) => ({ x: s.t / 60, y: s.rssMb }))), peakRssMb: run.peakRssMb, samples,
  };
}

function commit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

/** Builds the report from the runs. */
export function buildReport(input: {
  options: BenchOptions; runs: RunMeasurement[]; soak?: RunMeasurement; profiles?: Report['profiles']; logDir: string;
}): Report {
  const rows = rowsOf(input.runs);
  const soak = soakSummary(input.soak);
  const { databaseUrl: _d, redisUrl: _r, ...options } = input.options;
  const targets = checks(rows, input.runs, soak);
  return {
    generatedAt: new Date().toISOString(),
    environment: { node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', commit: commit() },
    options, rows, targets,
    failedFlows: input.runs.reduce((a, r) => a + r.failures.total, 0) + (soak?.failed ?? 0),
    soak, profiles: input.profiles, runs: input.runs, logDir: input.logDir,
  };
}

const latency = (a?: Aggregate) => (a ? `${fmt(a.p50)} / ${fmt(a.p95)} / ${fmt(a.p99)}` : '–');
const ratio = (v: number) => (Number.isNaN(v) ? '–' : `${fmt(v)}×`);

function table(report: Report): string[] {
  const head = '| scenario | c | Tobira flows/s | baseline flows/s | ratio | Tobira p50 / p95 / p99 ms | baseline p50 / p95 / p99 ms | p99 ratio '
    + '| Tobira CPU ms/flow | + Postgres | baseline CPU ms/flow | CPU ratio | Tobira peak RSS MB | failed (Tobira / baseline) |';
  const lines = [head, `|${'---|'.repeat(14)}`];
  for (const r of report.rows) {
    const t = r.tobira;
    const b = r.baseline;
    lines.push(`| ${r.scenario} | ${r.concurrency} | ${fmt(t?.flowsPerSec)} | ${fmt(b?.flowsPerSec)} | ${ratio(r.ratio.throughput)} `
      + `| ${latency(t)} | ${latency(b)} | ${ratio(r.ratio.p99)} | ${fmt(t?.serverCpuMsPerFlow)} | ${fmt(t?.dbCpuMsPerFlow)} `
      + `| ${fmt(b?.serverCpuMsPerFlow)} | ${ratio(r.ratio.cpu)} | ${fmt(t?.peakRssMb)} | ${t?.failures.total ?? '–'} / ${b?.failures.total ?? '–'} |`);
  }
  return lines;
}

/** Server CPU split by thread: V8's background threads are garbage collection and the optimizing compiler. */
function threadTable(report: Report): string[] {
  const split = (a?: Aggregate) => (a ? `${fmt(a.serverCpuMsPerFlow - a.v8BackgroundCpuMsPerFlow)} | ${fmt(a.v8BackgroundCpuMsPerFlow)}` : '– | –');
  return [
    '', '### Server CPU by thread (ms per flow)', '',
    'V8\'s background threads run concurrent and parallel garbage collection and the optimizing compiler. '
    + 'The main thread runs JavaScript, the rest of garbage collection, and the kernel work of its sockets.', '',
    '| scenario | c | Tobira main and other threads | Tobira V8 background | baseline main and other threads | baseline V8 background |',
    `|${'---|'.repeat(6)}`,
    ...report.rows.map((r) => `| ${r.scenario} | ${r.concurrency} | ${split(r.tobira)} | ${split(r.baseline)} |`),
  ];
}

function candidateTable(report: Report): string[] {
  if (!report.rows.some((r) => r.candidate)) return [];
  const lines = [
    '', `### Candidate (${report.options.candidate}) vs this Tobira`, '',
    '| scenario | c | flows/s | ratio | p99 ms | ratio | CPU ms/flow | + Postgres | CPU ratio (with Postgres) | failed |',
    `|${'---|'.repeat(10)}`,
  ];
  for (const r of report.rows.filter((x) => x.candidate)) {
    const c = r.candidate!;
    const q = r.candidateRatio!;
    lines.push(`| ${r.scenario} | ${r.concurrency} | ${fmt(c.flowsPerSec)} | ${ratio(q.throughput)} | ${fmt(c.p99)} | ${ratio(q.p99)} `
      + `| ${fmt(c.serverCpuMsPerFlow)} | ${fmt(c.dbCpuMsPerFlow)} | ${ratio(q.cpu)} (${ratio(q.cpuWithDb)}) | ${c.failures.total} |`);
  }
  return lines;
}

/**
 * How many requests a sign-in took on each server, as measured: Tobira finishes the
 * authorization in the verification's request, so its browser skips the redirect back through
 * `/auth/:uid` that the baseline's takes.
 */
function signInRequests(runs: RunMeasurement[]): string {
  const per = (target: string) => {
    const mine = runs.filter((r) => r.scenario === 'signin' && r.target === target && r.flows > 0);
    return mine.length ? Math.round(mine.reduce((sum, r) => sum + r.requests / r.flows, 0) / mine.length) : undefined;
  };
  const counts = ['tobira', 'baseline', 'candidate'].map((target) => [target, per(target)] as const).filter(([, n]) => n !== undefined);
  if (!counts.length) return '';
  return `A \`signin\` flow is ${counts.map(([target, n]) => `${n} requests to ${target === 'tobira' ? 'Tobira' : `the ${target}`}`).join(', ')}; `;
}

/** The report as markdown (what `npm run bench` prints on stdout). */
export function renderMarkdown(report: Report): string {
  const o = report.options;
  const out = [
    `## Tobira vs baseline — ${report.generatedAt.slice(0, 16).replace('T', ' ')} UTC, commit ${report.environment.commit}`,
    '',
    `${report.environment.cpus} × ${report.environment.cpuModel}, Node ${report.environment.node}; ${o.instances} Tobira instance(s)`
    + `${o.nodeArgs.length ? ` (node ${o.nodeArgs.join(' ')})` : ' (V8\'s default heap)'}`
    + ` with ${Object.entries(productionEnv).map(([k, v]) => `${k}=${v}`).join(' ')}, `
    + `${o.workers} load worker(s), ${o.identifierFirst ? 'identifier-first' : 'discoverable'} passkey sign-in. `
    + `Medians of ${o.repeat} window(s) of ${o.durationS} s after ${o.warmupS} s warm-up. ${signInRequests(report.runs)}`
    + '`discovery` is 2 requests, the grants 1. CPU is user + system time of the server process(es) per completed flow; '
    + '"+ Postgres" is what the database backends serving Tobira added.',
    '',
    ...table(report),
    ...threadTable(report),
    ...candidateTable(report),
    '',
    '### Targets',
    '',
    '| target | measured | wanted | result |',
    '|---|---|---|---|',
    ...report.targets.map((t) => `| ${t.name} | ${t.measured} | ${t.wanted} | ${t.met === null ? '–' : t.met ? '✅' : '❌'} ${t.detail} |`),
  ];
  if (report.soak) {
    const s = report.soak;
    out.push('', `### Soak: sign-in at c=${s.concurrency} for ${s.seconds} s`, '',
      `${fmt(s.flowsPerSec)} flows/s, ${s.failed} failed; RSS ${fmt(s.rssFirstMb)} MB in the first fifth, ${fmt(s.rssLastMb)} MB in the last `
      + `(${fmt(s.growthMb)} MB, trend ${fmt(s.slopeMbPerMin)} MB/min), peak ${fmt(s.peakRssMb)} MB.`);
  }
  const reasons = new Map<string, number>();
  for (const r of report.runs) for (const [why, n] of Object.entries(r.failures.reasons)) reasons.set(`${r.target} ${r.scenario} c=${r.concurrency}: ${why}`, (reasons.get(`${r.target} ${r.scenario} c=${r.concurrency}: ${why}`) ?? 0) + n);
  if (reasons.size) out.push('', '### Failed flows', '', ...[...reasons].map(([why, n]) => `- ${n} × ${why}`));
  if (report.profiles?.tobira) out.push('', ...profileTables(report));
  return out.join('\n');
}

/**
 * Main-thread CPU per flow of a target when the run measured a single scenario (then a profile's
 * shares convert to ms per flow). V8's profile covers the main thread only.
 */
function singleScenarioCpu(report: Report, target: TargetSpec['name']): number | undefined {
  const scenarios = new Set(report.runs.map((r) => r.scenario));
  if (scenarios.size !== 1) return undefined;
  return median(report.runs.filter((r) => r.target === target).map((r) => r.serverCpuMsPerFlow - r.v8BackgroundCpuMsPerFlow));
}

function profileTables(report: Report): string[] {
  const { tobira, baseline } = report.profiles!;
  const perFlow = { tobira: singleScenarioCpu(report, 'tobira'), baseline: singleScenarioCpu(report, 'baseline') };
  const cell = (p: ProfileSummary | undefined, name: string, cpu?: number) => {
    const e = p?.byArea.find((x) => x.name === name);
    if (!e) return '– | –';
    return `${(e.share * 100).toFixed(1)}% | ${cpu === undefined ? '–' : fmt(e.share * cpu)}`;
  };
  const areas = [...new Set([...(tobira?.byArea ?? []), ...(baseline?.byArea ?? [])].map((e) => e.name))].slice(0, 16);
  return [
    `### Where the CPU went (V8 profiles, self time; ms per flow when one scenario ran)`,
    '',
    'V8\'s profiler samples the main thread by wall-clock time. On a busy machine a thread that loses its core inside a '
    + 'system call (a socket write that wakes Postgres) goes on collecting samples there, so `writev` and similar look '
    + 'dearer than they are; `perf` measures time on a CPU (docs/performance.md, "Keeping it so").',
    '',
    '| area | Tobira share | Tobira ms/flow | baseline share | baseline ms/flow |',
    '|---|---|---|---|---|',
    ...areas.map((a) => `| ${a} | ${cell(tobira, a, perFlow.tobira)} | ${cell(baseline, a, perFlow.baseline)} |`),
    '',
    '| Tobira: hottest functions (self) | share |',
    '|---|---|',
    ...(tobira?.byFunction ?? []).slice(0, 15).map((e) => `| \`${e.name}\` | ${(e.share * 100).toFixed(1)}% |`),
  ];
}
