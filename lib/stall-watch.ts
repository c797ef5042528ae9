// Why a timing thread was late. The BFD and membership workers must run every few tens of
// milliseconds (a layer 2 lease lapses 350 ms after the last acknowledged heartbeat; BFD
// detection and the answer to a Poll wait for the BFD worker); when one of them does not,
// the operator needs to know what held it, because each cause has a different fix:
// - the thread ran the whole time (its own work);
// - it waited for garbage collection (in its own isolate, which may in turn wait for V8's
//   helper threads: GC time with little run time);
// - it was runnable but waited for a core (CPU contention: priority, CPU limits);
// - the virtual CPU itself was not running (steal time: the hypervisor gave the core to
//   another guest; nothing inside the machine can fix that);
// - it was neither running nor waiting (blocked: a page fault served from disk, a lock).
// The kernel keeps the first two per thread in /proc/thread-self/schedstat (run time and
// run-queue wait, in ns; Documentation/scheduler/sched-stats.rst) and steal per CPU in
// /proc/stat (USER_HZ ticks; proc(5)). GC pauses come from V8 through perf_hooks.
//
// The core (explainStall) is pure; StallWatch is the sampling edge, one per thread.

import fs from 'node:fs';
import { PerformanceObserver, performance } from 'node:perf_hooks';

/** One reading of what the calling thread and its CPU have done so far. */
export interface ThreadSample {
  /** Monotonic ms. */
  readonly at: number;
  /** ns this thread has run on a CPU. */
  readonly runNs: number;
  /** ns this thread has waited on a run queue. */
  readonly waitNs: number;
  /** Steal time of every CPU so far, in ms (index: CPU number). */
  readonly stealMs: readonly number[];
  /** The CPU this thread last ran on. */
  readonly cpu: number;
  /** ms of garbage-collection pauses in this thread's isolate so far. */
  readonly gcMs: number;
}

export interface Stall {
  /** How long the thread was away. */
  readonly gapMs: number;
  readonly ranMs: number;
  readonly waitedForCpuMs: number;
  /** Steal on the CPU the thread ran on before and after (the larger). */
  readonly stolenMs: number;
  /** Garbage collection in this thread's isolate: inside ranMs, or otherMs when it waited on helpers. */
  readonly gcMs: number;
  /** What none of run, wait and steal explains: blocked (or, with coarse steal ticks, rounding). */
  readonly otherMs: number;
}

const round = (ms: number): number => Math.round(ms * 10) / 10;

/** What happened between two samples, if the gap between them exceeds `thresholdMs`. */
export function explainStall(
  before: ThreadSample,
  after: ThreadSample,
  thresholdMs: number,
): Stall | undefined {
  const gapMs = after.at - before.at;
  if (gapMs <= thresholdMs) return undefined;
  const ranMs = Math.max(0, (after.runNs - before.runNs) / 1e6);
  const waitedForCpuMs = Math.max(0, (after.waitNs - before.waitNs) / 1e6);
  const stealOn = (cpu: number): number =>
    Math.max(0, (after.stealMs[cpu] ?? 0) - (before.stealMs[cpu] ?? 0));
  const stolenMs = Math.min(gapMs, Math.max(stealOn(before.cpu), stealOn(after.cpu)));
  const gcMs = Math.max(0, after.gcMs - before.gcMs);
  const otherMs = Math.max(0, gapMs - ranMs - waitedForCpuMs - stolenMs);
  return {
    gapMs: round(gapMs),
    ranMs: round(ranMs),
    waitedForCpuMs: round(waitedForCpuMs),
    stolenMs: round(stolenMs),
    gcMs: round(gcMs),
    otherMs: round(otherMs),
  };
}

/** /proc/thread-self/schedstat: "run-ns wait-ns timeslices". */
export function parseSchedstat(text: string): { runNs: number; waitNs: number } | undefined {
  const [run, wait] = text.trim().split(/\s+/).map(Number);
  if (run === undefined || wait === undefined || !Number.isFinite(run) || !Number.isFinite(wait))
    return undefined;
  return { runNs: run, waitNs: wait };
}

/** Per-CPU steal from /proc/stat, in ms (the 8th value of each "cpuN" line, USER_HZ = 100). */
export function parseSteal(text: string, ticksPerSecond = 100): number[] {
  const steal: number[] = [];
  // The CPU lines come first; the interrupt counts after them can be long, so stop there.
  const end = text.indexOf('\nintr');
  for (const line of (end < 0 ? text : text.slice(0, end)).split('\n')) {
    const m = /^cpu(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const ticks = Number(m[2]!.trim().split(/\s+/)[7] ?? 0);
    steal[Number(m[1])] = Number.isFinite(ticks) ? (ticks * 1000) / ticksPerSecond : 0;
  }
  return steal;
}

/** The CPU a thread last ran on: field 39 of /proc/thread-self/stat (proc(5)). */
export function parseLastCpu(text: string): number {
  // Fields after the command name, which is in parentheses and may hold spaces.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const cpu = Number(rest[39 - 3]);
  return Number.isInteger(cpu) ? cpu : 0;
}

/**
 * How often steal time is read between gaps. Its ticks are 10 ms and the gaps reported are
 * 100 ms or more; steal in the quarter second before a gap may be counted, capped at the gap.
 */
const stealEveryMs = 250;

export interface StallWatchOptions {
  /** How often to sample; a stall shows as a late sample. Default 20 ms. */
  readonly everyMs?: number;
  /** Gaps longer than this are reported. */
  readonly thresholdMs: number;
  readonly onStall: (stall: Stall) => void;
}

/**
 * Samples the calling thread every `everyMs` and reports each gap above the threshold with
 * its explanation. Linux only: where /proc cannot be read it reports the gap and GC alone.
 */
export class StallWatch {
  readonly #timer: NodeJS.Timeout;
  readonly #gc: PerformanceObserver;
  /** Opened once by this thread: /proc/thread-self names the opener (proc(5)). */
  readonly #files: { schedstat: number; stat: number; cpus: number } | undefined;
  /** One buffer for every read: the watch must not make the garbage it may be blamed for. */
  readonly #buf = Buffer.alloc(16 * 1024);
  #gcMs = 0;
  #last: ThreadSample;
  /**
   * Steal and the last CPU, read every stealEveryMs and once more when a gap shows, not every
   * sample: the kernel generates all of /proc/stat (every interrupt's count) for each read,
   * which costs far more on a large node than the thread's own small schedstat.
   */
  #cpus: { at: number; stealMs: readonly number[]; cpu: number } = { at: -Infinity, stealMs: [], cpu: 0 };

  constructor(o: StallWatchOptions) {
    this.#gc = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) this.#gcMs += e.duration;
    });
    this.#gc.observe({ entryTypes: ['gc'] });
    try {
      this.#files = {
        schedstat: fs.openSync('/proc/thread-self/schedstat', 'r'),
        stat: fs.openSync('/proc/thread-self/stat', 'r'),
        cpus: fs.openSync('/proc/stat', 'r'),
      };
    } catch {
      // Not Linux, or /proc hidden: the gap and GC still tell something.
    }
    this.#last = this.#sample();
    this.#timer = setInterval(() => {
      try {
        let now = this.#sample();
        if (now.at - this.#last.at > o.thresholdMs) now = this.#sample(true);
        const stall = explainStall(this.#last, now, o.thresholdMs);
        this.#last = now;
        if (stall) o.onStall(stall);
      } catch {
        // A diagnostic must never take the thread down; the next sample starts afresh.
        this.#last = this.#sample();
      }
    }, o.everyMs ?? 20);
    this.#timer.unref();
  }

  /** A /proc file's current text: read from offset 0, which makes the kernel generate it anew. */
  #read(fd: number): string {
    const n = fs.readSync(fd, this.#buf, 0, this.#buf.length, 0);
    return this.#buf.toString('latin1', 0, n);
  }

  /** The thread's times now; steal and CPU as of the last read (fresh with `cpusNow`). */
  #sample(cpusNow = false): ThreadSample {
    const at = performance.now();
    const gcMs = this.#gcMs;
    if (!this.#files) return { at, runNs: 0, waitNs: 0, stealMs: [], cpu: 0, gcMs };
    try {
      if (cpusNow || at - this.#cpus.at >= stealEveryMs)
        this.#cpus = {
          at,
          cpu: parseLastCpu(this.#read(this.#files.stat)),
          // A read cut short by the buffer is fine: the CPU lines come first (proc(5)).
          stealMs: parseSteal(this.#read(this.#files.cpus)),
        };
      const s = parseSchedstat(this.#read(this.#files.schedstat));
      const { stealMs, cpu } = this.#cpus;
      return { at, runNs: s?.runNs ?? 0, waitNs: s?.waitNs ?? 0, stealMs, cpu, gcMs };
    } catch {
      return { at, runNs: 0, waitNs: 0, stealMs: [], cpu: 0, gcMs };
    }
  }

  close(): void {
    clearInterval(this.#timer);
    this.#gc.disconnect();
    if (this.#files) for (const fd of Object.values(this.#files)) fs.closeSync(fd);
  }
}
