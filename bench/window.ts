/**
 * Runs a pool of virtual users through a warm-up and a timed window, and counts what happened.
 * A flow counts toward throughput and latency when it completes inside the window. Every
 * failed flow is counted (warm-up, window or the drain after it) and its reason kept.
 *
 * @packageDocumentation
 */
import type { VirtualUser } from './flows.ts';

/** When the window opens and closes (epoch milliseconds, shared by every process). */
export interface WindowPlan { startAt: number; warmupUntil: number; measureUntil: number }

/** A failing flow is retried after this pause, so that a dead server is not spun against. */
const pauseAfterFailureMs = 20;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Failed flows: how many, in which phase, and why. */
export interface Failures {
  total: number;
  warmup: number;
  window: number;
  drain: number;
  /** Count per reason ("step: message"), at most 20 distinct reasons kept. */
  reasons: Record<string, number>;
}

/** What a pool of virtual users did in one window. */
export interface WindowResult {
  /** Flows that completed inside the window. */
  flows: number;
  /** Requests those flows sent. */
  requests: number;
  /** Latency of each of those flows, milliseconds. */
  latencies: number[];
  failures: Failures;
  /** Flows completed during warm-up (not counted). */
  warmupFlows: number;
}

/** An empty failure tally. */
export function noFailures(): Failures {
  return { total: 0, warmup: 0, window: 0, drain: 0, reasons: {} };
}

/** Adds a failure to a tally. */
export function countFailure(failures: Failures, phase: 'warmup' | 'window' | 'drain', error: unknown): void {
  failures.total++;
  failures[phase]++;
  const reason = String((error as Error)?.message ?? error).replace(/\s+/g, ' ').slice(0, 200);
  if (reason in failures.reasons || Object.keys(failures.reasons).length < 20) {
    failures.reasons[reason] = (failures.reasons[reason] ?? 0) + 1;
  } else {
    failures.reasons['(other reasons)'] = (failures.reasons['(other reasons)'] ?? 0) + 1;
  }
}

/** Merges failure tallies. */
export function mergeFailures(into: Failures, from: Failures): Failures {
  into.total += from.total;
  into.warmup += from.warmup;
  into.window += from.window;
  into.drain += from.drain;
  for (const [reason, n] of Object.entries(from.reasons)) into.reasons[reason] = (into.reasons[reason] ?? 0) + n;
  return into;
}

const phaseAt = (t: number, plan: WindowPlan) => (t < plan.warmupUntil ? 'warmup' : t <= plan.measureUntil ? 'window' : 'drain');

/**
 * Runs every virtual user in a loop until the window closes; flows in flight then finish
 * (the drain) and are checked too. Resolves when all virtual users have stopped.
 */
export async function runWindow(vus: VirtualUser[], plan: WindowPlan): Promise<WindowResult> {
  const result: WindowResult = { flows: 0, requests: 0, latencies: [], failures: noFailures(), warmupFlows: 0 };
  const loop = async (vu: VirtualUser) => {
    while (Date.now() < plan.measureUntil) {
      try {
        await vu.ready();
      } catch (error) {
        countFailure(result.failures, phaseAt(Date.now(), plan), error);
        await pause(pauseAfterFailureMs);
        continue;
      }
      const started = performance.now();
      try {
        const requests = await vu.flow();
        const ended = Date.now();
        const phase = phaseAt(ended, plan);
        if (phase === 'window') {
          result.flows++;
          result.requests += requests;
          result.latencies.push(performance.now() - started);
        } else if (phase === 'warmup') {
          result.warmupFlows++;
        }
      } catch (error) {
        countFailure(result.failures, phaseAt(Date.now(), plan), error);
        await pause(pauseAfterFailureMs);
      }
    }
  };
  if (plan.startAt > Date.now()) await pause(plan.startAt - Date.now());
  await Promise.all(vus.map(loop));
  return result;
}
