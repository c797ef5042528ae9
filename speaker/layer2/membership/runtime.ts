// The membership runtime: the pure Member and OwnerIndex driven by a clock, a timer and a
// datagram transport. It runs inside the membership worker (worker.ts), where bulk work on the
// speaker's main thread cannot delay heartbeats, and in tests on loopback. It gives the data
// plane two things: the owned set (through the main thread, which confirms when the responder
// follows it: `applied`) and the answer deadline (directly: the lease must not queue behind a
// slow main thread).

import { decodeDatagram, encodeDatagram, type DropCause } from './datagram.js';
import { Member, type MemberOptions } from './member.js';
import type { DropReason } from './messages.js';
import { mayAckJoiner } from '../ownership/handover.js';
import { OwnerIndex } from '../ownership/owner-index.js';
import { PlanTable, type OwnershipInput } from '../ownership/plan-table.js';

export interface RuntimePeer {
  readonly name: string;
  readonly address: string;
  /** Default: the runtime's own port (every speaker uses the same one). */
  readonly port?: number;
}

export interface RuntimeOptions {
  readonly self: string;
  readonly incarnation: number;
  readonly key: Buffer;
  readonly port: number;
  /** Monotonic ms (performance.now or CLOCK_MONOTONIC): all deadlines use it. */
  readonly now: () => number;
  /** Wall clock ms, for the datagrams' sent-at window only. */
  readonly wallNow: () => number;
  readonly send: (address: string, port: number, bytes: Buffer) => void;
  readonly setTimer: (fn: () => void, ms: number) => { cancel(): void };
  /** The IPs this node owns now; confirm with `applied(post)` once the responder follows. */
  readonly onOwned: (
    owned: readonly string[],
    post: number,
    gainedFrom: readonly (readonly [string, string])[],
  ) => void;
  /** The planned IPs no candidate can own in this node's view; after every change of that set. */
  readonly onUnowned?: (ips: readonly string[]) => void;
  /** Answer ARP/NDP until this monotonic ms (-Infinity: not at all, +Infinity: no limit). */
  readonly onAnswerUntil: (until: number) => void;
  /** `status`: alive, restarting, dead, left or unknown (alive but not a candidate: unhealthy). */
  readonly onMemberChange?: (node: string, candidate: boolean, status: string) => void;
  readonly onError?: (where: string, err: Error) => void;
  /**
   * This node has answered nothing for `silentReportMs` or more although it is healthy and not
   * leaving: why, with its view (Member.whyNotAnswering), at most once per `silentReportMs`.
   */
  readonly onSilent?: (details: Record<string, unknown>) => void;
  /** Default 5 s. */
  readonly silentReportMs?: number;
  readonly member?: Partial<MemberOptions>;
}

export interface RuntimeCounters {
  readonly dropped: Record<DropCause | DropReason, number>;
  readonly sent: number;
  readonly received: number;
  readonly sendErrors: number;
  readonly rejoins: number;
  readonly declaredDead: number;
  readonly awareness: number;
}

interface Post {
  readonly id: number;
  readonly owned: ReadonlySet<string>;
  readonly memberVersion: number;
}

export class MembershipRuntime {
  private readonly member: Member;
  private readonly index: OwnerIndex;
  private key: Buffer;
  private peers = new Map<string, { address: string; port: number }>();
  private timer: { cancel(): void } | undefined;
  private timerAt = Number.NaN;
  private stopped = false;
  private posts: Post[] = [];
  private ownedApplied: ReadonlySet<string> = new Set();
  private postId = 0;
  private lastUntil = Number.NaN;
  /** Undefined until the first report: a new worker always says where it stands. */
  private lastUnowned: string | undefined;
  /** Since when this node may not answer (undefined: it may), and when that was last reported. */
  private silentSince: number | undefined;
  private silentReportedAt = Number.NEGATIVE_INFINITY;
  private sent = 0;
  private received = 0;
  private sendErrors = 0;
  private readonly decodeDrops: Record<DropCause, number> = {
    size: 0,
    magic: 0,
    version: 0,
    auth: 0,
    malformed: 0,
    old: 0,
  };

  constructor(private readonly o: RuntimeOptions) {
    this.key = o.key;
    this.member = new Member({ self: o.self, incarnation: o.incarnation, ...o.member }, o.now());
    this.index = new OwnerIndex(o.self);
    this.pump();
  }

  setPeers(peers: readonly RuntimePeer[]): void {
    this.guard('setPeers', () => {
      this.peers = new Map(peers.map((p) => [p.name, { address: p.address, port: p.port ?? this.o.port }]));
      this.member.setPeers(peers.map((p) => p.name));
    });
  }

  setPlan(inputs: readonly OwnershipInput[]): void {
    this.guard('setPlan', () => {
      const changes = this.index.setPlan(new PlanTable(inputs));
      if (changes.some((c) => c.from === this.o.self || c.to === this.o.self)) this.post([]);
      this.reportUnowned();
    });
  }

  setHealthy(healthy: boolean): void {
    this.guard('setHealthy', () => this.member.setHealthy(healthy, this.o.now()));
  }

  setKey(key: Buffer): void {
    this.key = key;
  }

  /** The responder follows owned set `post` (and every earlier one). */
  applied(post: number): void {
    this.guard('applied', () => {
      while (this.posts.length > 0 && (this.posts[0] as Post).id <= post) {
        const p = this.posts.shift() as Post;
        this.ownedApplied = p.owned;
        this.member.applied(p.memberVersion);
      }
      if (this.posts.length === 0) this.member.applied(this.member.version);
    });
  }

  onDatagram(bytes: Buffer): void {
    if (this.stopped) return;
    this.guard('datagram', () => {
      const d = decodeDatagram(bytes, this.key, this.o.wallNow());
      if (!d.ok) {
        this.decodeDrops[d.cause]++;
        return;
      }
      this.received++;
      this.member.onMessage(d.message, this.o.now());
    });
  }

  /** SIGTERM, after the responder stopped answering: tell the peers (member.ts `leave`), stop. */
  leave(restartHoldMs = 0): void {
    this.guard('leave', () => this.member.leave(this.o.now(), restartHoldMs));
    this.stop();
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
  }

  get counters(): RuntimeCounters {
    const c = this.member.counters;
    return {
      dropped: { ...this.decodeDrops, ...c.drops },
      sent: this.sent,
      received: this.received,
      sendErrors: this.sendErrors,
      rejoins: c.rejoins,
      declaredDead: c.declaredDead,
      awareness: this.member.awarenessScore,
    };
  }

  /** The local socket reported drops (receive buffer overflow): Lifeguard input. */
  noteLocalDrops(count: number): void {
    this.member.noteLocalDrops(count);
  }

  status(node: string): string | undefined {
    return this.member.status(node);
  }

  owner(ip: string): string | undefined {
    return this.index.owner(ip);
  }

  private guard(where: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.o.onError?.(where, err as Error);
    }
    this.pump();
  }

  private post(gainedFrom: readonly (readonly [string, string])[]): void {
    const p: Post = {
      id: ++this.postId,
      owned: new Set(this.index.owned()),
      memberVersion: this.member.version,
    };
    this.posts.push(p);
    this.o.onOwned([...p.owned], p.id, gainedFrom);
  }

  /**
   * A healthy node that stays silent for seconds is either still joining (a peer that never
   * confirms) or has lost its lease for good (monitors that never acknowledge): both leave its
   * IPs unanswered, and the log line says which and what the view holds.
   */
  private noteSilence(now: number): void {
    if (this.o.onSilent === undefined) return;
    const why = this.member.whyNotAnswering(now);
    if (why === undefined || why.reason === 'unhealthy data plane' || why.reason === 'leaving') {
      this.silentSince = undefined;
      return;
    }
    this.silentSince ??= now;
    const every = this.o.silentReportMs ?? 5000;
    if (now - this.silentSince < every || now - this.silentReportedAt < every) return;
    this.silentReportedAt = now;
    const owners = Object.fromEntries(
      [...this.index.ownerCounts()].slice(0, 20).map(([node, n]) => [node === '' ? '(none)' : node, n]),
    );
    this.o.onSilent({ silentMs: Math.round(now - this.silentSince), ...why, owners });
  }

  /** A scan of the plan, so only on a change of plan or view, never per heartbeat. */
  private reportUnowned(): void {
    if (this.o.onUnowned === undefined) return;
    const ips = this.index.unowned();
    const key = ips.join(',');
    if (key === this.lastUnowned) return;
    this.lastUnowned = key;
    this.o.onUnowned(ips);
  }

  private pump(): void {
    if (this.stopped) return;
    try {
      const now = this.o.now();
      const d = this.member.drain();
      let ownedChanged = false;
      const gainedFrom: [string, string][] = [];
      for (const c of d.changes) {
        for (const m of this.index.setCandidate(c.node, c.candidate, c.seniority)) {
          if (m.from === this.o.self || m.to === this.o.self) ownedChanged = true;
          if (m.to === this.o.self && m.from !== undefined) gainedFrom.push([m.ip, m.from]);
        }
        if (c.node !== this.o.self)
          this.o.onMemberChange?.(c.node, c.candidate, this.member.status(c.node) ?? 'unknown');
      }
      if (ownedChanged) this.post(gainedFrom);
      else if (d.changes.length > 0 && this.posts.length === 0) this.member.applied(d.version);
      if (d.changes.length > 0) this.reportUnowned();
      const out = d.out;
      const joiners = this.member.waitingJoiners();
      if (joiners.length > 0) {
        const held = [this.ownedApplied, ...this.posts.map((p) => p.owned)];
        for (const j of joiners) if (mayAckJoiner(j, this.index, held)) this.member.release(j);
        out.push(...this.member.drain().out);
      }
      const until = this.member.answerUntil();
      if (until !== this.lastUntil) {
        this.lastUntil = until;
        this.o.onAnswerUntil(until);
      }
      this.noteSilence(now);
      const wall = this.o.wallNow();
      for (const o of out) {
        const peer = this.peers.get(o.to);
        if (peer === undefined) continue;
        try {
          this.o.send(peer.address, peer.port, encodeDatagram(o.message, this.key, wall));
          this.sent++;
        } catch (err) {
          this.sendErrors++;
          this.o.onError?.('send', err as Error);
        }
      }
      const at = this.member.nextDeadline();
      if (at !== this.timerAt) {
        this.timer?.cancel();
        this.timerAt = at;
        this.timer = this.o.setTimer(
          () => {
            this.timerAt = Number.NaN;
            this.guard('tick', () => this.member.tick(this.o.now()));
          },
          Math.max(0, at - now),
        );
      }
    } catch (err) {
      this.o.onError?.('pump', err as Error);
    }
  }
}
