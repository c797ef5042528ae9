// beacon-controller as the integration tests and the benchmark run it: the built binary in a
// child process, its JSON log lines kept for waiting on ("became leader", "all services
// reconciled"), and every process it started ended by PID afterwards.

import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from '../env/control-plane.js';
import { controllerNodeFlags } from '../../controller/node-flags.js';
import { spawnTied } from './tied-spawn.js';

export interface ControllerProcess {
  readonly child: ChildProcess;
  /** Every complete log line so far (stderr). */
  readonly logs: string[];
}

const running = new Set<ControllerProcess>();

/** Starts dist/controller/main.js with `args`; DEBUG_CONTROLLER=1 echoes its log lines. */
export function startController(
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): ControllerProcess {
  const child = spawnTied(
    process.execPath,
    [...controllerNodeFlags, path.join(repoRoot, 'dist/controller/main.js'), ...args],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
      env,
    },
  );
  const c: ControllerProcess = { child, logs: [] };
  let partial = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => {
    const lines = (partial + d).split('\n');
    partial = lines.pop() ?? '';
    c.logs.push(...lines);
    if (process.env.DEBUG_CONTROLLER) for (const l of lines) process.stderr.write(`[${child.pid}] ${l}\n`);
  });
  running.add(c);
  child.on('exit', () => running.delete(c));
  return c;
}

/** Sends `signal` and waits for the process to exit. */
export async function stopController(c: ControllerProcess, signal: NodeJS.Signals): Promise<void> {
  if (c.child.exitCode !== null || c.child.signalCode !== null) return;
  const exited = new Promise((r) => c.child.once('exit', r));
  c.child.kill(signal);
  await exited;
}

/** SIGKILLs every controller still running (afterAll). */
export async function stopAllControllers(): Promise<void> {
  for (const c of [...running]) await stopController(c, 'SIGKILL');
}

/** Polls `check` until it yields a value (a throw counts as not yet); fails after `ms`. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  ms = 15_000,
  what = 'condition',
): Promise<T> {
  const end = performance.now() + ms;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v !== undefined) return v;
    if (performance.now() > end) throw new Error(`${what} not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const waitForLog = (c: ControllerProcess, text: string, ms = 20_000): Promise<true> =>
  eventually(async () => (c.logs.some((l) => l.includes(text)) ? true : undefined), ms, `log "${text}"`);
