// The membership worker: a worker_threads thread that owns the membership UDP sockets, the
// state machine, its timers and the lease, so that heartbeats are received and answered on
// time whatever the speaker's main thread is doing (the operator measured 3.7 s event-loop lag
// on it at 1,000 Services). It posts to the main thread only what the data plane needs: the
// owned set when it changes, the answer deadline, membership changes, counters once a second.
// The deadline also goes straight into a shared cell the responder reads, if one was given.
//
// Every handler catches: an error is posted and counted, never thrown out of the thread.

import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import { parentPort } from 'node:worker_threads';
import { StallWatch } from '../../../lib/stall-watch.js';
import { raiseThreadPriority } from '../../../lib/thread-priority.js';
import { MembershipRuntime } from './runtime.js';
import { expandPlan, type FromWorker, type ToWorker } from './worker-protocol.js';

/** Asked for; the kernel caps it at net.core.rmem_max (reported in `ready`). */
const recvBufferBytes = 8 * 1024 * 1024;

/** CLOCK_MONOTONIC in ms: the same clock in every thread, and the responder's. */
const monotonicMs = (): number => Number(process.hrtime.bigint()) / 1e6;

const port = parentPort;
if (port === null) throw new Error('membership worker: must run as a worker_threads Worker');
const post = (m: FromWorker): void => port.postMessage(m);

let runtime: MembershipRuntime | undefined;
let sockets: { v4?: dgram.Socket; v6?: dgram.Socket } = {};
let deadline: Float64Array | undefined;
let counters: NodeJS.Timeout | undefined;
let stalls: StallWatch | undefined;
/**
 * Gaps in this thread longer than this are reported with their cause: well into the 350 ms the
 * lease survives without an acknowledged heartbeat, with time left to renew it.
 */
const stallThresholdMs = 200;

function bind(type: 'udp4' | 'udp6', at: number): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket({ type, ipv6Only: type === 'udp6', reuseAddr: false });
    s.once('error', reject);
    s.bind(at, () => {
      s.off('error', reject);
      s.on('error', (err) => post({ type: 'error', where: `${type} socket`, message: err.message }));
      try {
        s.setRecvBufferSize(recvBufferBytes);
      } catch (err) {
        post({ type: 'error', where: 'SO_RCVBUF', message: (err as Error).message });
      }
      resolve(s);
    });
  });
}

async function start(m: Extract<ToWorker, { type: 'start' }>): Promise<void> {
  if (m.deadlineCell !== undefined) deadline = new Float64Array(m.deadlineCell);
  if (deadline !== undefined) deadline[0] = Number.NEGATIVE_INFINITY;
  // Heartbeats, acknowledgements and lease renewals ahead of bulk work and CPU hogs, if
  // CAP_SYS_NICE allows (lib/thread-priority.ts): a thread that waits 350 ms for a core lets
  // the lease lapse and the node stops answering.
  const priority = raiseThreadPriority();
  sockets.v4 = await bind('udp4', m.port);
  try {
    sockets.v6 = await bind('udp6', m.port);
  } catch {
    // No IPv6 on this node: IPv4 peers only.
  }
  const rt = new MembershipRuntime({
    self: m.self,
    incarnation: m.incarnation,
    key: Buffer.from(m.key),
    port: m.port,
    now: monotonicMs,
    wallNow: () => Date.now(),
    send: (address, to, bytes) => {
      const s = isIPv6(address) ? sockets.v6 : sockets.v4;
      s?.send(bytes, to, address, () => undefined);
    },
    setTimer: (fn, ms) => {
      const t = setTimeout(fn, ms);
      return { cancel: () => clearTimeout(t) };
    },
    onOwned: (owned, p, gainedFrom) => post({ type: 'owned', owned, post: p, gainedFrom }),
    onAnswerUntil: (until) => {
      if (deadline !== undefined) deadline[0] = until;
      post({ type: 'until', until });
    },
    onUnowned: (ips) => post({ type: 'unowned', ips }),
    onMemberChange: (node, candidate, status) => post({ type: 'member', node, candidate, status }),
    onError: (where, err) => post({ type: 'error', where, message: err.message }),
    member: {
      ...(m.sticky === true ? { sticky: true, epochMs: () => Date.now() } : {}),
      ...(m.probeEveryMs !== undefined ? { probeEveryMs: m.probeEveryMs } : {}),
    },
    onSilent: (details) => post({ type: 'silent', details }),
  });
  runtime = rt;
  for (const s of [sockets.v4, sockets.v6]) s?.on('message', (msg) => rt.onDatagram(msg));
  counters = setInterval(() => post({ type: 'counters', counters: rt.counters }), 1000);
  stalls = new StallWatch({
    thresholdMs: stallThresholdMs,
    onStall: (stall) => post({ type: 'stall', stall }),
  });
  post({
    type: 'ready',
    recvBufferBytes: sockets.v4.getRecvBufferSize(),
    ipv6: sockets.v6 !== undefined,
    priority,
  });
}

function close(): void {
  runtime?.stop();
  if (counters !== undefined) clearInterval(counters);
  stalls?.close();
  stalls = undefined;
  for (const s of [sockets.v4, sockets.v6]) s?.close();
  sockets = {};
}

port.on('message', (m: ToWorker) => {
  try {
    switch (m.type) {
      case 'start':
        start(m).catch((err: Error) => post({ type: 'error', where: 'start', message: err.message }));
        return;
      case 'peers':
        runtime?.setPeers(m.peers);
        return;
      case 'plan':
        runtime?.setPlan(expandPlan(m.plan));
        return;
      case 'health':
        runtime?.setHealthy(m.healthy);
        return;
      case 'key':
        runtime?.setKey(Buffer.from(m.key));
        return;
      case 'applied':
        runtime?.applied(m.post);
        return;
      case 'leave':
        if (deadline !== undefined) deadline[0] = Number.NEGATIVE_INFINITY;
        runtime?.leave(m.restartHoldMs);
        // Let the datagrams leave before the sockets close.
        setTimeout(() => {
          close();
          post({ type: 'left' });
        }, 50);
        return;
    }
  } catch (err) {
    post({ type: 'error', where: m.type, message: (err as Error).message });
  }
});
