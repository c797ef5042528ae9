// Beacon's binaries as the demo runs them: detached (their own session, so they outlive the
// `make demo` command and no Ctrl-C in that terminal reaches them), output to a log file, and
// recorded with their command line so that `demo down`, another process, ends them by PID
// and never signals a recycled PID.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { processAlive } from '../e2e/lab.js';

export interface TrackedProcess {
  pid: number;
  /** /proc/<pid>/cmdline as the kernel reported it once the program had started. */
  cmdline: string;
  log: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function cmdlineOf(pid: number): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * Starts `argv` detached with stdout and stderr appended to `log`. `program` is how the
 * program's own /proc/<pid>/cmdline starts once it runs (past a fork's copy of node and past
 * `ip netns exec`, which execs it), e.g. [node, main.js].
 */
export async function startTracked(
  argv: readonly string[],
  log: string,
  program: readonly string[],
): Promise<TrackedProcess> {
  const [cmd, ...args] = argv;
  if (cmd === undefined) throw new Error('startTracked: empty command');
  const fd = fs.openSync(log, 'a');
  const child = spawn(cmd, args, { stdio: ['ignore', fd, fd], detached: true });
  fs.closeSync(fd);
  child.on('error', () => undefined);
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${cmd}`);
  for (let i = 0; i < 200; i++) {
    const cmdline = cmdlineOf(pid);
    if (cmdline === undefined || !processAlive(pid))
      throw new Error(`${argv.join(' ')} exited at once; see ${log}`);
    if (cmdline.startsWith(`${program.join('\0')}\0`)) return { pid, cmdline, log };
    await sleep(10);
  }
  throw new Error(`${argv.join(' ')} did not start in 2 s; see ${log}`);
}

/** Whether the recorded process is still that process and alive. */
export function trackedAlive(p: TrackedProcess): boolean {
  return processAlive(p.pid) && cmdlineOf(p.pid) === p.cmdline;
}

/** SIGTERM, then SIGKILL after `graceMs`; only while the PID is still the recorded process. */
export async function stopTracked(procs: readonly TrackedProcess[], graceMs = 5000): Promise<void> {
  const signal = (sig: NodeJS.Signals): void => {
    for (const p of procs.filter(trackedAlive)) {
      try {
        process.kill(p.pid, sig);
      } catch {
        /* already gone */
      }
    }
  };
  signal('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (procs.some(trackedAlive) && Date.now() < deadline) await sleep(50);
  if (procs.some(trackedAlive)) {
    signal('SIGKILL');
    const killDeadline = Date.now() + 2000;
    while (procs.some(trackedAlive) && Date.now() < killDeadline) await sleep(20);
  }
}

/** The last `lines` lines of a log file ('' when it does not exist). */
export function logTail(file: string, lines = 5): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}
