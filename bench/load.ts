/**
 * The load generator: worker processes, separate from the servers, each running a share of the
 * virtual users. The orchestrator (bench/run.ts) drives them over IPC, one command at a time:
 * `init` (sign members up, register them with the baseline), `prepare` (build the virtual
 * users of a run), `go` (warm up, measure, drain, answer with the counts).
 *
 * @packageDocumentation
 */
import { fork, type ChildProcess } from 'node:child_process';
import { connect, virtualUser, type FlowEnv, type Member, type Scenario, type TargetSpec, type VirtualUser } from './flows.ts';
import { registerWithBaseline, signUpMember } from './seed.ts';
import { countFailure, mergeFailures, noFailures, runWindow, type WindowPlan, type WindowResult } from './window.ts';
import { repoRoot } from './processes.ts';

/** Commands from the orchestrator. */
export type Command =
  | { type: 'init'; worker: number; targets: TargetSpec[]; members: number; identifierFirst: boolean }
  | { type: 'prepare'; target: TargetSpec['name']; scenario: Scenario; vus: number }
  | { type: 'go'; plan: WindowPlan }
  | { type: 'code'; email: string; code?: string; error?: string };

/** Answers to the orchestrator. */
export type Reply =
  | { type: 'done'; result?: WindowResult }
  | { type: 'failed'; message: string }
  | { type: 'code-request'; email: string };

/** The orchestrator's handle on one worker. */
export interface LoadWorker {
  pid: number;
  /** Sends a command and resolves with the worker's answer (rejects when it failed). */
  send(command: Command): Promise<WindowResult | undefined>;
  stop(): Promise<void>;
}

/**
 * Forks a worker. `codeFor` answers its requests for sign-up codes (the orchestrator holds the
 * SMTP sink that receives Tobira's mail).
 */
export function forkWorker(codeFor: (email: string) => Promise<string>): LoadWorker {
  const child: ChildProcess = fork('bench/load.ts', [], { cwd: repoRoot, execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let pending: { resolve: (r?: WindowResult) => void; reject: (e: Error) => void } | undefined;
  child.on('message', (reply: Reply) => {
    if (reply.type === 'code-request') {
      codeFor(reply.email).then(
        (code) => child.send({ type: 'code', email: reply.email, code } satisfies Command),
        (error: Error) => child.send({ type: 'code', email: reply.email, error: error.message } satisfies Command),
      );
      return;
    }
    const waiting = pending;
    pending = undefined;
    if (reply.type === 'failed') waiting?.reject(new Error(reply.message));
    else waiting?.resolve(reply.result);
  });
  child.on('exit', (code) => pending?.reject(new Error(`load worker exited (${code})`)));
  return {
    pid: child.pid!,
    send(command) {
      return new Promise((resolve, reject) => {
        pending = { resolve, reject };
        child.send(command);
      });
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((ok) => child.once('exit', ok));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** The worker side: state kept between commands. */
function workerMain(): void {
  const envs = new Map<string, FlowEnv>();
  const members = new Map<TargetSpec['name'], Member[]>();
  let vus: VirtualUser[] = [];
  let prepareFailures = noFailures();
  const codeWaiters = new Map<string, { resolve: (code: string) => void; reject: (e: Error) => void }>();
  const codeFor = (email: string) => new Promise<string>((resolve, reject) => {
    codeWaiters.set(email, { resolve, reject });
    process.send!({ type: 'code-request', email } satisfies Reply);
  });
  const reply = (r: Reply) => process.send!(r);
  /** Sign-ups run a few at a time: each waits for its mail. */
  const signUpMembers = async (env: FlowEnv, count: number, label: string) => {
    const queue = Array.from({ length: count }, (_, i) => i);
    const signedUp: Member[] = [];
    await Promise.all(Array.from({ length: 4 }, async () => {
      for (let i = queue.shift(); i !== undefined; i = queue.shift()) signedUp.push(await signUpMember(env, codeFor, `${label}-${i}`));
    }));
    return signedUp;
  };

  const handlers = {
    async init(c: Extract<Command, { type: 'init' }>) {
      for (const target of c.targets) envs.set(target.name, await connect(target, { identifierFirst: c.identifierFirst }));
      const stamp = Date.now().toString(36);
      for (const name of ['tobira', 'candidate'] as const) {
        const env = envs.get(name);
        if (env) members.set(name, await signUpMembers(env, c.members, `${name}-w${c.worker}-${stamp}`));
      }
      // The baseline accepts the same assertions: it gets Tobira's members' public keys.
      const baseline = c.targets.find((t) => t.name === 'baseline');
      if (baseline) {
        await registerWithBaseline(baseline.issuer, members.get('tobira')!);
        members.set('baseline', members.get('tobira')!);
      }
    },
    async prepare(c: Extract<Command, { type: 'prepare' }>) {
      const env = envs.get(c.target);
      if (!env) throw new Error(`unknown target ${c.target}`);
      vus = Array.from({ length: c.vus }, (_, i) => virtualUser(env, c.scenario, members.get(c.target) ?? [], i, c.vus));
      // A virtual user that cannot get ready now tries again in the window; the failure counts as a warm-up failure.
      prepareFailures = noFailures();
      for (const outcome of await Promise.allSettled(vus.map((vu) => vu.ready()))) {
        if (outcome.status === 'rejected') countFailure(prepareFailures, 'warmup', outcome.reason);
      }
    },
    async go(c: Extract<Command, { type: 'go' }>) {
      const result = await runWindow(vus, c.plan);
      mergeFailures(result.failures, prepareFailures);
      return result;
    },
  };

  process.on('message', (command: Command) => {
    if (command.type === 'code') {
      const waiter = codeWaiters.get(command.email);
      codeWaiters.delete(command.email);
      if (command.code) waiter?.resolve(command.code);
      else waiter?.reject(new Error(command.error ?? 'no code'));
      return;
    }
    const handler = handlers[command.type] as (c: Command) => Promise<WindowResult | void>;
    handler(command).then(
      (result) => reply({ type: 'done', result: result ?? undefined }),
      (error: Error) => reply({ type: 'failed', message: error.stack ?? error.message }),
    );
  });
  process.on('SIGTERM', () => process.exit(0));
}

if (import.meta.main) workerMain();
