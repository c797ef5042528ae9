// How long the speaker's threads were held, and by what, as metrics: the timing workers (BFD,
// layer 2 membership) report each gap of their own thread (lib/stall-watch.ts), and the main
// thread watches itself the same way. nodejs_eventloop_lag_* says that the main thread was
// late; these say whether it was our own work (ran), a busy CPU (waited_for_cpu), the
// hypervisor (stolen), garbage collection (gc) or something that blocked it (other).
// Totals live in this module, once per process, so every client can record into them.

import { Counter, type Registry } from 'prom-client';
import { StallWatch, type Stall } from '../lib/stall-watch.js';

export type StalledThread = 'main' | 'bfd-worker' | 'membership-worker';

const parts = ['ran', 'waited_for_cpu', 'stolen', 'gc', 'other'] as const;
type Part = (typeof parts)[number];

interface Totals {
  stalls: number;
  /** Summed in ms (whole tenths), exported in seconds. */
  ms: Record<Part, number>;
}

const totals = new Map<StalledThread, Totals>();

/** Adds one stall of `thread` to the totals. */
export function recordStall(thread: StalledThread, s: Stall): void {
  const t = totals.get(thread) ?? {
    stalls: 0,
    ms: { ran: 0, waited_for_cpu: 0, stolen: 0, gc: 0, other: 0 },
  };
  t.stalls++;
  t.ms.ran += s.ranMs;
  t.ms.waited_for_cpu += s.waitedForCpuMs;
  t.ms.stolen += s.stolenMs;
  t.ms.gc += s.gcMs;
  t.ms.other += s.otherMs;
  totals.set(thread, t);
}

/** What has been recorded so far (tests, benchmarks). */
export function stallTotals(thread: StalledThread): Readonly<Totals> | undefined {
  return totals.get(thread);
}

export function registerStallMetrics(registry: Registry): void {
  const registers = [registry];
  new Counter({
    name: 'beacon_thread_stalls_total',
    help: 'Gaps in a speaker thread over its threshold (main 100 ms, BFD worker 250 ms, membership worker 200 ms)',
    labelNames: ['thread'],
    registers,
    collect() {
      this.reset();
      for (const [thread, t] of totals) this.inc({ thread }, t.stalls);
    },
  });
  new Counter({
    name: 'beacon_thread_stall_seconds_total',
    help: 'Time in those gaps, by what held the thread: ran, waited_for_cpu, stolen, other (blocked); gc is counted inside ran or other',
    labelNames: ['thread', 'part'],
    registers,
    collect() {
      this.reset();
      for (const [thread, t] of totals)
        for (const part of parts) this.inc({ thread, part }, t.ms[part] / 1000);
    },
  });
}

/**
 * Watches the main thread: its deadlines are seconds (BGP KEEPALIVEs, hold timers of at least
 * 3 s), so gaps over 100 ms are only counted, and one over `warnMs` is also logged.
 */
export function watchMainThread(warn: (stall: Stall) => void, warnMs = 1000): StallWatch {
  return new StallWatch({
    thresholdMs: 100,
    onStall: (s) => {
      recordStall('main', s);
      if (s.gapMs > warnMs) warn(s);
    },
  });
}
