/**
 * Reads V8 CPU profiles (`node --cpu-prof`) of Tobira and says where the time went: self time
 * by function, and by area (a package under node_modules, a file under src/, Node's internals,
 * the garbage collector).
 *
 * @packageDocumentation
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface CpuProfile { nodes: ProfileNode[]; startTime: number; endTime: number; samples: number[]; timeDeltas: number[] }

/** Self time of one entry, in milliseconds and as a share of busy time. */
export interface ProfileEntry { name: string; ms: number; share: number }

/** Where a profile's busy time went. */
export interface ProfileSummary {
  files: string[];
  busyMs: number;
  byArea: ProfileEntry[];
  byFunction: ProfileEntry[];
}

/** The area a script belongs to: a package, a file of Tobira's, or Node itself. */
export function areaOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1];
  if (url.startsWith('node:')) return 'node internals';
  const own = /\/((?:src|bench|migrations)\/.*)$/.exec(url);
  return own ? own[1] : url;
}

function selfTimes(profile: CpuProfile): Map<number, number> {
  const ms = new Map<number, number>();
  profile.samples.forEach((id, i) => ms.set(id, (ms.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000));
  return ms;
}

function top(map: Map<string, number>, busy: number, limit: number): ProfileEntry[] {
  return [...map].sort((a, b) => b[1] - a[1]).slice(0, limit).map(([name, ms]) => ({ name, ms, share: busy ? ms / busy : 0 }));
}

/** Summarises one or more .cpuprofile files together; idle time is left out. */
export function summariseProfiles(paths: string[], limit = 25): ProfileSummary {
  const byArea = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let busy = 0;
  for (const path of paths.filter((p) => p.endsWith('.cpuprofile'))) {
    const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
    const self = selfTimes(profile);
    for (const node of profile.nodes) {
      const ms = self.get(node.id) ?? 0;
      const { functionName, url, lineNumber } = node.callFrame;
      if (!ms || functionName === '(idle)') continue;
      busy += ms;
      const area = areaOf(url, functionName);
      byArea.set(area, (byArea.get(area) ?? 0) + ms);
      const where = url ? `${area === url ? basename(url) : area}:${lineNumber + 1}` : area;
      const name = `${functionName || '(anonymous)'} ${where}`;
      byFunction.set(name, (byFunction.get(name) ?? 0) + ms);
    }
  }
  return { files: paths.map((p) => basename(p)), busyMs: busy, byArea: top(byArea, busy, limit), byFunction: top(byFunction, busy, limit) };
}

if (import.meta.main) {
  const summary = summariseProfiles(process.argv.slice(2));
  const line = (e: ProfileEntry) => `${(e.share * 100).toFixed(1).padStart(5)}%  ${e.ms.toFixed(0).padStart(7)} ms  ${e.name}`;
  process.stdout.write(`busy ${summary.busyMs.toFixed(0)} ms\n\nby area\n${summary.byArea.map(line).join('\n')}\n\nby function (self)\n${summary.byFunction.map(line).join('\n')}\n`);
}
