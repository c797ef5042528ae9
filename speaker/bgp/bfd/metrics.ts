// BFD metrics, named as MetalLB's FRR mode exports them (metallb_bfd_*), read from the BFD
// sessions at scrape time so they cannot drift from the sessions' own counters. `peer` is the
// BFD peer's address. A session that is gone leaves no series.

import { Counter, Gauge, type Registry } from 'prom-client';
import type { BfdPeerStats } from './index.js';

export function registerBfdMetrics(
  registry: Registry,
  stats: () => readonly BfdPeerStats[],
  workerRestarts: () => number = () => 0,
  workerLag: () => { p99Ms: number; maxMs: number } = () => ({ p99Ms: 0, maxMs: 0 }),
): void {
  const registers = [registry];
  // Beacon's own: the thread that runs the sessions (client.ts) was lost and replaced.
  new Counter({
    name: 'beacon_bfd_worker_restarts_total',
    help: 'BFD worker threads that failed or exited and were replaced (their sessions were reset)',
    registers,
    collect() {
      this.reset();
      this.inc(workerRestarts());
    },
  });
  new Gauge({
    name: 'metallb_bfd_session_up',
    help: 'BFD session state (1 is up, 0 is down)',
    labelNames: ['peer'],
    registers,
    collect() {
      this.reset();
      for (const s of stats()) this.set({ peer: s.peer }, s.state === 'Up' ? 1 : 0);
    },
  });
  // Beacon's own: how late the BFD worker's timers and reads may have been (its event-loop
  // delay over the last second), to compare with nodejs_eventloop_lag_* of the main thread.
  new Gauge({
    name: 'beacon_bfd_worker_eventloop_lag_p99_seconds',
    help: "The BFD worker thread's event-loop delay, 99th percentile over the last second",
    registers,
    collect() {
      this.set(workerLag().p99Ms / 1000);
    },
  });
  new Gauge({
    name: 'beacon_bfd_worker_eventloop_lag_max_seconds',
    help: "The BFD worker thread's event-loop delay, maximum over the last second",
    registers,
    collect() {
      this.set(workerLag().maxMs / 1000);
    },
  });
  const counter = (name: string, help: string, value: (s: BfdPeerStats) => number): void => {
    new Counter({
      name,
      help,
      labelNames: ['peer'],
      registers,
      collect() {
        this.reset();
        for (const s of stats()) this.inc({ peer: s.peer }, value(s));
      },
    });
  };
  counter('metallb_bfd_session_up_events', 'Number of times the BFD session went up', (s) => s.upEvents);
  counter(
    'metallb_bfd_session_down_events',
    'Number of times the BFD session went down',
    (s) => s.downEvents,
  );
  counter('metallb_bfd_control_packet_input', 'Number of BFD Control packets received', (s) => s.packetsIn);
  counter('metallb_bfd_control_packet_output', 'Number of BFD Control packets sent', (s) => s.packetsOut);
}
