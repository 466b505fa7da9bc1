/**
 * `npm run bench`: starts Tobira (against real Postgres and Redis, fresh database) and the
 * baseline, seeds members with passkeys through the sign-up API, drives every scenario at every
 * concurrency from separate load-generator processes, and reports Tobira beside the baseline:
 * a markdown table on stdout, a JSON file and an SVG chart in bench/results/.
 *
 * docs/performance.md explains the method and holds the latest figures.
 *
 * @packageDocumentation
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createDataSource } from '../src/db/data-source.ts';
import { startSmtpSink, type SmtpSink } from '../test/helpers/smtp-sink.ts';
import type { BaselineSettings } from './baseline-server.ts';
import type { TargetSpec } from './flows.ts';
import { forkWorker, type LoadWorker } from './load.ts';
import { measureRun, type RunMeasurement, type TargetProcesses } from './measure.ts';
import { parseOptions, usage, type BenchOptions } from './options.ts';
import { freePort, repoRoot, startNode, waitUntilUp, type Child } from './processes.ts';
import { summariseProfiles } from './profile.ts';
import { buildReport, renderMarkdown } from './report.ts';
import { rotated } from './stats.ts';
import { renderChart } from './chart.ts';
import { benchRedirectUri, createBenchClients, seedBackgroundMembers, type BenchClients } from './seed.ts';
import { backendPids, clearRedisPrefix, dropDatabase, freshDatabase, startTobira, type TobiraDeployment } from './tobira-server.ts';

const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);

/** Everything started for a run, so that it can all be stopped. */
interface Running {
  smtp?: SmtpSink;
  /** Tobira, and the candidate with --candidate. */
  deployments: { deployment: TobiraDeployment; database: string }[];
  baseline?: Child;
  workers: LoadWorker[];
}

async function startBaseline(clients: BenchClients, logDir: string, cpuProfDir?: string): Promise<{ child: Child; issuer: string }> {
  const port = await freePort();
  const issuer = `http://localhost:${port}`;
  const settings: BaselineSettings = {
    port, issuer, clients: [clients.rp, clients.service], cookieKeys: [randomBytes(32).toString('base64url')],
  };
  const profiling = cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', cpuProfDir] : [];
  const child = startNode('baseline', [...profiling, 'bench/baseline-server.ts'], { BENCH_BASELINE: JSON.stringify(settings) }, join(logDir, 'baseline.log'));
  await waitUntilUp(child, `${issuer}/.well-known/openid-configuration`);
  return { child, issuer };
}

function targetSpec(name: TargetSpec['name'], issuer: string, instances: number, clients: BenchClients): TargetSpec {
  return {
    name, issuer, instances,
    rp: { clientId: clients.rp.client_id, clientSecret: clients.rp.client_secret, redirectUri: benchRedirectUri },
    service: { clientId: clients.service.client_id, clientSecret: clients.service.client_secret },
  };
}

/** Reads the sign-up code Tobira mailed to `email` from the SMTP sink. */
function codeReader(smtp: SmtpSink) {
  return async (email: string) => {
    const mail = await smtp.waitFor((m) => m.to.includes(email.toLowerCase()) && /\b\d{6}\b/.test(m.text), 15_000);
    smtp.messages.splice(smtp.messages.indexOf(mail), 1);
    return /\b(\d{6})\b/.exec(mail.text)![1];
  };
}

type Dirs = { logs: string; profiles: string; data: string };

/** A fresh database, Tobira on it (from `cwd`), its clients and background members. */
async function deploy(options: BenchOptions, running: Running, dirs: Dirs, name: 'tobira' | 'candidate', cwd?: string) {
  const database = name === 'tobira' ? options.databaseName : `${options.databaseName}_candidate`;
  log(`${name}: database ${database} (fresh), Redis ${options.redisUrl}${cwd ? `, code from ${cwd}` : ''}`);
  const databaseUrl = await freshDatabase(options.databaseUrl, database);
  const deployment = await startTobira({
    name, cwd, instances: options.instances, databaseUrl, redisUrl: options.redisUrl, smtpUrl: running.smtp!.url,
    dataDir: dirs.data, logDir: dirs.logs, cpuProfDir: options.cpuProf ? join(dirs.profiles, name) : undefined,
    nodeArgs: options.nodeArgs,
  });
  running.deployments.push({ deployment, database });
  log(`${name}: ${options.instances} instance(s) at ${deployment.issuer}, pid ${deployment.instances.map((c) => c.pid).join(', ')}`);
  const ds = createDataSource({ url: databaseUrl });
  await ds.initialize();
  try {
    const clients = await createBenchClients(ds);
    await seedBackgroundMembers(ds, options.backgroundMembers);
    const target: TargetProcesses = {
      spec: targetSpec(name, deployment.issuer, options.instances, clients),
      pids: deployment.instances.map((c) => c.pid),
      dbPids: () => backendPids(options.databaseUrl, database),
    };
    return { clients, target };
  } finally {
    await ds.destroy();
  }
}

async function setUp(options: BenchOptions, running: Running, dirs: Dirs) {
  running.smtp = await startSmtpSink();
  const { clients, target } = await deploy(options, running, dirs, 'tobira');
  const targets: TargetProcesses[] = [target];
  if (options.candidate) targets.push((await deploy(options, running, dirs, 'candidate', resolve(options.candidate))).target);
  if (options.baseline) {
    const baseline = await startBaseline(clients, dirs.logs, options.cpuProf ? join(dirs.profiles, 'baseline') : undefined);
    running.baseline = baseline.child;
    targets.unshift({ spec: targetSpec('baseline', baseline.issuer, 1, clients), pids: [baseline.child.pid], dbPids: async () => [] });
    log(`baseline at ${baseline.issuer}, pid ${baseline.child.pid}`);
  }
  const perWorker = Math.ceil(Math.max(...options.concurrency, options.soakS ? options.soakConcurrency : 1) / options.workers);
  running.workers = Array.from({ length: options.workers }, () => forkWorker(codeReader(running.smtp!)));
  log(`signing up ${perWorker * 2 * options.workers} members through the API (${options.backgroundMembers} more in the background)`);
  await Promise.all(running.workers.map((w, i) => w.send({
    type: 'init', worker: i, targets: targets.map((t) => t.spec), members: perWorker * 2, identifierFirst: options.identifierFirst,
  })));
  return targets;
}

async function measureAll(options: BenchOptions, running: Running, targets: TargetProcesses[]): Promise<RunMeasurement[]> {
  const runs: RunMeasurement[] = [];
  const timing = { warmupMs: options.warmupS * 1000, durationMs: options.durationS * 1000 };
  let round = 0;
  for (const scenario of options.scenarios) {
    for (const concurrency of options.concurrency) {
      for (let repeat = 1; repeat <= options.repeat; repeat++) {
        // Targets alternate inside each repeat, so that drift on a shared machine hits both, and
        // the order turns from one round to the next: on this machine, whichever of two servers
        // ran second measured better in 9 pairs of windows out of 10 (docs/performance.md,
        // "Windows"), so no target keeps one place.
        for (const target of rotated(targets, round++)) {
          const run = await measureRun(running.workers, target, scenario, concurrency, repeat, timing);
          runs.push(run);
          log(`${scenario} c=${concurrency} #${repeat} ${target.spec.name}: ${run.flowsPerSec.toFixed(1)} flows/s, p99 ${run.p99.toFixed(1)} ms, `
            + `${run.serverCpuMsPerFlow.toFixed(2)} CPU ms/flow, ${run.failures.total} failed`);
        }
      }
    }
  }
  return runs;
}

async function soak(options: BenchOptions, running: Running, targets: TargetProcesses[]): Promise<RunMeasurement | undefined> {
  if (!options.soakS) return undefined;
  log(`soak: signin at c=${options.soakConcurrency} for ${options.soakS} s, sampling RSS every 5 s`);
  const tobira = targets.find((t) => t.spec.name === 'tobira')!;
  return measureRun(running.workers, tobira, 'signin', options.soakConcurrency, 1, {
    warmupMs: options.warmupS * 1000, durationMs: options.soakS * 1000, sampleEveryMs: 5000,
  });
}

async function tearDown(options: BenchOptions, running: Running): Promise<void> {
  await Promise.allSettled(running.workers.map((w) => w.stop()));
  await running.baseline?.stop();
  for (const { deployment, database } of running.deployments) {
    await deployment.stop();
    await clearRedisPrefix(options.redisUrl, deployment.redisPrefix).catch(() => {});
    if (!options.keepDatabase) await dropDatabase(options.databaseUrl, database).catch(() => {});
  }
  await running.smtp?.close();
}

async function main(): Promise<void> {
  let options: BenchOptions | 'help';
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${usage}\n`);
    process.exit(64);
  }
  if (options === 'help') { process.stdout.write(`${usage}\n`); return; }

  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const outDir = resolve(repoRoot, options.outDir);
  const dirs = { logs: join(outDir, `logs-${stamp}`), profiles: join(outDir, `profiles-${stamp}`), data: mkdtempSync(join(tmpdir(), 'tobira-bench-')) };
  mkdirSync(dirs.logs, { recursive: true });
  if (options.cpuProf) for (const t of ['tobira', 'baseline', 'candidate']) mkdirSync(join(dirs.profiles, t), { recursive: true });
  const running: Running = { deployments: [], workers: [] };
  const interrupted = () => { void tearDown(options, running).finally(() => process.exit(130)); };
  process.once('SIGINT', interrupted);

  let runs: RunMeasurement[];
  let soakRun: RunMeasurement | undefined;
  try {
    const targets = await setUp(options, running, dirs);
    runs = await measureAll(options, running, targets);
    soakRun = await soak(options, running, targets);
  } finally {
    await tearDown(options, running);
    rmSync(dirs.data, { recursive: true, force: true });
  }

  const profileOf = (t: string) => summariseProfiles(readdirSync(join(dirs.profiles, t)).map((f) => join(dirs.profiles, t, f)));
  const profiles = options.cpuProf
    ? { tobira: profileOf('tobira'), ...(options.baseline ? { baseline: profileOf('baseline') } : {}), ...(options.candidate ? { candidate: profileOf('candidate') } : {}) }
    : undefined;
  const report = buildReport({ options, runs, soak: soakRun, profiles, logDir: dirs.logs });
  const json = join(outDir, `bench-${stamp}.json`);
  const svg = join(outDir, `bench-${stamp}.svg`);
  writeFileSync(json, JSON.stringify(report, null, 2));
  writeFileSync(join(outDir, 'latest.json'), JSON.stringify(report, null, 2));
  const chart = renderChart(report);
  writeFileSync(svg, chart);
  writeFileSync(join(outDir, 'latest.svg'), chart);
  process.stdout.write(`${renderMarkdown(report)}\n`);
  log(`wrote ${json} and ${svg}`);
  if (report.failedFlows > 0) process.exitCode = 1;
}

try {
  await main();
} catch (error) {
  process.stderr.write(`[bench] failed: ${(error as Error).stack ?? error}\n`);
  process.exit(1);
}
