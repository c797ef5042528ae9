// The membership state machine of one speaker: ring monitoring, gossip, the liveness lease and
// the join barrier. Pure: time is passed in, messages come in decoded and authenticated, and
// what to send, which view changes to apply and how long this node may answer come out.
// README.md in this directory has the protocol and its safety argument; in short:
//
// - Ring monitoring (ring.ts): each node heartbeats its k ring successors every interval; they
//   acknowledge. A monitor that hears nothing for D (scaled by local awareness, lifeguard.ts)
//   declares the node dead. Nobody else ever declares a death.
// - Gossip (gossip.ts): news (alive/dead/left with incarnations, SWIM's ordering) rides on every
//   message, and what changed here is pushed at once to a few random live peers.
// - Lease (lease.ts): the node answers only until L after the send time of the heartbeats its
//   monitors acknowledged, L < D, so it has stopped before any monitor can declare it dead.
// - Join barrier: at every new incarnation (start, health regained, lease lapse, refuted death)
//   the node asks every peer to apply it as alive and waits for each answer; a peer answers only
//   after its data plane stopped answering the IPs the joiner now owns (`applied`). So when an
//   IP moves to a returning node, the old owner has stopped first.

import { Awareness } from './lifeguard.js';
import { Lease } from './lease.js';
import { GossipQueue } from './gossip.js';
import {
  envelopeBytes,
  maxDatagramBytes,
  wireHoldMs,
  type DropReason,
  type Message,
  type MemberStatus,
  type Outgoing,
  type Rumour,
} from './messages.js';
import { Ring } from './ring.js';

export interface MemberOptions {
  readonly self: string;
  /** Strictly larger after every restart (the edge uses the wall clock in ms). */
  readonly incarnation: number;
  readonly healthy?: boolean;
  /** Heartbeat period. */
  readonly intervalMs?: number;
  /** A monitor declares a node dead after this long without its heartbeat. */
  readonly deadAfterMs?: number;
  /** How long an acknowledged heartbeat lets this node answer; must be below deadAfterMs. */
  readonly leaseMs?: number;
  readonly marginMs?: number;
  /** Monitors per node (ring successors). */
  readonly monitors?: number;
  /** Peers that get news pushed at once when it changes here. */
  readonly fanout?: number;
  /** The barrier waits this long for peers this node itself declared dead (they may be back). */
  readonly barrierDeadWaitMs?: number;
  /** The barrier waits this long for peers never heard from (probably not running). */
  readonly unknownWaitMs?: number;
  /** A random peer believed dead or unknown gets our news this often (heals partitions). */
  readonly probeEveryMs?: number;
  readonly random?: () => number;
  /**
   * Sticky ownership (the control-plane VIP): candidates rank by seniority before the
   * rendezvous order, so the node that has been a candidate longest owns, and keeps what it
   * owns while it stays one. Seniority is carried in the incarnation (seniorityOf) — no new
   * field on the wire, and every node that knows a peer's incarnation knows its seniority.
   * Incarnations must then start at `Date.now() * seniorityScale`.
   */
  readonly sticky?: boolean;
  /** Wall clock ms for the seniority of a new candidacy (sticky only). */
  readonly epochMs?: () => number;
}

/**
 * Sticky mode: incarnation = seniority × seniorityScale + a count of rejoins within it. A node
 * that becomes a candidate (starts, or regains health) jumps to a new seniority, later than the
 * wall clock's now and than every candidate it knows, so it ranks after all of them; rejoins
 * (lease lapses, refutations) only add one, keeping the seniority — a monitor's death must not
 * move the VIP off its owner. Lower seniority ranks first.
 */
export const seniorityScale = 1024;

export function seniorityOf(incarnation: number): number {
  return Math.floor(incarnation / seniorityScale);
}

export const defaults = {
  intervalMs: 100,
  deadAfterMs: 500,
  leaseMs: 350,
  marginMs: 10,
  monitors: 3,
  fanout: 3,
  barrierDeadWaitMs: 200,
  unknownWaitMs: 1000,
  probeEveryMs: 500,
} as const;

/** Membership says `node` is (not) alive and healthy: an ownership candidate (owner-index.ts). */
export interface ViewChange {
  readonly node: string;
  readonly candidate: boolean;
  /** Sticky mode: the candidate's seniority (lower ranks first); 0 otherwise. */
  readonly seniority: number;
}

export interface Drained {
  readonly out: Outgoing[];
  readonly changes: ViewChange[];
  /** Version of the view after `changes`; report it to `applied` once the data plane follows. */
  readonly version: number;
}

export type PeerStatus = MemberStatus | 'unknown';

interface PeerRecord {
  status: PeerStatus;
  incarnation: number;
  /** The data-plane health its latest news said; meaningful only while alive or restarting. */
  healthy: boolean;
  /** This node declared its current death (the barrier waits for it a little: it may be back). */
  declaredBySelf: boolean;
  seqIncarnation: number;
  maxSeq: number;
  /** Created on the first message (most peers of a large cluster never write to us). */
  recentSeqs: Set<number> | undefined;
  /** Last time we told it that we consider it dead. */
  toldDeadAt: number;
  /** Restarting: it stays an ownership candidate until then (this node's clock). */
  holdUntil: number;
}

/** Owns IPs in the rendezvous order: alive and healthy, or restarting within its hold. */
function isCandidate(rec: PeerRecord): boolean {
  return (rec.status === 'alive' || rec.status === 'restarting') && rec.healthy;
}

/** Not running at this incarnation, and not to be asked or told anything: left, or restarting. */
function isGone(rec: PeerRecord): boolean {
  return rec.status === 'left' || rec.status === 'restarting';
}

interface Watched {
  lastHeard: number;
  incarnation: number;
}

interface Barrier {
  readonly started: number;
  readonly waiting: Set<string>;
  nextSend: number;
}

export interface MemberCounters {
  declaredDead: number;
  rejoins: number;
  refutations: number;
  leaseTaints: number;
  lateTicks: number;
  sent: number;
  received: number;
  drops: Record<DropReason, number>;
}

const replayWindow = 256;
/** Syncs per probe period to peers the barrier did not hear (bounded traffic after a partition). */
const debtPerProbe = 16;
/** Syncs at once when a partition seems to have healed (per interval at most). */
const debtPerFlush = 512;

export class Member {
  readonly self: string;
  private inc: number;
  private healthy: boolean;
  private leaving = false;
  private joinedFlag = false;
  private readonly o: Required<
    Omit<MemberOptions, 'self' | 'incarnation' | 'healthy' | 'random' | 'sticky' | 'epochMs'>
  >;
  private readonly random: () => number;
  private readonly sticky: boolean;
  private readonly epochMs: () => number;
  private readonly peers = new Map<string, PeerRecord>();
  private readonly ring = new Ring();
  private ringDirty = true;
  private readonly lease: Lease;
  private readonly gossip = new GossipQueue();
  private readonly awareness = new Awareness();
  private readonly watched = new Map<string, Watched>();
  /** Peers in their restart hold (status restarting): their deadlines are checked by tick. */
  private readonly holding = new Set<string>();
  private barrier: Barrier | undefined;
  private seq = 0;
  private nextSend: number;
  private nextProbe: number;
  /**
   * The deadline last handed to the edge (nextDeadline): a tick much later than that was
   * stalled. Messages move deadlines later too (a heartbeat from a silent peer), so this is the
   * latest answer, not the one the previous tick saw.
   */
  private nextDeadlineAt = Number.POSITIVE_INFINITY;
  /**
   * A stalled tick declares nobody dead and leaves that to a tick right after it (`deferredAt`),
   * which the edge runs at once, after it has read what piled up on the socket. One deferral
   * per stall only: on a node whose every timer fires late (a CPU hog beside it) a deferral
   * re-armed by each late tick would never let detection run, and a silent peer's IPs would
   * stay unanswered for good.
   */
  private deferredAt: number | undefined;
  private out: Outgoing[] = [];
  private changes: ViewChange[] = [];
  private versionNo = 0;
  private appliedVersion = 0;
  /** The view version when the current incarnation's barrier completed. */
  private joinedVersion = 0;
  private pendingAcks: { to: string; joined: number; version: number }[] = [];
  private unreachable = new Set<string>();
  /**
   * Peers the last barrier did not hear from (believed dead, or silent): they keep getting
   * this incarnation's sync at a low rate until they answer. After a partition heals this is
   * how the other side learns that we came back, before it could go on answering our IPs.
   */
  private readonly debt = new Set<string>();
  private debtFlushedAt = Number.NEGATIVE_INFINITY;
  /** After contact across a healed partition: no answering until then (see onMessage). */
  private settleUntil = Number.NEGATIVE_INFINITY;
  private settling = false;
  /** The latest time seen by tick or onMessage. */
  private lastNow = Number.NEGATIVE_INFINITY;
  /** The barrier cannot finish before the peer list is known (it would have nobody to ask). */
  private peersKnown = false;
  /** When any monitor last acknowledged a heartbeat: long ago means this node was cut off. */
  private lastAckAt = Number.NEGATIVE_INFINITY;
  readonly counters: MemberCounters = {
    declaredDead: 0,
    rejoins: 0,
    refutations: 0,
    leaseTaints: 0,
    lateTicks: 0,
    sent: 0,
    received: 0,
    drops: { self: 0, 'unknown-peer': 0, 'stale-incarnation': 0, replay: 0, left: 0, stopped: 0 },
  };

  constructor(options: MemberOptions, now: number) {
    this.self = options.self;
    this.inc = options.incarnation;
    this.healthy = options.healthy ?? true;
    this.o = {
      intervalMs: options.intervalMs ?? defaults.intervalMs,
      deadAfterMs: options.deadAfterMs ?? defaults.deadAfterMs,
      leaseMs: options.leaseMs ?? defaults.leaseMs,
      marginMs: options.marginMs ?? defaults.marginMs,
      monitors: options.monitors ?? defaults.monitors,
      fanout: options.fanout ?? defaults.fanout,
      barrierDeadWaitMs: options.barrierDeadWaitMs ?? defaults.barrierDeadWaitMs,
      unknownWaitMs: options.unknownWaitMs ?? defaults.unknownWaitMs,
      probeEveryMs: options.probeEveryMs ?? defaults.probeEveryMs,
    };
    if (!(this.o.leaseMs + this.o.marginMs < this.o.deadAfterMs))
      throw new RangeError(
        `membership: leaseMs ${this.o.leaseMs} + marginMs ${this.o.marginMs} must be below deadAfterMs ${this.o.deadAfterMs}`,
      );
    this.random = options.random ?? Math.random;
    this.sticky = options.sticky ?? false;
    this.epochMs = options.epochMs ?? Date.now;
    this.lease = new Lease(this.o);
    this.nextSend = now;
    this.nextProbe = now + this.o.probeEveryMs;
    this.ring.add(this.self);
    this.emit(this.self, this.healthy);
    this.startBarrier(now);
  }

  get incarnation(): number {
    return this.inc;
  }

  get joined(): boolean {
    return this.joinedFlag;
  }

  get version(): number {
    return this.versionNo;
  }

  /** The local awareness score (0: healthy; higher: this node distrusts its own view). */
  get awarenessScore(): number {
    return this.awareness.value;
  }

  /**
   * Until when (same clock as `now`) this node may answer ARP/NDP; -Infinity while it may not
   * at all (joining, unhealthy, leaving). The data plane must enforce it on its own clock.
   */
  answerUntil(): number {
    if (!this.joinedFlag || !this.healthy || this.leaving) return Number.NEGATIVE_INFINITY;
    // After a (re)join the data plane may still hold an owned set from before, with IPs that
    // moved away meanwhile: no answering until it follows the view the join completed with.
    if (this.appliedVersion < this.joinedVersion) return Number.NEGATIVE_INFINITY;
    if (this.settling) {
      // Until the settle time is over and the data plane follows everything learned meanwhile.
      if (this.settleUntil > this.lastNow || this.appliedVersion < this.versionNo)
        return Number.NEGATIVE_INFINITY;
      this.settling = false;
    }
    return this.lease.end();
  }

  canAnswer(now: number): boolean {
    return now < this.answerUntil();
  }

  status(node: string): PeerStatus | undefined {
    if (node === this.self) return this.leaving ? 'left' : 'alive';
    return this.peers.get(node)?.status;
  }

  peerIncarnation(node: string): number | undefined {
    return this.peers.get(node)?.incarnation;
  }

  monitorsOfSelf(): string[] {
    return this.lease.names();
  }

  /** The speaker nodes (from Kubernetes). New ones start unknown; missing ones are forgotten. */
  setPeers(names: readonly string[]): void {
    this.peersKnown = true;
    const wanted = new Set(names);
    wanted.delete(this.self);
    for (const name of wanted) {
      if (this.peers.has(name)) continue;
      this.peers.set(name, {
        status: 'unknown',
        incarnation: -1,
        healthy: false,
        declaredBySelf: false,
        seqIncarnation: -1,
        maxSeq: -1,
        recentSeqs: undefined,
        toldDeadAt: Number.NEGATIVE_INFINITY,
        holdUntil: Number.NEGATIVE_INFINITY,
      });
      this.unreachable.add(name);
      if (this.barrier !== undefined) this.barrier.waiting.add(name);
    }
    for (const [name, rec] of this.peers) {
      if (wanted.has(name)) continue;
      this.peers.delete(name);
      this.unreachable.delete(name);
      this.debt.delete(name);
      this.watched.delete(name);
      this.holding.delete(name);
      this.barrier?.waiting.delete(name);
      if (this.ring.has(name)) {
        this.ring.remove(name);
        this.ringDirty = true;
      }
      if (isCandidate(rec)) this.emit(name, false);
      this.lease.markGone(name);
    }
  }

  /**
   * The local data plane's health. Going unhealthy: the edge has already stopped answering;
   * peers are told at once. Regaining health is a new incarnation with the join barrier.
   */
  setHealthy(healthy: boolean, now: number): void {
    if (healthy === this.healthy) return;
    this.healthy = healthy;
    if (healthy) {
      this.junior();
      this.rejoin(now);
      return;
    }
    this.inc++;
    this.emit(this.self, false);
    this.spread({ node: this.self, incarnation: this.inc, status: 'alive', healthy: false });
  }

  /**
   * SIGTERM, after the edge stopped answering: tell the monitors and a few peers, then stay
   * quiet. With `restartHoldMs` > 0 (the speaker is being replaced on this node: a DaemonSet
   * rollout) the news is `restarting`: peers keep this node the owner of its IPs, unanswered,
   * for that long, and its next incarnation takes them up without any IP moving. Sent twice:
   * if the news were lost, the monitors would declare this node dead, and its IPs would move
   * away and back, which is what the hold is for.
   */
  leave(now: number, restartHoldMs = 0): void {
    if (this.leaving) return;
    this.leaving = true;
    this.emit(this.self, false);
    const hold = wireHoldMs(restartHoldMs);
    const news: Rumour =
      hold > 0
        ? {
            node: this.self,
            incarnation: this.inc,
            status: 'restarting',
            healthy: this.healthy,
            holdMs: hold,
          }
        : { node: this.self, incarnation: this.inc, status: 'left', healthy: false };
    const targets = new Set([...this.lease.names(), ...this.randomAlive(this.o.fanout * 2)]);
    for (let round = 0; round < (hold > 0 ? 2 : 1); round++) {
      this.gossip.add(news);
      for (const to of targets) this.send(to, { kind: 'push' }, now);
    }
  }

  /**
   * Starts from a view as if a join barrier had just completed with every listed peer
   * answering: for simulations and tests that begin with a settled cluster instead of a cold
   * start. Never used by the speaker, which always joins through the barrier.
   */
  adoptView(peers: readonly { name: string; incarnation: number; healthy: boolean }[]): void {
    this.ring.addMany(peers.filter((p) => this.peers.has(p.name)).map((p) => p.name));
    for (const p of peers) {
      const rec = this.peers.get(p.name);
      if (
        rec === undefined ||
        !newer({ node: p.name, incarnation: p.incarnation, status: 'alive', healthy: p.healthy }, rec)
      )
        continue;
      rec.status = 'alive';
      rec.incarnation = p.incarnation;
      rec.healthy = p.healthy;
      this.unreachable.delete(p.name);
      if (p.healthy) this.emit(p.name, true);
    }
    this.ringDirty = true;
    this.gossip.clear();
    this.barrier = undefined;
    this.joinedFlag = true;
    this.joinedVersion = this.versionNo;
    this.out = [];
  }

  /** The data plane now follows view `version`: sync answers held for it can go. */
  applied(version: number): void {
    this.appliedVersion = Math.max(this.appliedVersion, version);
  }

  /** Joiners whose sync answer waits for the data plane (see `release`). */
  waitingJoiners(): string[] {
    return [...new Set(this.pendingAcks.map((p) => p.to))];
  }

  /** The data plane holds nothing `joiner` owns now (ownership/handover.ts): answer it now. */
  release(joiner: string): void {
    for (const p of this.pendingAcks) if (p.to === joiner) p.version = 0;
  }

  /** What to send and which view changes to apply, since the last call. */
  drain(): Drained {
    const still: typeof this.pendingAcks = [];
    for (const p of this.pendingAcks) {
      if (p.version <= this.appliedVersion && !this.leaving)
        this.send(p.to, { kind: 'sync-ack', joined: p.joined }, Number.NaN);
      else still.push(p);
    }
    this.pendingAcks = still;
    const d = { out: this.out, changes: this.changes, version: this.versionNo };
    this.out = [];
    this.changes = [];
    return d;
  }

  /** When `tick` must run next at the latest. */
  nextDeadline(): number {
    let t = this.nextSend;
    if (this.barrier !== undefined) t = Math.min(t, this.barrier.nextSend);
    if (this.deferredAt !== undefined) t = Math.min(t, this.deferredAt);
    const timeout = this.awareness.scale(this.o.deadAfterMs);
    for (const w of this.watched.values()) t = Math.min(t, w.lastHeard + timeout);
    if (this.settleUntil > this.lastNow) t = Math.min(t, this.settleUntil);
    t = Math.min(t, this.nextProbe, this.lease.rejoinAt());
    for (const name of this.holding) t = Math.min(t, this.peers.get(name)?.holdUntil ?? t);
    this.nextDeadlineAt = Math.max(t, this.lastNow);
    return t;
  }

  /**
   * Why this node may not answer at `now` (undefined: it may), with the state that decides it:
   * for the log line an operator reads when a speaker stays silent (runtime.ts). Capped lists,
   * so it stays one line in a large cluster.
   */
  whyNotAnswering(now: number): Record<string, unknown> | undefined {
    const until = this.answerUntil();
    if (now < until) return undefined;
    let reason: string;
    if (this.leaving) reason = 'leaving';
    else if (!this.healthy) reason = 'unhealthy data plane';
    else if (!this.joinedFlag)
      reason = this.peersKnown
        ? 'joining: waiting for peers to confirm (sync-ack)'
        : 'joining: no peer list yet';
    else if (
      this.appliedVersion < this.joinedVersion ||
      (this.settling && this.appliedVersion < this.versionNo)
    )
      reason = 'the data plane does not follow the view yet';
    else if (this.settling) reason = 'settling after contact across a partition';
    else reason = 'lease lapsed: monitors did not acknowledge heartbeats';
    const cap = 20;
    const peers = [...this.peers].slice(0, cap).map(([name, r]) => `${name}:${r.status}@${r.incarnation}`);
    return {
      reason,
      incarnation: this.inc,
      ...(Number.isFinite(until) ? { leaseEndedMsAgo: Math.round(now - until) } : {}),
      waitingFor: [...(this.barrier?.waiting ?? [])].slice(0, cap),
      monitors: this.lease.debug(now).slice(0, cap),
      watching: [...this.watched].slice(0, cap).map(([name, w]) => ({
        name,
        heardMsAgo: Math.round(now - w.lastHeard),
        incarnation: w.incarnation,
      })),
      peers,
      ring: this.ring.size,
      awareness: this.awareness.value,
      lastAckMsAgo: Number.isFinite(this.lastAckAt) ? Math.round(now - this.lastAckAt) : null,
      versions: { view: this.versionNo, applied: this.appliedVersion, joined: this.joinedVersion },
    };
  }

  /** The parts of nextDeadline, for diagnostics. */
  debugDeadlines(): Record<string, unknown> {
    return {
      nextSend: this.nextSend,
      barrier: this.barrier?.nextSend,
      waiting: this.barrier?.waiting.size,
      probe: this.nextProbe,
      deferredAt: this.deferredAt,
      watched: [...this.watched.entries()],
      leaving: this.leaving,
    };
  }

  tick(now: number): void {
    this.lastNow = now;
    if (this.leaving) return;
    // A tick much later than planned means this node was stalled: what it did not hear may be
    // waiting unread, so it trusts its view less and declares nobody dead until the tick right
    // after this one, which the edge runs once it has read the socket (see deferredAt).
    const late = now - this.nextDeadlineAt > this.o.intervalMs / 2;
    if (late) {
      this.counters.lateTicks++;
      this.awareness.worse();
    }
    if (late && this.deferredAt === undefined) this.deferredAt = now;
    else {
      this.deferredAt = undefined;
      this.detect(now);
    }
    if (this.lease.mustRejoin(now)) this.taint(now, 'a monitor reported dead stayed silent');
    this.endHolds(now);
    this.designate(now);
    if (now >= this.nextSend) {
      for (const to of this.lease.names()) {
        const seq = this.nextSeq();
        const monitor = this.lease.sent(to, seq, now);
        this.sendWithSeq(to, { kind: 'heartbeat', monitor }, seq);
      }
      this.nextSend = now + this.o.intervalMs;
      if (!late) this.awareness.better();
    }
    this.stepBarrier(now);
    if (now >= this.nextProbe) {
      // Anti-entropy: our state to a random peer, often one we believe dead or never heard.
      // Whoever holds stale news about us answers with it (tellDead) and we refute it; this is
      // what merges the two views after a partition.
      this.nextProbe = now + this.o.probeEveryMs;
      const target =
        this.unreachable.size > 0 && this.random() < 0.5
          ? pick([...this.unreachable], this.random)
          : pick([...this.peers.keys()], this.random);
      if (target !== undefined) this.send(target, { kind: 'push' }, now);
      for (const name of [...this.debt].slice(0, debtPerProbe)) {
        this.debt.delete(name);
        const rec = this.peers.get(name);
        if (rec === undefined || isGone(rec)) continue;
        this.debt.add(name); // to the back: round-robin
        this.send(name, { kind: 'sync' }, now);
      }
    }
    // The edge schedules the next tick from this; a tick much later than it was stalled.
    this.nextDeadline();
  }

  /** The edge saw its socket drop datagrams (receive buffer overflow): we may be deaf. */
  noteLocalDrops(count: number): void {
    if (count > 0) this.awareness.worse(Math.min(3, count));
  }

  onMessage(m: Message, now: number): DropReason | undefined {
    this.lastNow = now;
    if (this.leaving) return this.drop('stopped');
    if (m.from === this.self) return this.drop('self');
    const rec = this.peers.get(m.from);
    if (rec === undefined) return this.drop('unknown-peer');
    // Replays: per sender incarnation, a window of recent sequence numbers.
    if (m.incarnation < rec.seqIncarnation) return this.drop('stale-incarnation');
    if (m.incarnation > rec.seqIncarnation) {
      rec.seqIncarnation = m.incarnation;
      rec.maxSeq = -1;
      rec.recentSeqs?.clear();
    }
    const seen = (rec.recentSeqs ??= new Set());
    if (m.seq <= rec.maxSeq - replayWindow || seen.has(m.seq)) return this.drop('replay');
    seen.add(m.seq);
    if (m.seq > rec.maxSeq) rec.maxSeq = m.seq;
    if (seen.size > replayWindow) for (const s of seen) if (s <= rec.maxSeq - replayWindow) seen.delete(s);
    this.counters.received++;

    // The message itself proves the sender alive at its incarnation.
    if (m.incarnation < rec.incarnation) return this.drop('stale-incarnation');
    // A late datagram of an incarnation that left or is restarting must not make it alive again.
    if (isGone(rec) && m.incarnation === rec.incarnation) return this.drop('left');
    const senderDead = rec.status === 'dead' && m.incarnation === rec.incarnation;
    // A peer we believed dead, or that our barrier could not reach, talks to us: a partition
    // may just have healed. Everyone the barrier missed gets our sync now, not round-robin, and
    // this node stops answering for a settle time: both sides' views hold stale deaths that
    // would let two nodes answer one IP until the news has been exchanged.
    if (rec.status === 'dead' || this.debt.has(m.from)) {
      this.flushDebt(now);
      this.settleUntil = Math.max(this.settleUntil, now + 2 * this.o.intervalMs);
      this.settling = true;
    }
    if (senderDead) this.tellDead(m.from, rec, now);
    else
      this.apply(
        { node: m.from, incarnation: m.incarnation, status: 'alive', healthy: m.healthy },
        now,
        false,
      );
    for (const r of m.rumours) this.apply(r, now, false);

    switch (m.kind) {
      case 'heartbeat':
        if (senderDead) break;
        if (m.monitor) this.watched.set(m.from, { lastHeard: now, incarnation: m.incarnation });
        else this.watched.delete(m.from);
        this.send(m.from, { kind: 'ack', ack: m.seq }, now);
        break;
      case 'ack':
        if (senderDead) break;
        this.lastAckAt = now;
        switch (this.lease.acked(m.from, m.ack, now)) {
          case 'tainted':
            this.taint(now, `no acknowledgement from monitor ${m.from} for too long`);
            break;
          case 'released':
            break;
          default:
            break;
        }
        break;
      case 'sync':
        if (senderDead) break;
        // Answered once the data plane follows the view that has the joiner in it.
        this.pendingAcks.push({ to: m.from, joined: m.incarnation, version: this.versionNo });
        break;
      case 'sync-ack':
        if (m.joined !== this.inc) break;
        this.debt.delete(m.from);
        if (this.barrier !== undefined) {
          this.barrier.waiting.delete(m.from);
          this.stepBarrier(now);
        }
        break;
      case 'push':
        break;
    }
    // Peers that became alive here change who monitors this node: designate them now, not at
    // the next tick, which a loaded node runs late. Until a monitor hears a heartbeat with
    // `monitor: true` nobody can declare this node dead, so if it died in between, its IPs
    // would stay with it in every view.
    this.designate(now);
    return undefined;
  }

  // --- internals ---------------------------------------------------------------------------

  /** The ring changed: new monitors start now and get their first heartbeat at once. */
  private designate(now: number): void {
    if (!this.ringDirty) return;
    this.ringDirty = false;
    const before = new Set(this.lease.names());
    this.lease.designate(this.ring.successors(this.self, this.o.monitors), now);
    for (const to of this.lease.names()) {
      if (before.has(to)) continue;
      const seq = this.nextSeq();
      this.sendWithSeq(to, { kind: 'heartbeat', monitor: this.lease.sent(to, seq, now) }, seq);
    }
  }

  private detect(now: number): void {
    const timeout = this.awareness.scale(this.o.deadAfterMs);
    for (const [name, w] of this.watched) {
      if (now < w.lastHeard + timeout) continue;
      this.watched.delete(name);
      const rec = this.peers.get(name);
      if (rec === undefined || rec.incarnation !== w.incarnation || rec.status !== 'alive') continue;
      this.counters.declaredDead++;
      this.apply({ node: name, incarnation: w.incarnation, status: 'dead', healthy: false }, now, true);
    }
  }

  /** SWIM's precedence; returns whether the view changed. */
  private apply(r: Rumour, now: number, declaredHere: boolean): boolean {
    if (r.node === this.self) {
      if (r.status !== 'alive' && r.incarnation >= this.inc && !this.leaving) {
        this.counters.refutations++;
        this.inc = r.incarnation;
        this.taint(now, `refuting a ${r.status} rumour about this node`);
      } else if (r.incarnation > this.inc && !this.leaving) {
        // News of ourselves from a previous life with a larger incarnation: go above it.
        this.inc = r.incarnation;
        this.taint(now, 'an older run of this node had a larger incarnation');
      }
      return false;
    }
    const rec = this.peers.get(r.node);
    if (rec === undefined) return false;
    if (!newer(r, rec)) return false;
    const wasCandidate = isCandidate(rec);
    const wasAlive = rec.status === 'alive';
    const wasSeniority = seniorityOf(rec.incarnation);
    rec.status = r.status;
    rec.incarnation = r.incarnation;
    rec.healthy = r.healthy; // counts only with a status that owns IPs (isCandidate)
    rec.declaredBySelf = r.status === 'dead' && declaredHere;
    // A restart hold counts from when this node heard of it: a few network delays longer at
    // the nodes the news reached late, which only delays their failover.
    if (r.status === 'restarting') {
      rec.holdUntil = now + Math.max(0, r.holdMs ?? 0);
      this.holding.add(r.node);
    } else this.holding.delete(r.node);
    const candidate = isCandidate(rec);
    if (wasCandidate !== candidate) this.emit(r.node, candidate);
    // Sticky: a candidate whose seniority changed ranks anew (only its own rejoin does that,
    // and a rejoining node answers nothing until its barrier completed).
    else if (this.sticky && candidate && seniorityOf(rec.incarnation) !== wasSeniority)
      this.emit(r.node, true);
    if (rec.status === 'alive') this.unreachable.delete(r.node);
    else if (rec.status === 'dead') this.unreachable.add(r.node);
    else this.unreachable.delete(r.node);
    if (rec.status === 'alive' && !wasAlive) {
      this.ring.add(r.node);
      this.ringDirty = true;
    } else if (rec.status !== 'alive' && wasAlive) {
      this.ring.remove(r.node);
      this.ringDirty = true;
      this.watched.delete(r.node);
      // A departure or a restart is the peer's own news, sent once it stopped watching anyone;
      // a death may be false news about a peer that still watches this node.
      if (isGone(rec)) this.lease.stopped(r.node, now);
      else this.lease.markGone(r.node);
    }
    if (rec.status !== 'alive') this.barrierRecheck(now);
    // News that can move IPs to someone (a death, a departure, lost health) is pushed at once;
    // an arrival is the joiner's own business (its barrier reaches everyone).
    if (r.status !== 'alive' || !r.healthy) this.spread(r);
    else this.gossip.add(r);
    return true;
  }

  /**
   * Restart holds that ran out: the node did not come back in time, so it is treated as left
   * and its IPs go to their next candidates (the failover a plain SIGTERM gets at once).
   */
  private endHolds(now: number): void {
    for (const name of this.holding) {
      const rec = this.peers.get(name);
      if (rec !== undefined && now < rec.holdUntil) continue;
      this.holding.delete(name);
      if (rec === undefined || rec.status !== 'restarting') continue;
      const wasCandidate = isCandidate(rec);
      rec.status = 'left';
      if (wasCandidate) this.emit(name, false);
    }
  }

  /** News that changed our view: piggyback it, and push it at once to a few live peers. */
  private spread(r: Rumour): void {
    this.gossip.add(r);
    for (const to of this.randomAlive(this.o.fanout)) this.send(to, { kind: 'push' }, Number.NaN);
  }

  private flushDebt(now: number): void {
    if (now - this.debtFlushedAt < this.o.intervalMs) return;
    this.debtFlushedAt = now;
    for (const name of [...this.debt].slice(0, debtPerFlush)) {
      const rec = this.peers.get(name);
      if (rec === undefined || isGone(rec)) this.debt.delete(name);
      else this.send(name, { kind: 'sync' }, now);
    }
  }

  private tellDead(name: string, rec: PeerRecord, now: number): void {
    if (now - rec.toldDeadAt < this.o.intervalMs) return;
    rec.toldDeadAt = now;
    this.gossip.add({ node: name, incarnation: rec.incarnation, status: 'dead', healthy: false });
    this.send(name, { kind: 'push' }, now);
  }

  /** This incarnation may have been declared dead: stop answering and join again. */
  private taint(now: number, _why: string): void {
    this.counters.leaseTaints++;
    // Sticky: a node that heard no acknowledgement from anyone for a lease length was cut off
    // and has probably been declared dead and replaced: it comes back as a new candidacy, so
    // that when the partition heals the node that served meanwhile keeps the VIP. A node that
    // only lost one monitor (others still acknowledge) keeps its seniority and its VIP.
    if (now - this.lastAckAt >= this.o.leaseMs) this.junior();
    this.rejoin(now);
  }

  /**
   * Sticky: the next incarnation (rejoin adds one) starts a new seniority, after every
   * candidate this node knows of and after the wall clock's now, so it ranks after all of them.
   */
  private junior(): void {
    if (!this.sticky) return;
    let epoch = Math.max(Math.floor(this.epochMs()), seniorityOf(this.inc) + 1);
    for (const rec of this.peers.values())
      if (isCandidate(rec)) epoch = Math.max(epoch, seniorityOf(rec.incarnation) + 1);
    this.inc = Math.max(this.inc, epoch * seniorityScale - 1);
  }

  private rejoin(now: number): void {
    this.counters.rejoins++;
    this.inc++;
    this.lease.clear();
    this.ringDirty = true;
    this.joinedFlag = false;
    this.emit(this.self, this.healthy && !this.leaving);
    this.spread({ node: this.self, incarnation: this.inc, status: 'alive', healthy: this.healthy });
    this.startBarrier(now);
  }

  private startBarrier(now: number): void {
    // Peers this node declared dead itself may only have seemed dead because this node was cut
    // off (no monitor acknowledged anything for a lease length): they may be back, answering
    // at a new incarnation, so they are asked too, for a short while.
    const cutOff = now - this.lastAckAt >= this.o.leaseMs;
    const waiting = new Set<string>();
    this.debt.clear();
    for (const [name, rec] of this.peers) {
      if (isGone(rec)) continue;
      if (rec.status === 'dead' && !(rec.declaredBySelf && cutOff)) {
        this.debt.add(name);
        continue;
      }
      waiting.add(name);
    }
    this.barrier = { started: now, waiting, nextSend: now };
    this.stepBarrier(now);
  }

  private barrierRecheck(now: number): void {
    if (this.barrier !== undefined) this.stepBarrier(now);
  }

  private stepBarrier(now: number): void {
    const b = this.barrier;
    if (b === undefined || !this.peersKnown) return;
    for (const name of b.waiting) {
      const rec = this.peers.get(name);
      const age = now - b.started;
      if (
        rec === undefined ||
        isGone(rec) ||
        (rec.status === 'dead' && (!rec.declaredBySelf || age >= this.o.barrierDeadWaitMs)) ||
        (rec.status === 'unknown' && age >= this.o.unknownWaitMs)
      ) {
        b.waiting.delete(name);
        if (rec !== undefined && !isGone(rec)) this.debt.add(name);
      }
    }
    if (b.waiting.size === 0) {
      this.barrier = undefined;
      this.joinedFlag = true;
      this.joinedVersion = this.versionNo;
      return;
    }
    if (now >= b.nextSend) {
      b.nextSend = now + this.o.intervalMs;
      for (const name of b.waiting) this.send(name, { kind: 'sync' }, now);
    }
  }

  private emit(node: string, candidate: boolean): void {
    const inc = node === this.self ? this.inc : (this.peers.get(node)?.incarnation ?? 0);
    this.changes.push({ node, candidate, seniority: this.sticky && candidate ? seniorityOf(inc) : 0 });
    this.versionNo++;
  }

  private randomAlive(n: number): string[] {
    const alive = this.ring.size - 1;
    if (alive <= 0) return [];
    const out = new Set<string>();
    for (let tries = 0; tries < n * 3 && out.size < Math.min(n, alive); tries++) {
      const name = this.ring.at(Math.floor(this.random() * this.ring.size));
      if (name !== undefined && name !== this.self) out.add(name);
    }
    return [...out];
  }

  private nextSeq(): number {
    this.seq = (this.seq + 1) % 0x1_0000_0000;
    return this.seq;
  }

  private send(to: string, body: MessageBody, _now: number): void {
    this.sendWithSeq(to, body, this.nextSeq());
  }

  private sendWithSeq(to: string, body: MessageBody, seq: number): void {
    const budget = maxDatagramBytes - envelopeBytes(this.self);
    const rumours = this.gossip.take(budget, this.peers.size + 1);
    const message = {
      ...body,
      from: this.self,
      incarnation: this.inc,
      seq,
      healthy: this.healthy,
      rumours,
    } as Message;
    this.counters.sent++;
    this.out.push({ to, message });
  }

  private drop(reason: DropReason): DropReason {
    this.counters.drops[reason]++;
    return reason;
  }
}

type MessageBody =
  | { kind: 'heartbeat'; monitor: boolean }
  | { kind: 'ack'; ack: number }
  | { kind: 'sync' }
  | { kind: 'sync-ack'; joined: number }
  | { kind: 'push' };

// A death beats a restart at the same incarnation: a node declared dead may have stopped
// without its news arriving, and a failover is always safe.
const statusRank: Record<MemberStatus, number> = { alive: 0, restarting: 1, dead: 2, left: 3 };

function newer(r: Rumour, rec: PeerRecord): boolean {
  if (rec.status === 'unknown') return true;
  if (r.incarnation !== rec.incarnation) return r.incarnation > rec.incarnation;
  return statusRank[r.status] > statusRank[rec.status];
}

function pick<T>(items: readonly T[], random: () => number): T | undefined {
  if (items.length === 0) return undefined;
  return items[Math.floor(random() * items.length)];
}
