// Network namespaces and namespaced child processes for the addon tests. Every namespace is
// named l2t-…, every child is tracked by PID, and cleanup() removes both; tests call it in
// afterAll so that nothing is left behind even when an assertion fails.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export interface ChildEvent {
  event: string;
  [key: string]: unknown;
}

/** A child process speaking JSON lines on stdout, with a queue the test can wait on. */
export class NamespacedChild {
  readonly process: ChildProcess;
  readonly events: ChildEvent[] = [];
  readonly exited: Promise<number | null>;
  #waiters: Array<() => void> = [];

  constructor(namespace: string, command: string[]) {
    this.process = spawn('ip', ['netns', 'exec', namespace, ...command], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    this.exited = new Promise((resolve) => this.process.on('exit', (code) => resolve(code)));
    const lines = createInterface({ input: this.process.stdout! });
    lines.on('line', (line) => {
      this.events.push(JSON.parse(line) as ChildEvent);
      for (const wake of this.#waiters.splice(0)) wake();
    });
  }

  send(line: string): void {
    this.process.stdin?.write(`${line}\n`);
  }

  /** Resolves with the first event (past or future) that matches, or rejects after timeoutMs. */
  async waitFor(match: (e: ChildEvent) => boolean, timeoutMs: number, what: string): Promise<ChildEvent> {
    const deadline = Date.now() + timeoutMs;
    let seen = 0;
    for (;;) {
      for (; seen < this.events.length; seen++) {
        const event = this.events[seen];
        if (event && match(event)) return event;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  kill(): void {
    if (this.process.exitCode === null && this.process.signalCode === null && this.process.pid) {
      try {
        process.kill(this.process.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

/** Two namespaces joined by a veth pair named veth0 on both sides, with fixed MACs. */
export class NamespacePair {
  readonly children: NamespacedChild[] = [];

  constructor(
    readonly a: string,
    readonly b: string,
  ) {}

  setUp(macA: string, macB: string, addrsA: string[], addrsB: string[]): void {
    this.cleanup();
    ip('netns', 'add', this.a);
    ip('netns', 'add', this.b);
    ip(
      'link',
      'add',
      'veth0',
      'netns',
      this.a,
      'address',
      macA,
      'type',
      'veth',
      'peer',
      'name',
      'veth0',
      'netns',
      this.b,
      'address',
      macB,
    );
    for (const [ns, addrs] of [
      [this.a, addrsA],
      [this.b, addrsB],
    ] as const) {
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      for (const addr of addrs)
        ip('-n', ns, 'addr', 'add', addr, 'dev', 'veth0', ...(addr.includes(':') ? ['nodad'] : []));
      ip('-n', ns, 'link', 'set', 'veth0', 'up');
    }
  }

  spawn(namespace: string, command: string[]): NamespacedChild {
    const child = new NamespacedChild(namespace, command);
    this.children.push(child);
    return child;
  }

  /** Runs a short command in a namespace and waits for it. */
  exec(namespace: string, command: string[]): string {
    return ip('netns', 'exec', namespace, ...command);
  }

  cleanup(): void {
    for (const child of this.children.splice(0)) child.kill();
    for (const ns of [this.a, this.b]) {
      try {
        // Anything still running in the namespace was started by these tests: end it by PID.
        for (const pid of ip('netns', 'pids', ns).split(/\s+/).filter(Boolean))
          process.kill(Number(pid), 'SIGKILL');
        ip('netns', 'del', ns);
      } catch {
        // the namespace does not exist
      }
    }
  }
}
