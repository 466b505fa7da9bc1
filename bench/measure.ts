/**
 * One measured run: a scenario against one target at one concurrency. The load workers warm
 * up, then run a timed window; meanwhile the orchestrator reads the servers' CPU time and
 * memory from /proc at the window's edges.
 *
 * @packageDocumentation
 */
import type { Scenario, TargetSpec } from './flows.ts';
import type { LoadWorker } from './load.ts';
import { cpuDelta, cpuOf, machineCpu, memoryMb, resetPeakRss, v8BackgroundCpuMs } from './proc-stats.ts';
import { percentile, sum } from './stats.ts';
import { mergeFailures, noFailures, type Failures, type WindowResult } from './window.ts';

/** What one run measured. */
export interface RunMeasurement {
  target: TargetSpec['name'];
  scenario: Scenario;
  concurrency: number;
  repeat: number;
  durationS: number;
  flows: number;
  requests: number;
  flowsPerSec: number;
  requestsPerSec: number;
  p50: number;
  p95: number;
  p99: number;
  /** CPU of the server processes (all Tobira instances, or the baseline) per completed flow. */
  serverCpuMsPerFlow: number;
  /** The part of serverCpuMsPerFlow on V8's background threads (garbage collection, optimizing compiler). */
  v8BackgroundCpuMsPerFlow: number;
  /** CPU of the Postgres backends serving Tobira's database per completed flow (0 for the baseline). */
  dbCpuMsPerFlow: number;
  /** CPU of the load generator per completed flow. */
  loadCpuMsPerFlow: number;
  /** Cores the server processes kept busy on average. */
  serverCores: number;
  /** Share of the whole machine busy during the window (other work included). */
  machineBusy: number;
  /** Highest resident memory of a server process during the run (warm-up included), MB. */
  peakRssMb: number;
  /** Resident memory of each server process at the end of the window, MB. */
  rssMb: number[];
  failures: Failures;
  /** RSS of the largest server process over time, seconds from the window's start (only when sampling was asked for). */
  rssSamples?: { t: number; rssMb: number }[];
}

/** What the orchestrator knows about the processes of a target. */
export interface TargetProcesses {
  spec: TargetSpec;
  /** Server pids whose CPU and memory are measured. */
  pids: number[];
  /** Pids of database backends serving the target (looked up at each edge). */
  dbPids(): Promise<number[]>;
}

/** How long to warm up and measure. */
export interface RunTiming { warmupMs: number; durationMs: number; sampleEveryMs?: number }

const waitUntil = (t: number) => new Promise((ok) => setTimeout(ok, Math.max(0, t - Date.now())));

/** Splits `total` virtual users over `workers` as evenly as possible. */
export function shares(total: number, workers: number): number[] {
  return Array.from({ length: workers }, (_, i) => Math.floor(total / workers) + (i < total % workers ? 1 : 0));
}

/** Runs one scenario at one concurrency against one target and measures it. */
export async function measureRun(
  workers: LoadWorker[], target: TargetProcesses, scenario: Scenario, concurrency: number, repeat: number, timing: RunTiming,
): Promise<RunMeasurement> {
  const split = shares(concurrency, workers.length);
  const active = workers.filter((_, i) => split[i] > 0);
  await Promise.all(active.map((w) => w.send({ type: 'prepare', target: target.spec.name, scenario, vus: split[workers.indexOf(w)] })));

  for (const pid of target.pids) resetPeakRss(pid);
  const startAt = Date.now() + 100;
  const plan = { startAt, warmupUntil: startAt + timing.warmupMs, measureUntil: startAt + timing.warmupMs + timing.durationMs };
  const results = Promise.all(active.map((w) => w.send({ type: 'go', plan })));
  const samples: { t: number; rssMb: number }[] = [];
  const sampler = timing.sampleEveryMs ? setInterval(() => {
    // The largest process: with several instances each must stay flat on its own.
    const rss = Math.max(...target.pids.map((p) => memoryMb(p)?.rss ?? 0));
    samples.push({ t: (Date.now() - plan.warmupUntil) / 1000, rssMb: rss });
  }, timing.sampleEveryMs) : undefined;

  await waitUntil(plan.warmupUntil);
  const serverBefore = cpuOf(target.pids);
  const v8Before = sum(target.pids.map(v8BackgroundCpuMs));
  const loadBefore = cpuOf(workers.map((w) => w.pid));
  const machineBefore = machineCpu();
  const dbPidsBefore = await target.dbPids();
  const dbBefore = cpuOf(dbPidsBefore);

  await waitUntil(plan.measureUntil);
  const serverAfter = cpuOf(target.pids);
  const v8After = sum(target.pids.map(v8BackgroundCpuMs));
  const loadAfter = cpuOf(workers.map((w) => w.pid));
  const machineAfter = machineCpu();
  const dbAfter = cpuOf([...new Set([...dbPidsBefore, ...(await target.dbPids())])]);
  const memory = target.pids.map((p) => memoryMb(p));
  if (sampler) clearInterval(sampler);

  const merged = mergeResults((await results) as WindowResult[]);
  const seconds = timing.durationMs / 1000;
  const perFlow = (ms: number) => (merged.flows ? ms / merged.flows : NaN);
  const serverCpu = cpuDelta(serverBefore, serverAfter);
  return {
    target: target.spec.name, scenario, concurrency, repeat, durationS: seconds,
    flows: merged.flows, requests: merged.requests,
    flowsPerSec: merged.flows / seconds, requestsPerSec: merged.requests / seconds,
    p50: percentile(merged.latencies, 50), p95: percentile(merged.latencies, 95), p99: percentile(merged.latencies, 99),
    serverCpuMsPerFlow: perFlow(serverCpu),
    v8BackgroundCpuMsPerFlow: perFlow(v8After - v8Before),
    dbCpuMsPerFlow: target.spec.name === 'baseline' ? 0 : perFlow(cpuDelta(dbBefore, dbAfter)),
    loadCpuMsPerFlow: perFlow(cpuDelta(loadBefore, loadAfter)),
    serverCores: serverCpu / timing.durationMs,
    machineBusy: (machineAfter.busy - machineBefore.busy) / Math.max(1, machineAfter.total - machineBefore.total),
    peakRssMb: Math.max(...memory.map((m) => m?.peak ?? 0)),
    rssMb: memory.map((m) => m?.rss ?? 0),
    failures: merged.failures,
    ...(sampler ? { rssSamples: samples } : {}),
  };
}

function mergeResults(results: WindowResult[]): WindowResult {
  const failures = noFailures();
  for (const r of results) mergeFailures(failures, r.failures);
  return {
    flows: results.reduce((a, r) => a + r.flows, 0),
    requests: results.reduce((a, r) => a + r.requests, 0),
    latencies: results.flatMap((r) => r.latencies),
    warmupFlows: results.reduce((a, r) => a + r.warmupFlows, 0),
    failures,
  };
}
