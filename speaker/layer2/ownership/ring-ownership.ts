// Layer 2 ownership on the main thread, driven by the membership worker (../membership/
// client.ts): it hands the layer 2 mode the IPs this node may answer now, and remembers what
// the mode needs besides (when a peer was lost, for the failover histogram; each peer's state,
// for ServiceL2Status cleanup; the unowned time metric).
//
// "May answer now" = owned by the rendezvous rule in this node's view AND the lease is valid.
// The worker writes the lease end into a shared cell the responder reads on its own clock (the
// fence that holds even when this thread lags). Without that cell this class enforces it on the
// main thread: when the lease ends the answerable set becomes empty until it is renewed. With
// it, the set is withheld only while the lease is −∞ (hand-over-owned.ts says why).

import { performance } from 'node:perf_hooks';
import type { Logger } from '../../../lib/log.js';
import type { LocalHealth, MemberState, Peer } from '../membership/types.js';
import type { L2Plan } from '../plan/index.js';
import { MembershipClient } from '../membership/client.js';
import type { RuntimeCounters } from '../membership/runtime.js';
import { handOverOwned } from './hand-over-owned.js';
import { UnownedTime, unownedNow } from './unowned-time.js';

export interface RingOwnershipOptions {
  readonly self: string;
  readonly port: number;
  readonly key: Buffer;
  readonly log: Logger;
  /** Monotonic ms, the same clock as the worker's (process.hrtime). */
  readonly now: () => number;
  readonly onAnswerable: (answerable: Answerable) => void;
  readonly onCounters?: (counters: RuntimeCounters) => void;
  /** Seconds with no live owner, per IP, as this speaker sees it (unowned-time.ts). */
  readonly onUnowned?: (ip: string, seconds: number) => void;
  /**
   * The shared answer deadline the responder checks at every answer (its fence; optional). With
   * it, a lease end this thread sees pass is not acted on here (hand-over-owned.ts).
   */
  readonly deadlineCell?: SharedArrayBuffer;
}

/** The IPs this node answers now, and for IPs just taken over, who owned them (failover timing). */
export interface Answerable {
  readonly ips: ReadonlySet<string>;
  readonly previousOwners: ReadonlyMap<string, string>;
}

const emptyPlan: L2Plan = { ips: [], notAnnounced: new Map() };

export class RingOwnership {
  private readonly client: MembershipClient;
  private plan: L2Plan = emptyPlan;
  private owned: readonly string[] = [];
  private until = Number.NEGATIVE_INFINITY;
  private fenceTimer: NodeJS.Timeout | undefined;
  private readonly lost = new Map<string, number>();
  private readonly candidates = new Map<string, boolean>();
  private readonly states = new Map<string, string>();
  /** IP → the node that owned it before this node took it over (the failover histogram). */
  private readonly previousOwners = new Map<string, string>();
  private lastKey = '';
  /** Planned IPs with no candidate owner in the worker's view. */
  private noOwner: ReadonlySet<string> = new Set();
  private readonly unownedTime: UnownedTime;
  private unownedInputs: readonly unknown[] = [];
  private unowned: ReadonlySet<string> = new Set();
  private readonly unownedTimer: NodeJS.Timeout;

  constructor(private readonly o: RingOwnershipOptions) {
    this.unownedTime = new UnownedTime(o.now());
    // The counter must grow while an IP stays unowned, not only when something changes.
    this.unownedTimer = setInterval(() => this.countUnowned(), 1000);
    this.unownedTimer.unref();
    this.client = new MembershipClient({
      self: o.self,
      port: o.port,
      key: o.key,
      log: o.log,
      ...(o.deadlineCell !== undefined ? { deadlineCell: o.deadlineCell } : {}),
      onOwned: (owned, post, gainedFrom) => {
        this.owned = owned;
        for (const [ip, from] of gainedFrom) this.previousOwners.set(ip, from);
        this.publish();
        // publish() handed the set to the responder synchronously: it follows it now.
        this.client.applied(post);
      },
      onAnswerUntil: (until) => {
        this.until = until;
        this.publish();
      },
      onUnowned: (ips) => {
        this.noOwner = new Set(ips);
        this.countUnowned();
      },
      onMemberChange: (node, candidate, status) => {
        this.candidates.set(node, candidate);
        this.states.set(node, status);
        // performance.now(): the clock layer 2 mode measures failovers with.
        if (!candidate) this.lost.set(node, performance.now());
      },
      ...(o.onCounters !== undefined ? { onCounters: o.onCounters } : {}),
    });
  }

  setKey(key: Buffer): void {
    this.client.setKey(key);
  }

  setPlan(plan: L2Plan): void {
    this.plan = plan;
    this.client.setPlan(plan.ips);
    this.publish();
  }

  setPeers(peers: readonly Peer[]): void {
    this.client.setPeers(peers.map((p) => ({ name: p.name, address: p.address })));
  }

  /** Unhealthy: stop answering here first, then tell the peers (they take over). */
  setHealth(health: LocalHealth): void {
    const healthy = health.linkUp && health.responderOk;
    if (!healthy) {
      this.until = Number.NEGATIVE_INFINITY;
      this.publish();
    }
    this.client.setHealthy(healthy);
  }

  lostAt(node: string): number | undefined {
    return this.lost.get(node);
  }

  state(node: string): MemberState | undefined {
    const s = this.states.get(node);
    return s === 'alive' || s === 'dead' || s === 'left' ? s : s === undefined ? undefined : 'dead';
  }

  /** SIGTERM: stop answering, then tell the peers; `restartHoldMs` > 0: this speaker comes back. */
  async leave(restartHoldMs = 0): Promise<void> {
    this.until = Number.NEGATIVE_INFINITY;
    this.publish();
    if (this.fenceTimer !== undefined) clearTimeout(this.fenceTimer);
    clearInterval(this.unownedTimer);
    await this.client.leave(restartHoldMs);
  }

  /** Adds the time since the last call to the IPs unowned meanwhile; notes the set from now. */
  private countUnowned(): void {
    // Only a lease that lapsed leaves this node's IPs unanswered: its peers still count it alive.
    // While it joins (−∞: after a start, or health regained) they answer for it, as they do when
    // it is unhealthy or leaving, so those IPs are not unowned.
    const answering = !(Number.isFinite(this.until) && this.o.now() >= this.until);
    const inputs = [this.plan, this.noOwner, this.owned, answering];
    if (inputs.some((v, i) => v !== this.unownedInputs[i])) {
      this.unownedInputs = inputs;
      this.unowned = unownedNow(
        this.plan.ips.map((p) => p.ip),
        this.noOwner,
        this.owned,
        answering,
      );
    }
    const added = this.unownedTime.update(this.o.now(), this.unowned);
    if (this.o.onUnowned !== undefined) for (const [ip, s] of added) this.o.onUnowned(ip, s);
  }

  /** What the mode applies: the owned IPs while the lease allows (hand-over-owned.ts), else none. */
  private publish(): void {
    this.countUnowned();
    const now = this.o.now();
    const dataPlaneFenced = this.o.deadlineCell !== undefined;
    const answering = handOverOwned(this.until, now, dataPlaneFenced);
    if (this.fenceTimer !== undefined) clearTimeout(this.fenceTimer);
    this.fenceTimer = undefined;
    // Without the shared cell this thread is the fence: it withdraws the set when the lease ends.
    if (!dataPlaneFenced && answering && Number.isFinite(this.until))
      this.fenceTimer = setTimeout(() => this.publish(), Math.max(0, this.until - now) + 1);
    const ips = answering ? this.owned : [];
    const key = `${answering}|${ips.join(',')}|${this.plan.ips.length}`;
    if (key === this.lastKey && this.plan === this.published) return;
    this.lastKey = key;
    this.published = this.plan;
    const previousOwners = new Map(this.previousOwners);
    this.previousOwners.clear();
    this.o.onAnswerable({ ips: new Set(ips), previousOwners });
  }

  private published: L2Plan | undefined;
}
