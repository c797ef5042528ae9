// Layer 2 for the control-plane VIPs: the existing responder answers ARP/NDP for the VIPs this
// node owns, and the ring membership (../layer2/membership/client.ts, in its worker thread)
// decides who owns them over signed UDP heartbeats among the control-plane nodes — no
// Kubernetes API involved, since the VIP fronts that API.
//
// Ownership is sticky (../layer2/membership/member.ts `sticky`): the candidate that has been one
// longest owns, ties by the rendezvous rule (../layer2/ownership/hrw.ts); seniority travels in
// the membership incarnations, so every node computes the same owner from the same view, one
// owner per VIP. A node that stops being a
// candidate (API server not ready, link down, stopping) stops answering here first, then the
// worker tells the peers (a new incarnation, unhealthy), and the next candidate takes over with
// gratuitous ARP / unsolicited NA (Announcer). The worker's lease is the fence: it writes the
// answer deadline into a shared cell the responder's native thread checks on its own clock, so
// a stalled process stops answering before a monitor declares it dead.

import type { Logger } from '../../lib/log.js';
import { MembershipClient } from '../layer2/membership/client.js';
import { Announcer, gratuitousFrames } from '../layer2/responder/announcer.js';
import { Responder, type OwnedIp } from '../layer2/responder/responder.js';
import type { InterfaceSnapshot } from '../layer2/responder/interfaces.js';
import type { ControlPlaneConfig } from './config.js';
import type { ControlPlaneMetrics } from './metrics.js';
import { answeredVips } from './answered.js';

export interface VipL2Options {
  readonly config: ControlPlaneConfig;
  readonly key: Buffer;
  readonly log: Logger;
  readonly metrics: ControlPlaneMetrics;
  /** CLOCK_MONOTONIC ms: the membership worker's clock. */
  readonly now: () => number;
}

export class VipL2 {
  private readonly responder: Responder;
  private readonly announcer: Announcer;
  private readonly client: MembershipClient;
  private owned: readonly string[] = [];
  private until = Number.NEGATIVE_INFINITY;
  private candidate = false;
  private placed: ReadonlyMap<string, readonly string[]> = new Map();
  private answering: readonly string[] = [];
  private fenceTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private awareness = 0;

  constructor(private readonly o: VipL2Options) {
    const { log } = o;
    this.responder = new Responder({
      exclude: [],
      onPlacementGained: (ip, interfaces) => {
        this.announcer.takeOver(ip);
        log.info('announcing VIP', { vip: ip, interfaces });
      },
      onConflict: (ip, mac, iface) =>
        log.warn('another station answers for a VIP this node owns', { vip: ip, mac, interface: iface }),
      onLog: (e) =>
        log.warn(e.msg, { ...(e.ip ? { vip: e.ip } : {}), interface: e.interface, error: e.error }),
    });
    this.announcer = new Announcer({
      transmit: (ip) => this.responder.sendOnInterfaces(ip, (mac) => gratuitousFrames(ip, mac)),
    });
    const deadlineCell = new SharedArrayBuffer(8);
    new Float64Array(deadlineCell)[0] = Number.NaN;
    this.responder.setAnswerDeadlineCell(deadlineCell);
    const c = o.config;
    this.client = new MembershipClient({
      self: c.node,
      port: c.membershipPort,
      key: o.key,
      log,
      deadlineCell,
      // The VIP stays with its owner while it is a candidate: a node that recovers does not
      // take it back (which would be a second outage), and after a partition heals the
      // longest-standing candidate keeps it (member.ts, sticky).
      sticky: true,
      // Peers believed dead hear from this node every 25 ms (default 500 ms; a few dozen
      // datagrams a second among a handful of control-plane nodes): when a partition heals,
      // both sides' owners can be heard until the first datagram crosses and its receiver
      // pauses (the settle time of member.ts), so that window is at most this long.
      probeEveryMs: 25,
      onOwned: (owned, post) => {
        this.owned = owned;
        this.publish();
        this.client.applied(post);
      },
      onAnswerUntil: (until) => {
        this.until = until;
        this.publish();
      },
      onMemberChange: (node, candidate, status) =>
        log.info('control-plane peer', { peer: node, candidate, status }),
      // Lifeguard (../layer2/membership/lifeguard.ts): a node whose own timers run late
      // stretches its detection timeout by 1 + awareness, so a loaded node declares a dead
      // peer — an unplugged owner — later. Logged when it changes: it explains slow failovers.
      onCounters: (counters) => {
        if (counters.awareness === this.awareness) return;
        this.awareness = counters.awareness;
        log.info('membership awareness', {
          awareness: counters.awareness,
          detectionFactor: 1 + counters.awareness,
          rejoins: counters.rejoins,
        });
      },
    });
    // Not a candidate until the health probe says so: join as unhealthy.
    this.client.setHealthy(false);
    this.client.setPeers(c.peers.map((p) => ({ name: p.name, address: p.address })));
    const eligible = [c.node, ...c.peers.map((p) => p.name)].sort();
    this.client.setPlan(c.vips.map((ip) => ({ ip, eligible, weights: new Map<string, number>() })));
  }

  setInterfaces(snapshot: InterfaceSnapshot): void {
    this.responder.setInterfaces(snapshot);
  }

  /** Where each VIP may be answered (placement.ts). */
  setPlaced(placed: ReadonlyMap<string, readonly string[]>): void {
    this.placed = placed;
    this.publish();
  }

  /** Not a candidate: stop answering here first, then tell the peers. */
  setCandidate(candidate: boolean): void {
    if (candidate === this.candidate) return;
    this.candidate = candidate;
    if (!candidate) this.publish();
    this.client.setHealthy(candidate);
    if (candidate) this.publish();
  }

  setKey(key: Buffer): void {
    this.client.setKey(key);
  }

  /** The VIPs answered now. */
  current(): readonly string[] {
    return this.answering;
  }

  /** SIGTERM: stop answering, then tell the peers we left (they take over at once). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.candidate = false;
    this.publish();
    if (this.fenceTimer !== undefined) clearTimeout(this.fenceTimer);
    this.announcer.stop();
    this.responder.close();
    await this.client.leave();
  }

  private publish(): void {
    const now = this.o.now();
    if (this.fenceTimer !== undefined) clearTimeout(this.fenceTimer);
    this.fenceTimer = undefined;
    const next = answeredVips({
      owned: this.owned,
      placed: this.placed,
      candidate: this.candidate && !this.stopped,
      until: this.until,
      now,
    });
    // The lease ends on its own: look again then (the native fence already stopped answers).
    if (next.length > 0 && Number.isFinite(this.until))
      this.fenceTimer = setTimeout(() => this.publish(), Math.max(0, this.until - now) + 1);
    if (next.join() === this.answering.join()) return;
    const before = new Set(this.answering);
    const after = new Set(next);
    for (const vip of before)
      if (!after.has(vip)) {
        this.announcer.release(vip);
        this.o.metrics.owned.set({ vip }, 0);
        this.o.log.info('no longer answering for VIP', { vip });
      }
    for (const vip of after) if (!before.has(vip)) this.o.metrics.owned.set({ vip }, 1);
    this.answering = next;
    const owned: OwnedIp[] = next.map((ip) => ({ ip, interfaces: this.placed.get(ip) ?? [] }));
    this.responder.setOwned(owned);
  }
}
