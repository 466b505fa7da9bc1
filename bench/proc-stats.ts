/**
 * What the kernel says a process used: CPU time from /proc/<pid>/stat, resident memory from
 * /proc/<pid>/status. Linux only, which is where the benchmark runs.
 *
 * @packageDocumentation
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { sum } from './stats.ts';

/** Clock ticks per second (USER_HZ), read once. */
const ticksPerSecond = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** User + system milliseconds and the command name in a /proc `stat` line. */
function parseStat(stat: string): { name: string; ms: number } {
  // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
  const close = stat.lastIndexOf(')');
  const fields = stat.slice(close + 2).split(' ');
  return { name: stat.slice(stat.indexOf('(') + 1, close), ms: ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond };
}

/** CPU time (user + system) a process has used, in milliseconds; null when it is gone. */
export function cpuMs(pid: number): number | null {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8')).ms;
  } catch {
    return null;
  }
}

/**
 * CPU milliseconds a Node process's V8 background threads have used (threads named
 * `V8Worker`: concurrent and parallel garbage collection, the optimizing compiler). The
 * process total includes them; V8's own profiler (`--cpu-prof`) does not see them. 0 when
 * the process is gone; threads that ended are not counted (V8's workers live as long as the
 * process).
 */
export function v8BackgroundCpuMs(pid: number): number {
  let total = 0;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const { name, ms } = parseStat(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'));
        if (name === 'V8Worker') total += ms;
      } catch { /* the thread ended */ }
    }
  } catch { /* the process ended */ }
  return total;
}

/** Resident set size now and its high-water mark, in MB; null when the process is gone. */
export function memoryMb(pid: number): { rss: number; peak: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
  } catch {
    return null;
  }
}

/**
 * Resets the process's RSS high-water mark to its current RSS (writes 5 to clear_refs, Linux
 * 4.0+), so that the next reading is the peak of what follows. Returns false when not allowed.
 */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** Busy and total jiffies of the whole machine (first line of /proc/stat). */
export function machineCpu(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = values[3] + (values[4] ?? 0);
  const total = sum(values);
  return { busy: total - idle, total };
}

/** CPU milliseconds of several processes, keyed by pid (absent pids are left out). */
export function cpuOf(pids: number[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of pids) {
    const ms = cpuMs(pid);
    if (ms !== null) out.set(pid, ms);
  }
  return out;
}

/**
 * CPU used between two readings of a set of processes. A process that appeared in between
 * counts from zero (it started during the window); one that vanished is not counted.
 */
export function cpuDelta(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, ms] of after) total += ms - (before.get(pid) ?? 0);
  return total;
}
