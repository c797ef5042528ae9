// The main thread's handle on the BFD worker (worker.ts), with BfdManager's interface so the
// BGP side (bgp-bfd.ts) does not care where the sessions run. Requests are posted at once;
// state changes come back as events, counters as snapshots (metrics read the latest).
//
// A worker that fails or exits is logged and counted (SupervisedWorker), every session it had
// Up is reported down (BGP resets those sessions, as the peer's BFD will have declared them
// down too), and a new worker is started after a pause with the sessions wanted then. The
// speaker never goes down with it.

import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../../../lib/log.js';
import { recordStall } from '../../thread-stalls.js';
import { SupervisedWorker } from '../../supervised-worker.js';
import type { BfdManagerEvents } from './edge.js';
import type { BfdPeerProfile, BfdPeerStats, BfdStateChange } from './sessions.js';
import {
  BfdSessionTable,
  type BfdListen,
  type FromBfdWorker,
  type ToBfdWorker,
  type WorkerLag,
} from './worker-protocol.js';

/** What BgpBfd needs of a BFD session owner: BfdManager in-process, or this worker client. */
export interface BfdBackend extends EventEmitter<BfdManagerEvents> {
  add(peer: string, localAddress: string, profile: BfdPeerProfile): void;
  update(peer: string, profile: BfdPeerProfile): void;
  remove(peer: string): void;
  stats(): BfdPeerStats[];
  /** Ends every session, telling peers AdminDown (RFC 5882 §3.2: their BGP is left alone). */
  close(): void | Promise<void>;
}

export interface BfdWorkerClientOptions {
  readonly log: Logger;
  readonly listen?: BfdListen;
  /** Destination / listening port; default 3784 (only tests change it). */
  readonly port?: number;
  /** Counters snapshot period, ms (default 1000). */
  readonly statsEveryMs?: number;
  /** Pause before a lost worker is replaced, ms (default 1000). */
  readonly restartAfterMs?: number;
  /** Called each time a worker was lost (for beacon_bfd_worker_restarts_total). */
  readonly onWorkerLost?: () => void;
  /** Where the compiled worker is; default: worker.js next to this file. */
  readonly workerUrl?: URL;
}

export class BfdWorkerClient extends EventEmitter<BfdManagerEvents> implements BfdBackend {
  readonly #o: BfdWorkerClientOptions;
  readonly #table = new BfdSessionTable();
  readonly #worker: SupervisedWorker<ToBfdWorker, FromBfdWorker>;
  #stats: BfdPeerStats[] = [];
  #discarded = new Map<string, number>();
  #lag: WorkerLag = { p99Ms: 0, maxMs: 0 };
  #closed = false;

  constructor(opts: BfdWorkerClientOptions) {
    super();
    this.#o = opts;
    this.#worker = new SupervisedWorker<ToBfdWorker, FromBfdWorker>({
      name: 'BFD worker',
      url: opts.workerUrl ?? new URL('./worker.js', import.meta.url),
      log: opts.log,
      ...(opts.restartAfterMs !== undefined ? { restartAfterMs: opts.restartAfterMs } : {}),
      onStart: () => [
        {
          type: 'start',
          ...(opts.listen ? { listen: opts.listen } : {}),
          ...(opts.port !== undefined ? { port: opts.port } : {}),
          statsEveryMs: opts.statsEveryMs ?? 1000,
        },
        ...this.#table.replay(),
      ],
      onMessage: (m) => this.#onMessage(m),
      onLost: () => this.#lost(),
    });
  }

  /** Workers lost so far. */
  get restarts(): number {
    return this.#worker.restarts;
  }

  add(peer: string, localAddress: string, profile: BfdPeerProfile): void {
    if (this.#closed) throw new Error('BFD worker client is closed');
    this.#post(this.#table.add(peer, localAddress, profile));
  }

  update(peer: string, profile: BfdPeerProfile): void {
    this.#post(this.#table.update(peer, profile));
  }

  /** Ends a session, telling the peer AdminDown first. No 'down' event is emitted. */
  remove(peer: string): void {
    const m = this.#table.remove(peer);
    if (m) this.#post(m);
    this.#stats = this.#stats.filter((s) => this.#table.has(s.peer));
  }

  has(peer: string): boolean {
    return this.#table.has(peer);
  }

  isUp(peer: string): boolean {
    return this.#table.isUp(peer);
  }

  /** The last reported state of the session to `peer`, if there is one. */
  state(peer: string): string | undefined {
    return this.#table.state(peer);
  }

  /** The latest counters the worker posted (at most statsEveryMs old, fresh after a change). */
  stats(): BfdPeerStats[] {
    return this.#stats;
  }

  discarded(): ReadonlyMap<string, number> {
    return this.#discarded;
  }

  /** The worker's event-loop delay over its last counters period (p99 and max, ms). */
  workerLag(): WorkerLag {
    return this.#lag;
  }

  /**
   * Ends the worker as a crash would (the sessions are lost, reported down and restored by a
   * new worker): for tests of that path and for an operator's debugging.
   */
  async killWorker(): Promise<void> {
    await this.#worker.kill();
  }

  /**
   * Closes every session and ends the worker; resolves once the AdminDown packets are out (or
   * after 500 ms). With `adminDown: false` peers detect a failure, as after a crash.
   */
  async close(opts: { adminDown?: boolean } = {}): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#worker.request(
      { type: 'close', adminDown: opts.adminDown !== false },
      (m) => m.type === 'closed',
      500,
    );
    await this.#worker.stop();
  }

  #post(m: ToBfdWorker): void {
    // Without a worker the message is dropped: the next one is given every wanted session.
    this.#worker.post(m);
  }

  /** The worker is gone (or never started): report its sessions down. */
  #lost(): void {
    try {
      this.#o.onWorkerLost?.();
    } catch (err) {
      this.#o.log.error('BFD worker-lost handler failed', { error: err });
    }
    this.#stats = [];
    for (const c of this.#table.workerLost(performance.now())) this.#emitChange(c);
  }

  #emitChange(c: BfdStateChange): void {
    // Listeners are BGP's: one failing must neither stop the others nor reach the worker port.
    try {
      this.emit('state', c);
      if (c.to === 'Up') this.emit('up', c);
      else if (c.from === 'Up') this.emit('down', c);
    } catch (err) {
      this.#o.log.error('BFD state handler failed', { peer: c.peer, error: err });
    }
  }

  #onMessage(m: FromBfdWorker): void {
    try {
      switch (m.type) {
        case 'ready':
          this.#o.log.info('BFD worker running', { raisedPriority: m.priority });
          return;
        case 'state':
          if (this.#table.onState(m.change)) this.#emitChange(m.change);
          return;
        case 'stats':
          this.#stats = m.sessions.filter((s) => this.#table.has(s.peer));
          this.#discarded = new Map(m.discarded);
          this.#lag = m.lag;
          return;
        case 'error':
          if (m.fatal) this.#o.log.error('BFD worker error', { where: m.where, error: m.message });
          else if (m.where === 'socket')
            this.#o.log.debug('BFD socket error', { peer: m.peer, error: m.message });
          else this.#o.log.warn('BFD worker error', { where: m.where, peer: m.peer, error: m.message });
          return;
        case 'sender':
          this.#o.log.info('BFD periodic sender running', { priority: m.priority });
          return;
        case 'stall':
          // The periodic packets do not wait for this thread; detection and replies do.
          recordStall('bfd-worker', m.stall);
          this.#o.log.warn('BFD worker stalled', { ...m.stall });
          return;
        case 'closed':
          return;
      }
    } catch (err) {
      this.#o.log.error('BFD worker message handler failed', { type: m.type, error: err });
    }
  }
}
