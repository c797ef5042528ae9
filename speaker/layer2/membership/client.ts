// The main thread's handle on the membership worker (worker.ts). The layer 2 mode gives it the
// peers, the plan, the local health and the key, applies the owned sets it reports to the
// responder (then confirms with `applied`), and gives the answer deadline to the responder.
// A worker that exits or fails is fenced at once (deadline −∞: answer nothing) and started
// again with a new incarnation after a pause (SupervisedWorker): the speaker itself never goes
// down with it.

import { recordStall } from '../../thread-stalls.js';
import type { Logger } from '../../../lib/log.js';
import { SupervisedWorker } from '../../supervised-worker.js';
import type { OwnershipInput } from '../ownership/plan-table.js';
import type { RuntimeCounters, RuntimePeer } from './runtime.js';
import { compactPlan, type FromWorker, type ToWorker } from './worker-protocol.js';
import { seniorityScale } from './member.js';

export interface MembershipClientOptions {
  readonly self: string;
  readonly port: number;
  readonly key: Buffer;
  readonly log: Logger;
  /** Shared Float64 answer deadline the responder reads (optional; `onAnswerUntil` always fires). */
  readonly deadlineCell?: SharedArrayBuffer;
  /** The IPs this node owns now. Apply them to the responder, then call `applied(post)`. */
  readonly onOwned: (
    owned: readonly string[],
    post: number,
    gainedFrom: readonly (readonly [string, string])[],
  ) => void;
  /** Answer until this CLOCK_MONOTONIC ms (process.hrtime); −∞: nothing. */
  readonly onAnswerUntil: (until: number) => void;
  readonly onMemberChange?: (node: string, candidate: boolean, status: string) => void;
  /** The planned IPs with no candidate owner in this node's view. */
  readonly onUnowned?: (ips: readonly string[]) => void;
  readonly onCounters?: (counters: RuntimeCounters) => void;
  /** Where the compiled worker is; default: worker.js next to this file. */
  readonly workerUrl?: URL;
  /** Sticky ownership (member.ts): the longest-standing candidate owns and keeps what it owns. */
  readonly sticky?: boolean;
  /** How often peers believed dead hear from this node (member.ts probeEveryMs). */
  readonly probeEveryMs?: number;
}

export class MembershipClient {
  private readonly worker: SupervisedWorker<ToWorker, FromWorker>;
  private peers: readonly RuntimePeer[] = [];
  private plan: ToWorker | undefined;
  private healthy = true;
  private key: Buffer;
  /** Last reported state per peer, for the "from" of the membership log line. */
  private readonly states = new Map<string, string>();

  constructor(private readonly o: MembershipClientOptions) {
    this.key = o.key;
    this.worker = new SupervisedWorker<ToWorker, FromWorker>({
      name: 'membership worker',
      url: o.workerUrl ?? new URL('./worker.js', import.meta.url),
      log: o.log,
      onStart: () => this.startMessages(),
      onMessage: (m) => this.onMessage(m),
      // Nobody renews the lease any more: answer nothing until a new worker has joined.
      onLost: () => this.o.onAnswerUntil(Number.NEGATIVE_INFINITY),
    });
  }

  /** Workers lost so far. */
  get restarts(): number {
    return this.worker.restarts;
  }

  setPeers(peers: readonly RuntimePeer[]): void {
    this.peers = peers;
    this.send({ type: 'peers', peers });
  }

  setPlan(inputs: readonly OwnershipInput[]): void {
    this.plan = { type: 'plan', plan: compactPlan(inputs) };
    this.send(this.plan);
  }

  setHealthy(healthy: boolean): void {
    this.healthy = healthy;
    this.send({ type: 'health', healthy });
  }

  setKey(key: Buffer): void {
    this.key = key;
    this.send({ type: 'key', key: new Uint8Array(key) });
  }

  applied(post: number): void {
    this.send({ type: 'applied', post });
  }

  /**
   * SIGTERM: the responder must already have stopped answering. Resolves when the news is out.
   * `restartHoldMs` > 0: this node's speaker comes back (member.ts `leave`).
   */
  async leave(restartHoldMs = 0): Promise<void> {
    await this.worker.request({ type: 'leave', restartHoldMs }, (m) => m.type === 'left', 300);
    await this.stop();
  }

  async stop(): Promise<void> {
    await this.worker.stop();
    // Nobody renews the lease any more.
    this.o.onAnswerUntil(Number.NEGATIVE_INFINITY);
  }

  private send(m: ToWorker): void {
    this.worker.post(m);
  }

  /** What a new worker is told first: who it is, the peers, the plan and the local health. */
  private startMessages(): ToWorker[] {
    return [
      {
        type: 'start',
        self: this.o.self,
        // The wall clock makes incarnations grow across restarts of the process and the worker
        // (sticky: in units of seniority, member.ts seniorityScale).
        incarnation: this.o.sticky === true ? Date.now() * seniorityScale : Date.now(),
        ...(this.o.sticky === true ? { sticky: true } : {}),
        ...(this.o.probeEveryMs !== undefined ? { probeEveryMs: this.o.probeEveryMs } : {}),
        key: new Uint8Array(this.key),
        port: this.o.port,
        ...(this.o.deadlineCell !== undefined ? { deadlineCell: this.o.deadlineCell } : {}),
      },
      { type: 'peers', peers: this.peers },
      ...(this.plan !== undefined ? [this.plan] : []),
      ...(this.healthy ? [] : [{ type: 'health', healthy: false } satisfies ToWorker]),
    ];
  }

  private onMessage(m: FromWorker): void {
    try {
      switch (m.type) {
        case 'ready':
          this.o.log.info('membership worker running', {
            port: this.o.port,
            recvBufferBytes: m.recvBufferBytes,
            ipv6: m.ipv6,
            raisedPriority: m.priority,
          });
          return;
        case 'owned':
          this.o.onOwned(m.owned, m.post, m.gainedFrom);
          return;
        case 'until':
          this.o.onAnswerUntil(m.until);
          return;
        case 'unowned':
          this.o.onUnowned?.(m.ips);
          return;
        case 'member': {
          // Alive but not a candidate: its data plane is unhealthy.
          const to = m.status === 'alive' && !m.candidate ? 'unhealthy' : m.status;
          const from = this.states.get(m.node) ?? 'unknown';
          this.states.set(m.node, to);
          this.o.log.info('speaker membership changed', { peer: m.node, from, to });
          this.o.onMemberChange?.(m.node, m.candidate, to);
          return;
        }
        case 'counters':
          this.o.onCounters?.(m.counters);
          return;
        case 'error':
          this.o.log.warn('membership worker error', { where: m.where, error: m.message });
          return;
        case 'silent':
          this.o.log.warn('layer 2 answers nothing: membership does not let it', m.details);
          return;
        case 'stall':
          recordStall('membership-worker', m.stall);
          this.o.log.warn('membership worker stalled', { ...m.stall });
          return;
        case 'left':
          return; // leave() waits for it
      }
    } catch (err) {
      this.o.log.error('membership event handler failed', { type: m.type, error: (err as Error).message });
    }
  }
}
