// What this node does in layer 2 mode, and the state it keeps to do it: which Service IPs it
// answers ARP/NDP for, which it announces on takeover, the health it tells its peers, and what
// it writes and records about that (ServiceL2Status, Events, metrics). The decisions are in
// decisions.ts; every edge (packet sockets, the membership worker, the API, the clock) comes
// in through Layer2Options, so a unit test drives the whole mode (announcements.test.ts).
//
// On every change of configuration, cluster view, membership or local health:
//   plan (planL2: which nodes may announce each IP) → own (the membership worker ranks the
//   live eligible nodes of each IP, rendezvous order, and holds the lease) →
//   responder.setOwned(the IPs this node may answer, with their interfaces) → on a gained
//   placement, announcer.takeOver (gratuitous ARP / unsolicited NA at once and repeated).
// Plans follow the cluster view at most once per a pause proportional to their own cost
// (replanPause): each plan is a pass over every Service IP, and so is what follows it (the
// worker's ranking, the owned set, the Services and status), so a plan per change would make
// a burst of N new Services cost N passes over N. The pause is 20 times the last plan's time,
// at most a second: during a burst the plan takes at most a twentieth of the thread (and what
// follows it on this thread about as much again); changes meanwhile are planned together,
// after the pause; a single change after a quiet spell is planned at once. Measured with speaker-churn-l2 (4,000 Services
// created and deleted): planning and what followed it were over half the main thread's work.
// Membership starts only once the key of Secret `memberlist` (data.secretkey) in the speaker's
// namespace is there: an unauthenticated membership would let any host on the node network
// take Service IPs over, so without it the node announces nothing and says why.
//
// A handler that throws (a responder callback, a membership report, a change notification) is
// logged and counted (beacon_layer2_handler_errors_total) and the mode goes on: one bad input
// must not stop the node answering for its other IPs, nor kill the speaker.
//
// stop() (SIGTERM): stop answering, tell the peers this node left (the next owners announce
// within one network delay), then close sockets and delete our ServiceL2Status. When a
// DaemonSet rollout is replacing this speaker (restart-hold.ts) the peers are told it is
// restarting instead: its IPs stay with this node, unanswered, until the new speaker is in.

import type { Config } from '../../lib/config/types.js';
import type { EventRecorder } from '../../lib/kube/events.js';
import type { KubeObject } from '../../lib/kube/transport.js';
import type { Logger } from '../../lib/log.js';
import type { ClusterSnapshot } from '../cluster/view.js';
import {
  ConflictReports,
  eventText,
  failoverStart,
  localHealth,
  ownedChange,
  peersOf,
  serviceChanges,
  serviceTarget,
  socketFailureMessage,
} from './decisions.js';
import type { Layer2Metrics } from './metrics.js';
import type { LocalHealth } from './membership/types.js';
import type { RuntimeCounters } from './membership/runtime.js';
import { memberlistKey, memberlistSecretKey, memberlistSecretName } from './membership/memberlist-key.js';
import { announcements, ownedKey, type AnnouncedService } from './ownership/announced.js';
import type { Answerable, RingOwnership } from './ownership/ring-ownership.js';
import { UnplacedIPs } from './ownership/unplaced.js';
import { planL2, type L2Plan } from './plan/index.js';
import { Announcer, gratuitousFrames, systemClock, type Clock } from './responder/announcer.js';
import { eligibleInterfaces, type InterfaceSnapshot } from './responder/interfaces.js';
import type { OwnedIp, Responder, ResponderOptions } from './responder/responder.js';
import { StrictArpCheck } from './responder/strict-arp.js';

/** What the mode needs of the responder (Responder; in tests, one over fake sockets). */
export type ResponderEdge = Pick<
  Responder,
  'setInterfaces' | 'setOwned' | 'placement' | 'sendOnInterfaces' | 'close' | 'counters'
> & {
  /** The lease's shared deadline cell, when the responder has that fence. */
  setAnswerDeadlineCell?(cell: SharedArrayBuffer): void;
};

/** The responder's callbacks, which the mode handles. */
export type ResponderEvents = Required<Pick<ResponderOptions, 'onPlacementGained' | 'onConflict' | 'onLog'>>;

/** What the mode needs of ownership (RingOwnership over the membership worker). */
export type OwnershipEdge = Pick<
  RingOwnership,
  'setKey' | 'setPlan' | 'setPeers' | 'setHealth' | 'lostAt' | 'state' | 'leave'
>;

/** What membership is started with, once the key is there. */
export interface MembershipStart {
  readonly key: Buffer;
  /** The answer deadline the worker writes and the responder's native fence reads. */
  readonly deadlineCell: SharedArrayBuffer;
  readonly onAnswerable: (answerable: Answerable) => void;
  readonly onCounters: (counters: RuntimeCounters) => void;
  readonly onUnowned: (ip: string, seconds: number) => void;
}

/** What the mode reads of the configuration and the cluster view, when they change. */
export interface Layer2Sources {
  config(): Config | undefined;
  cluster(): ClusterSnapshot | undefined;
  /** The Secrets of the speaker's namespace (the membership key). */
  secrets(): readonly KubeObject[];
}

/** ServiceL2Status of this node (L2StatusWriter). */
export interface StatusEdge {
  set(services: ReadonlyMap<string, AnnouncedService>): void;
  clear(): Promise<void>;
}

export interface Layer2Options {
  /** This node's name. */
  readonly self: string;
  /** The speaker's namespace (the memberlist Secret). */
  readonly namespace: string;
  /** Interface name patterns never used for ARP/NDP. */
  readonly exclude: readonly RegExp[];
  readonly log: Logger;
  readonly metrics: Layer2Metrics;
  readonly sources: Layer2Sources;
  readonly events: Pick<EventRecorder, 'record'>;
  readonly status: StatusEdge;
  /** Creates the responder, which reports to `events`. */
  openResponder(events: ResponderEvents): ResponderEdge;
  /** Opens and closes a packet socket on interface `index`; throws if that fails (CAP_NET_RAW). */
  probeSocket(index: number): void;
  /** Watches the node's links and addresses: the first snapshot before it resolves. */
  watchInterfaces(
    onChange: (snapshot: InterfaceSnapshot) => void,
    onError: (err: Error) => void,
  ): Promise<{ close(): void }>;
  /** Starts membership and ownership (once the key is there). */
  startMembership(start: MembershipStart): OwnershipEdge;
  /** Milliseconds on the clock membership reports peers lost on (performance.now). */
  now(): number;
  /** Wall clock ms (Date.now): the announcing-since gauge is shown as a date. */
  wallClock(): number;
  /** The mode's timers (the announcer's repeats, the pause between plans); default the system's. */
  readonly clock?: Clock;
  /** net.ipv4.conf.all.arp_ignore (strict-arp.ts); default read from /proc. */
  readonly arpIgnoreAll?: () => number | undefined;
  /**
   * On SIGTERM: how long the peers keep this node the owner of its IPs while its speaker
   * restarts (restart-hold.ts); 0, or absent: hand over at once. Must not reject.
   */
  readonly restartHold?: () => Promise<number>;
}

export class Layer2Announcements {
  private plan: L2Plan = { ips: [], notAnnounced: new Map() };
  private ownership: OwnershipEdge | undefined;
  private stopped = false;

  private readonly responder: ResponderEdge;
  private readonly announcer: Announcer;
  /** IP → when its previous owner was lost (now() ms), until our first gratuitous frame. */
  private readonly pendingFailover = new Map<string, number>();
  /** IPs this node answers for since their first placement (for the announcing-since gauge). */
  private readonly answering = new Set<string>();
  /** What the responder was last told to own, and its ownedKey. */
  private ownedNow: readonly OwnedIp[] = [];
  private lastOwned = '';
  private readonly unplaced = new UnplacedIPs();
  private readonly conflicts = new ConflictReports();

  private interfaces: InterfaceSnapshot = { links: [], addresses: [] };
  private rawSocketOk = false;
  private responderFailed = false;
  private lastHealth = '';
  private readonly strictArp: StrictArpCheck;
  private watcher: { close(): void } | undefined;

  private announced: ReadonlyMap<string, AnnouncedService> = new Map();
  /** Why the membership key is not usable, while it is not. */
  private keyProblem: string | undefined;

  private readonly clock: Clock;
  /** A plan waiting for the pause after the last one to end. */
  private replanTimer: unknown;
  /** When the next plan may run (clock ms). */
  private nextReplanAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly o: Layer2Options) {
    this.clock = o.clock ?? systemClock;
    this.responder = o.openResponder({
      onPlacementGained: this.guard('placementGained', (ip, interfaces) =>
        this.placementGained(ip, interfaces),
      ),
      onConflict: this.guard('conflict', (ip, mac, iface) => this.conflict(ip, mac, iface)),
      onLog: this.guard('responderLog', (e) => this.responderLog(e)),
    });
    this.announcer = new Announcer({
      transmit: (ip) => this.responder.sendOnInterfaces(ip, (mac) => gratuitousFrames(ip, mac)),
      clock: this.clock,
    });
    o.metrics.readFramesFrom(() => {
      const counters = this.responder.counters;
      return {
        requestsReceived: counters.requestsReceived,
        responsesSent: counters.responsesSent,
        gratuitousSent: this.announcer.gratuitousSent,
        conflicts: counters.conflictsByIp,
        dropped: counters.dropped,
        conflictsSuppressed: counters.conflictsSuppressed,
        malformed: counters.malformedByReason,
      };
    });
    this.strictArp = new StrictArpCheck((message) => o.log.warn(message), o.arpIgnoreAll);
  }

  /** Watches the interfaces (the first snapshot is applied before it resolves), plans, and
   * starts membership if the key is there. */
  async start(): Promise<void> {
    this.watcher = await this.o.watchInterfaces(
      this.guard('interfaces', (snapshot) => this.setInterfaces(snapshot)),
      (err) => this.o.log.warn('interface scan failed', { error: err.message }),
    );
    this.replan();
    this.onKey();
  }

  /** The configuration changed (the memberlist Secret is part of it). */
  readonly configChanged = this.guard('config', () => {
    this.onKey();
    this.replan();
  });

  /** The cluster view changed: planned now, or after the pause that follows the last plan. */
  readonly clusterChanged = this.guard('cluster', () => this.requestReplan());

  /** Whether `node` is dead or gone for membership (its ServiceL2Status may be deleted). */
  isGone(node: string): boolean {
    const o = this.ownership;
    return o !== undefined && o.lostAt(node) !== undefined && o.state(node) !== 'alive';
  }

  /** The health peers learn through membership, as it is now. */
  health(): LocalHealth {
    return localHealth(this.interfaces, this.o.exclude, {
      rawSocketOk: this.rawSocketOk,
      responderFailed: this.responderFailed,
    });
  }

  /** SIGTERM: see the top of this file. Never rejects. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.replanTimer !== undefined) this.clock.clearTimeout(this.replanTimer);
    this.replanTimer = undefined;
    const { log, metrics, self } = this.o;
    // Decided while this node still answers: a rollout's hold, else 0 (hand over at once).
    let holdMs = 0;
    if (this.ownership !== undefined && this.o.restartHold !== undefined)
      holdMs = await this.o.restartHold().catch((err: unknown) => {
        log.warn('layer 2: restart hold failed; handing over', { error: err });
        return 0;
      });
    // Stop answering, then tell the peers (they take over at once, or hold for the restart);
    // the native fence stops the responder's thread first too (the lease deadline goes to −∞
    // before the news is sent).
    const left = this.ownership?.leave(holdMs);
    this.announcer.stop();
    this.responder.close();
    this.watcher?.close();
    try {
      await left;
    } catch (err) {
      log.warn('leaving membership failed', { error: err });
    }
    for (const [key, svc] of this.announced)
      for (const ip of svc.ips)
        metrics.announced.remove({ protocol: 'layer2', service: key, node: self, ip });
    for (const o of this.ownedNow) metrics.announcingSince.remove({ ip: o.ip, node: self });
    log.info('layer 2 stopped: left membership, stopped answering', {
      announced: this.announced.size,
      ...(holdMs > 0 ? { restartHoldMs: holdMs } : {}),
    });
    await this.o.status.clear();
  }

  // --- Data plane ---------------------------------------------------------------------------

  private placementGained(ip: string, interfaces: string[]): void {
    const { metrics, self } = this.o;
    this.announcer.takeOver(ip);
    const lostAt = this.pendingFailover.get(ip);
    this.pendingFailover.delete(ip);
    const failoverMs = lostAt === undefined ? undefined : this.o.now() - lostAt;
    if (failoverMs !== undefined) metrics.failoverSeconds.observe(failoverMs / 1000);
    // Wall clock: the dashboard shows it as a date. A further interface keeps the first time.
    if (!this.answering.has(ip)) metrics.announcingSince.set({ ip, node: self }, this.o.wallClock() / 1000);
    this.answering.add(ip);
    this.o.log.info('announcing', {
      ip,
      interfaces,
      ...(failoverMs !== undefined ? { failoverMs: Math.round(failoverMs * 10) / 10 } : {}),
    });
  }

  private responderLog(e: Parameters<ResponderEvents['onLog']>[0]): void {
    if (e.msg === socketFailureMessage) {
      this.responderFailed = true;
      this.updateHealth();
    }
    this.o.log.warn(e.msg, { ...(e.ip ? { ip: e.ip } : {}), interface: e.interface, error: e.error });
  }

  private conflict(ip: string, mac: string, iface: string): void {
    if (!this.conflicts.report(ip, this.o.now())) return;
    this.o.log.warn('another station answers for an IP this node owns', { ip, mac, interface: iface });
    const services = this.plan.ips.find((p) => p.ip === ip)?.services ?? [];
    for (const key of services)
      this.o.events.record(
        this.target(key),
        'Warning',
        'ipConflict',
        eventText.ipConflict(ip, mac, iface, this.o.self),
      );
  }

  // --- Health -------------------------------------------------------------------------------

  private setInterfaces(snapshot: InterfaceSnapshot): void {
    if (this.stopped) return;
    this.interfaces = snapshot;
    this.strictArp.check(snapshot.links.map((l) => l.name));
    this.probeRawSocket();
    this.responder.setInterfaces(snapshot);
    this.checkPlacement();
    this.updateHealth();
  }

  /** Can this process open a packet socket at all (CAP_NET_RAW)? Checked on interface changes. */
  private probeRawSocket(): void {
    const first = eligibleInterfaces(this.interfaces, { exclude: this.o.exclude })[0];
    if (first === undefined) return;
    try {
      this.o.probeSocket(first.index);
      if (!this.rawSocketOk) this.o.log.info('packet sockets work', { interface: first.name });
      this.rawSocketOk = true;
      this.responderFailed = false;
    } catch (err) {
      if (this.rawSocketOk || !this.responderFailed)
        this.o.log.error('cannot open a packet socket: layer 2 needs CAP_NET_RAW', {
          interface: first.name,
          error: (err as Error).message,
        });
      this.rawSocketOk = false;
    }
  }

  private updateHealth(): void {
    const h = this.health();
    this.o.metrics.responderUp.set(h.responderOk ? 1 : 0);
    const text = JSON.stringify(h);
    if (text !== this.lastHealth) {
      this.lastHealth = text;
      this.o.log.info('local data-plane health', { ...h });
    }
    this.ownership?.setHealth(h);
  }

  // --- Ownership → responder, Services, status ----------------------------------------------

  private onAnswerable(answerable: Answerable): void {
    if (this.stopped) return;
    const { self, metrics, log } = this.o;
    const ann = announcements(this.plan, answerable.ips, self);
    const key = ownedKey(ann.owned);
    if (key !== this.lastOwned) {
      const { gained, lost } = ownedChange(this.ownedNow, ann.owned);
      for (const ip of gained) {
        const lostAt = failoverStart(answerable.previousOwners.get(ip), self, (n) =>
          this.ownership?.lostAt(n),
        );
        if (lostAt !== undefined) this.pendingFailover.set(ip, lostAt);
      }
      for (const ip of lost) {
        this.announcer.release(ip);
        metrics.announcingSince.remove({ ip, node: self });
        this.answering.delete(ip);
        log.info('no longer announcing', { ip });
      }
      this.lastOwned = key;
      // The responder follows first (a lost IP is no longer answered), status comes after.
      this.responder.setOwned(ann.owned);
      this.ownedNow = ann.owned;
      this.checkPlacement();
      const after = new Set(ann.owned.map((o) => o.ip));
      for (const ip of this.pendingFailover.keys()) if (!after.has(ip)) this.pendingFailover.delete(ip);
    }
    this.updateServices(ann.services);
  }

  private updateServices(next: ReadonlyMap<string, AnnouncedService>): void {
    const { metrics, self } = this.o;
    const c = serviceChanges(this.announced, next);
    for (const key of c.assigned)
      this.o.events.record(this.target(key), 'Normal', 'nodeAssigned', eventText.nodeAssigned(self));
    for (const s of c.remove)
      metrics.announced.remove({ protocol: 'layer2', service: s.service, node: self, ip: s.ip });
    for (const s of c.set)
      metrics.announced.set({ protocol: 'layer2', service: s.service, node: self, ip: s.ip }, 1);
    this.announced = next;
    if (c.changed) this.o.status.set(next);
  }

  /** MetalLB's `announceFailed` (decided in unplaced.ts), as a Warning Event on its Services. */
  private checkPlacement(): void {
    const fresh = this.unplaced.update(this.ownedNow, this.responder.placement());
    if (fresh.length === 0) return;
    const servicesOf = new Map(this.plan.ips.map((p) => [p.ip, p.services]));
    for (const u of fresh) {
      this.o.log.warn('owned IP not announced: no interface', { ip: u.ip, interfaces: u.interfaces });
      for (const key of servicesOf.get(u.ip) ?? [])
        this.o.events.record(
          this.target(key),
          'Warning',
          'announceFailed',
          eventText.announceFailed(u.ip, this.o.self, u.reason),
        );
    }
  }

  private target(key: string) {
    return serviceTarget(key, this.o.sources.cluster()?.serviceObjects.get(key));
  }

  // --- Plan: configuration × cluster view ---------------------------------------------------

  /** Plans now if the pause after the last plan is over, else once it is (see the top). */
  private requestReplan(): void {
    if (this.stopped || this.replanTimer !== undefined) return;
    const wait = this.nextReplanAt - this.clock.now();
    if (wait <= 0) {
      this.replan();
      return;
    }
    this.replanTimer = this.clock.setTimeout(
      this.guard('replan', () => {
        this.replanTimer = undefined;
        if (!this.stopped) this.replan();
      }),
      wait,
    );
  }

  /** Plans from the current configuration and cluster view; sets the pause before the next. */
  private replan(): void {
    const started = this.clock.now();
    try {
      this.planNow();
    } finally {
      const ended = this.clock.now();
      this.nextReplanAt = ended + replanPause(ended - started);
    }
  }

  private planNow(): void {
    const config = this.o.sources.config();
    const cluster = this.o.sources.cluster();
    if (config === undefined || cluster === undefined) return;
    this.plan = planL2(config, cluster);
    if (this.ownership !== undefined) {
      this.ownership.setPeers(peersOf(cluster));
      this.ownership.setPlan(this.plan);
    }
  }

  // --- The key, then membership -------------------------------------------------------------

  private onKey(): void {
    if (this.stopped) return;
    const { log, metrics, namespace } = this.o;
    const k = memberlistKey(this.o.sources.secrets(), namespace);
    if (!k.ok) {
      metrics.keyMissing.set(1);
      if (this.keyProblem !== k.reason) {
        this.keyProblem = k.reason;
        log.warn('layer 2 waits for the membership key: announcing nothing until it is there', {
          secret: `${namespace}/${memberlistSecretName}`,
          key: memberlistSecretKey,
          reason: k.reason,
        });
      }
      // A key that disappears while running is kept: dropping it would stop every announcement.
      return;
    }
    metrics.keyMissing.set(0);
    if (this.keyProblem !== undefined)
      log.info('membership key found', { secret: `${namespace}/${memberlistSecretName}` });
    this.keyProblem = undefined;
    if (this.ownership !== undefined) {
      this.ownership.setKey(k.key);
      return;
    }
    // The worker owns the membership socket; the lease reaches the responder through a
    // shared deadline cell when the responder has that fence (else main-thread fencing only).
    const deadlineCell = new SharedArrayBuffer(8);
    new Float64Array(deadlineCell)[0] = Number.NaN;
    this.responder.setAnswerDeadlineCell?.(deadlineCell);
    this.ownership = this.o.startMembership({
      key: k.key,
      deadlineCell,
      onAnswerable: this.guard('answerable', (a) => this.onAnswerable(a)),
      onCounters: this.guard('membershipCounters', (c) => {
        metrics.membershipDrops(c.dropped);
        metrics.membershipRejoins(c.rejoins);
      }),
      onUnowned: this.guard('unowned', (ip, seconds) => metrics.unownedSeconds.inc({ ip }, seconds)),
    });
    this.ownership.setHealth(this.health());
    this.replan();
  }

  /** `fn`, except that what it throws is logged and counted instead of reaching the caller. */
  private guard<A extends unknown[]>(handler: string, fn: (...args: A) => void): (...args: A) => void {
    return (...args) => {
      try {
        fn(...args);
      } catch (err) {
        try {
          this.o.metrics.handlerErrors.inc({ handler });
          this.o.log.error('layer 2 handler failed', { handler, error: err });
        } catch {
          // Nothing left to report with; the caller still must not see it.
        }
      }
    };
  }
}

/** The pause after a plan that took `costMs` before the next may run (see the top). */
export function replanPause(costMs: number): number {
  return Math.min(1000, Math.max(0, 20 * costMs));
}
