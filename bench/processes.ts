/**
 * Child processes of the benchmark (Tobira, the baseline, the proxy, load workers): started
 * with their output in a log file, waited for until they answer, and stopped by their pid.
 *
 * @packageDocumentation
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';

/** The repository root (bench/..). */
export const repoRoot = resolve(import.meta.dirname, '..');

/** A child process started by the benchmark. */
export interface Child {
  name: string;
  pid: number;
  process: ChildProcess;
  /** Sends SIGTERM and waits (bounded) for the exit; SIGKILL after the bound. */
  stop(): Promise<void>;
}

/** A free TCP port on this machine. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as { port: number };
  await new Promise((ok) => server.close(ok));
  return port;
}

/** Starts `node <args>` in `cwd` (the repository root by default) with `env` added, logging to `logFile`. */
export function startNode(name: string, args: string[], env: Record<string, string>, logFile: string, cwd = repoRoot): Child {
  const log = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(process.execPath, args, {
    cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
  return {
    name,
    pid: child.pid!,
    process: child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
      log.end();
    },
  };
}

/** Polls `url` until it answers 200, failing after `timeoutMs` or when the child exits. */
export async function waitUntilUp(child: Child, url: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.process.exitCode !== null) throw new Error(`${child.name} exited with code ${child.process.exitCode} (see its log)`);
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((ok) => setTimeout(ok, 100));
  }
  throw new Error(`${child.name} did not answer at ${url} within ${timeoutMs} ms`);
}
