/**
 * `npm run bench` flags. Durations are in seconds on the command line.
 *
 * @packageDocumentation
 */
import { parseArgs } from 'node:util';
import { scenarios, type Scenario } from './flows.ts';

/** The V8 settings of the Dockerfile's `TOBIRA_NODE_ARGS`: Tobira is measured as it ships. */
export const productionNodeArgs = '--max-semi-space-size=8 --max-old-space-size=160 --heap-growing-percent=60';

/**
 * The Dockerfile's environment for the C library: two malloc arenas instead of one per thread
 * that allocates (glibc's default), which keeps native memory (OpenSSL, libuv's pool, Node's
 * buffers) from spreading over many arenas.
 */
export const productionEnv: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' };

/** The benchmark's settings after parsing. */
export interface BenchOptions {
  concurrency: number[];
  scenarios: Scenario[];
  warmupS: number;
  durationS: number;
  repeat: number;
  instances: number;
  workers: number;
  backgroundMembers: number;
  soakS: number;
  soakConcurrency: number;
  cpuProf: boolean;
  identifierFirst: boolean;
  baseline: boolean;
  outDir: string;
  databaseUrl: string;
  redisUrl: string;
  databaseName: string;
  keepDatabase: boolean;
  /** Extra `node` arguments for the Tobira processes. */
  nodeArgs: string[];
  /** Another checkout of Tobira measured beside this one. */
  candidate?: string;
}

/** Help text for `npm run bench -- --help`. */
export const usage = `Usage: npm run bench -- [options]

  --concurrency 1,8,32     virtual users per run (comma-separated)
  --scenarios LIST         signin,refresh,client_credentials,discovery
  --warmup 5               warm-up seconds before each timed window
  --duration 15            timed window, seconds
  --repeat 3               windows per scenario, target and concurrency (medians reported)
  --quick                  --warmup 1 --duration 3 --repeat 1 (to try the benchmark out)
  --instances 1            Tobira processes sharing Postgres and Redis (behind a proxy when > 1)
  --workers 1              load generator processes
  --members 10000          background members (with a passkey each) in the database
  --soak 0                 then sign in for this many seconds at --soak-concurrency, sampling RSS
  --soak-concurrency 8
  --cpu-prof               run Tobira and the baseline under node --cpu-prof; the report says where the time went
  --identifier-first       sign in by member number instead of a discoverable passkey
  --no-baseline            measure Tobira only
  --out bench/results      where the JSON, the SVG chart and the logs go
  --keep-db                keep the tobira_bench database after the run
  --node-args="..."        node arguments for the Tobira processes; default: the Dockerfile's
                           TOBIRA_NODE_ARGS, "${productionNodeArgs}" (--node-args= for V8's defaults)
  --candidate DIR          also measure Tobira from another checkout (a branch with a change),
                           side by side with this one, in its own database (tobira_bench_candidate)

  Postgres and Redis: DATABASE_URL (any database on the server; the benchmark creates
  tobira_bench next to it, or BENCH_DATABASE) and REDIS_URL; defaults are the machine's
  postgres://postgres@127.0.0.1:5432/postgres and redis://127.0.0.1:6379.`;

function positiveInts(value: string, name: string): number[] {
  const list = value.split(',').map((v) => Number(v.trim()));
  if (!list.length || list.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--${name}: expected positive integers, got ${value}`);
  return list;
}

function number(value: string | undefined, fallback: number, name: string, min = 0): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min) throw new Error(`--${name}: expected a number >= ${min}, got ${value}`);
  return n;
}

/** Parses the command line; throws with a message naming the bad flag. */
export function parseOptions(argv: string[], env: Record<string, string | undefined> = process.env): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      concurrency: { type: 'string' }, scenarios: { type: 'string' }, warmup: { type: 'string' }, duration: { type: 'string' },
      repeat: { type: 'string' }, quick: { type: 'boolean' }, instances: { type: 'string' }, workers: { type: 'string' },
      members: { type: 'string' }, soak: { type: 'string' }, 'soak-concurrency': { type: 'string' }, 'cpu-prof': { type: 'boolean' },
      'identifier-first': { type: 'boolean' }, 'no-baseline': { type: 'boolean' }, out: { type: 'string' }, 'keep-db': { type: 'boolean' }, 'node-args': { type: 'string' }, candidate: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) return 'help';
  const chosen = (values.scenarios ?? scenarios.join(',')).split(',').map((s) => s.trim());
  const unknown = chosen.filter((s) => !(scenarios as readonly string[]).includes(s));
  if (unknown.length) throw new Error(`--scenarios: unknown ${unknown.join(', ')} (known: ${scenarios.join(', ')})`);
  const quick = values.quick ?? false;
  return {
    concurrency: positiveInts(values.concurrency ?? '1,8,32', 'concurrency'),
    scenarios: chosen as Scenario[],
    warmupS: number(values.warmup, quick ? 1 : 5, 'warmup'),
    durationS: number(values.duration, quick ? 3 : 15, 'duration', 1),
    repeat: number(values.repeat, quick ? 1 : 3, 'repeat', 1),
    instances: number(values.instances, 1, 'instances', 1),
    workers: number(values.workers, 1, 'workers', 1),
    backgroundMembers: number(values.members, 10_000, 'members'),
    soakS: number(values.soak, 0, 'soak'),
    soakConcurrency: number(values['soak-concurrency'], 8, 'soak-concurrency', 1),
    cpuProf: values['cpu-prof'] ?? false,
    identifierFirst: values['identifier-first'] ?? false,
    baseline: !(values['no-baseline'] ?? false),
    outDir: values.out ?? 'bench/results',
    databaseUrl: env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres',
    redisUrl: env.REDIS_URL || 'redis://127.0.0.1:6379',
    databaseName: env.BENCH_DATABASE || 'tobira_bench',
    keepDatabase: values['keep-db'] ?? false,
    nodeArgs: (values['node-args'] ?? productionNodeArgs).split(/\s+/).filter(Boolean),
    candidate: values.candidate,
  };
}
