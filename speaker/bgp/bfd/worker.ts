// The BFD worker: a worker_threads thread that owns the BFD UDP sockets (RFC 5881) and the
// session table with its timer (edge.ts' BfdManager), so Control packets go out every 100 ms
// and detection runs on time whatever the speaker's main thread is doing: with BFD 100 ms x 3
// a 300 ms stall of the main event loop (watch events, planning, status writes beside a busy
// CPU) was enough for the router to declare the session down. The main thread sends session
// requests (worker-protocol.ts); the worker posts state changes as they happen and counters
// every statsEveryMs.
//
// Every handler catches: an error is posted, never thrown out of the thread. A failure to open
// the listening sockets is fatal: the worker says so and exits, and the client starts another.

import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parentPort } from 'node:worker_threads';
import { periodicSenderPriority } from '../../native/index.js';
import { StallWatch } from '../../../lib/stall-watch.js';
import { raiseThreadPriority } from '../../../lib/thread-priority.js';
import { BfdManager } from './edge.js';
import type { FromBfdWorker, ToBfdWorker } from './worker-protocol.js';

const port = parentPort;
if (port === null) throw new Error('BFD worker: must run as a worker_threads Worker');
const post = (m: FromBfdWorker): void => port.postMessage(m);

let manager: BfdManager | undefined;
let statsTimer: NodeJS.Timeout | undefined;
let statsSoon: NodeJS.Immediate | undefined;
let stalls: StallWatch | undefined;
let senderReported = false;
/** This thread's own event-loop delay: what the sessions' timers and reads may be late by. */
const delay = monitorEventLoopDelay({ resolution: 10 });
/**
 * Gaps in this thread longer than this are reported with their cause. The periodic packets do
 * not wait for this thread (the native sender does), so what a gap delays is detection and the
 * answer to a Poll: worth a warning once it nears a fast session's detection time (3 x 100 ms).
 */
const stallThresholdMs = 250;

function postStats(): void {
  if (!manager) return;
  if (!senderReported) {
    const priority = periodicSenderPriority();
    if (priority !== undefined) {
      senderReported = true;
      post({ type: 'sender', priority });
    }
  }
  // The histogram is in ns and holds what happened since the last report.
  const lag = { p99Ms: delay.percentile(99) / 1e6, maxMs: delay.max / 1e6 };
  delay.reset();
  post({ type: 'stats', sessions: manager.stats(), discarded: [...manager.discarded()], lag });
}

function start(m: Extract<ToBfdWorker, { type: 'start' }>): void {
  // Ahead of the main thread and of CPU hogs, if CAP_SYS_NICE allows (lib/thread-priority.ts).
  const priority = raiseThreadPriority();
  try {
    manager = BfdManager.start({
      ...(m.listen ? { listen: { v4: [...(m.listen.v4 ?? [])], v6: [...(m.listen.v6 ?? [])] } } : {}),
      ...(m.port !== undefined ? { port: m.port } : {}),
      onError: (err, peer) =>
        post({ type: 'error', where: 'socket', message: err.message, ...(peer ? { peer } : {}) }),
      // Not a lost packet: the session cannot send at all (logged as a warning by the client).
      onSenderError: (err, peer) =>
        post({ type: 'error', where: 'periodic sender', message: err.message, peer }),
    });
  } catch (err) {
    post({ type: 'error', where: 'start', message: (err as Error).message, fatal: true });
    // Let the message leave first; the client notices the exit and starts a new worker.
    setTimeout(() => process.exit(1), 10);
    return;
  }
  manager.on('state', (change) => {
    post({ type: 'state', change });
    // Counters follow a transition soon, so metrics show it without waiting a period.
    statsSoon ??= setImmediate(() => {
      statsSoon = undefined;
      postStats();
    });
  });
  delay.enable();
  // Saying why the thread was held tells the operator what to fix (CPU limits, priority, GC).
  stalls = new StallWatch({
    thresholdMs: stallThresholdMs,
    onStall: (stall) => post({ type: 'stall', stall }),
  });
  statsTimer = setInterval(postStats, m.statsEveryMs);
  post({ type: 'ready', priority });
}

port.on('message', (m: ToBfdWorker) => {
  try {
    switch (m.type) {
      case 'start':
        start(m);
        return;
      case 'add':
        manager?.add(m.peer, m.local, m.profile);
        return;
      case 'update':
        manager?.update(m.peer, m.profile);
        return;
      case 'remove':
        manager?.remove(m.peer);
        return;
      case 'close':
        if (statsTimer) clearInterval(statsTimer);
        if (statsSoon) clearImmediate(statsSoon);
        delay.disable();
        stalls?.close();
        stalls = undefined;
        manager?.close({ adminDown: m.adminDown });
        manager = undefined;
        post({ type: 'closed' });
        return;
    }
  } catch (err) {
    const peer = 'peer' in m ? m.peer : undefined;
    post({ type: 'error', where: m.type, message: (err as Error).message, ...(peer ? { peer } : {}) });
  }
});
