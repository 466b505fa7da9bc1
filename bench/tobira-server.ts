/**
 * Tobira under test: a fresh database, one or more `node src/main.ts` processes sharing
 * Postgres and Redis, and, for several instances, the round-robin proxy on the issuer's port.
 *
 * @packageDocumentation
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';
import { freePort, repoRoot, startNode, waitUntilUp, type Child } from './processes.ts';
import { productionEnv } from './options.ts';

/** Replaces the database name of a postgres:// URL. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.href;
}

async function asAdmin<T>(serverUrl: string, fn: (admin: pg.Client) => Promise<T>): Promise<T> {
  const admin = new pg.Client({ connectionString: withDatabase(serverUrl, 'postgres') });
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.end();
  }
}

function checkName(name: string): void {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`unsafe database name ${name}`);
}

/** Drops and creates `name` on the server of `serverUrl`; returns the new database's URL. */
export async function freshDatabase(serverUrl: string, name: string): Promise<string> {
  checkName(name);
  await asAdmin(serverUrl, async (admin) => {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${name}`);
  });
  return withDatabase(serverUrl, name);
}

/** Drops `name` on the server of `serverUrl`. */
export async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  checkName(name);
  await asAdmin(serverUrl, (admin) => admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}

/** Pids of the Postgres backends serving `database` (their CPU is Tobira's database cost). */
export async function backendPids(serverUrl: string, database: string): Promise<number[]> {
  return asAdmin(serverUrl, async (admin) => {
    const { rows } = await admin.query('SELECT pid FROM pg_stat_activity WHERE datname = $1', [database]);
    return rows.map((r: { pid: number }) => r.pid);
  });
}

/** Deletes every Redis key under `prefix`. */
export async function clearRedisPrefix(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length) await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/** A running Tobira deployment for the benchmark. */
export interface TobiraDeployment {
  issuer: string;
  /** The Tobira processes (their CPU and memory are what is measured). */
  instances: Child[];
  /** The round-robin proxy, with several instances. */
  proxy?: Child;
  redisPrefix: string;
  stop(): Promise<void>;
}

/** How to start Tobira. */
export interface TobiraOptions {
  /** Names the processes and their logs (`tobira`, or `candidate`). */
  name: string;
  /** The checkout to run (`node src/main.ts` there); this repository by default. */
  cwd?: string;
  instances: number;
  databaseUrl: string;
  redisUrl: string;
  smtpUrl: string;
  dataDir: string;
  logDir: string;
  /** Directory for V8 CPU profiles (`node --cpu-prof`), when profiling. */
  cpuProfDir?: string;
  /** Extra `node` arguments for the Tobira processes (V8 heap settings, for instance). */
  nodeArgs?: string[];
}

/**
 * Compiles the checkout at `cwd` as `npm run build` does (into `outDir`, by default its `dist/`:
 * what the Dockerfile runs) and answers the path of the server to start. Running the compiled
 * JavaScript spares each process Node's TypeScript stripper, about 20 MB of memory
 * (docs/performance.md). A checkout without a build (an older commit given to --candidate) runs
 * its TypeScript sources.
 */
export function buildTobira(cwd = repoRoot, outDir = join(cwd, 'dist')): string {
  if (!existsSync(join(cwd, 'tsconfig.build.json'))) return join(cwd, 'src/main.ts');
  rmSync(outDir, { recursive: true, force: true });
  const tsc = spawnSync(process.execPath, [join(cwd, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', outDir], { cwd, stdio: 'inherit' });
  if (tsc.status !== 0) throw new Error(`the build (tsc -p tsconfig.build.json) failed in ${cwd}`);
  return join(outDir, 'src/main.js');
}

/**
 * Starts the instances one after the other (the first runs the migrations and creates the
 * signing keys) and, with more than one, the proxy that owns the issuer's port.
 */
export async function startTobira(options: TobiraOptions): Promise<TobiraDeployment> {
  const issuerPort = await freePort();
  const issuer = `http://localhost:${issuerPort}`;
  const redisPrefix = `tobira-bench-${randomBytes(4).toString('hex')}:`;
  const common = {
    ISSUER: issuer, DATABASE_URL: options.databaseUrl, REDIS_URL: options.redisUrl, REDIS_PREFIX: redisPrefix,
    SMTP_URL: options.smtpUrl, DATA_DIR: options.dataDir, LOG_LEVEL: 'warn', DEMO: 'false', NODE_ENV: 'test',
    // Behind a load balancer: the member's address comes from X-Forwarded-For (rate limits are per address).
    TRUST_PROXY: 'true',
    COOKIE_KEYS: randomBytes(32).toString('base64url'), DATA_ENCRYPTION_KEY: randomBytes(32).toString('base64url'),
    ...productionEnv,
  };
  const profiling = options.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', options.cpuProfDir] : [];
  const entry = buildTobira(options.cwd);
  const instances: Child[] = [];
  const ports: number[] = [];
  let proxy: Child | undefined;
  const stop = async () => {
    await Promise.all(instances.map((c) => c.stop()));
    await proxy?.stop();
  };
  try {
    for (let i = 0; i < options.instances; i++) {
      const port = options.instances === 1 ? issuerPort : await freePort();
      ports.push(port);
      const child = startNode(`${options.name}-${i + 1}`, [...profiling, ...(options.nodeArgs ?? []), entry], { ...common, PORT: String(port) }, join(options.logDir, `${options.name}-${i + 1}.log`), options.cwd);
      instances.push(child);
      await waitUntilUp(child, `http://127.0.0.1:${port}/readyz`);
    }
    if (options.instances > 1) {
      proxy = startNode(`${options.name}-proxy`, ['bench/proxy.ts'], { PORT: String(issuerPort), UPSTREAMS: ports.join(',') }, join(options.logDir, `${options.name}-proxy.log`));
      await waitUntilUp(proxy, `${issuer}/readyz`);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { issuer, instances, proxy, redisPrefix, stop };
}

