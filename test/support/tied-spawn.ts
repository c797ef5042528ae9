// Child processes that must not outlive the test or bench that started it. A bench or test run
// ended by a signal (SIGTERM, a CI timeout, Ctrl-C) runs no `finally`, so the controllers it
// started outside any lab namespace (which the lab's own watchdog cleans up) would keep
// running and keep writing to the API server of the next run. The kernel's parent-death signal
// (prctl PR_SET_PDEATHSIG, set here by util-linux's setpriv before it execs the command) ends
// them instead: it is sent when the thread that started the child exits, which for Node's
// spawn is the main thread, i.e. when the process ends, however it ends. Linux keeps it across
// execve for a binary that is not set-user-ID.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

/** The file and arguments that run `command args` so that it is SIGKILLed when we exit. */
export function tiedCommand(command: string, args: readonly string[]): [string, string[]] {
  return ['setpriv', ['--pdeathsig', 'KILL', '--', command, ...args]];
}

/** spawn(), with the child SIGKILLed by the kernel when this process ends (see above). */
export function spawnTied(command: string, args: readonly string[], options: SpawnOptions): ChildProcess {
  const [file, argv] = tiedCommand(command, args);
  return spawn(file, argv, options);
}
