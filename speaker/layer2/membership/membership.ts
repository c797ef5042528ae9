// The membership state machine: who is alive, who is healthy, who claims what. Time is passed
// in; the edge sends what `tick` returns, feeds received (decoded, authenticated) heartbeats to
// `onHeartbeat`, and calls `tick` again at `nextDeadline`. See README.md for the protocol.

import type { MemberView } from '../ownership/ownership.js';
import type {
  Heartbeat,
  HeartbeatVerdict,
  LocalHealth,
  MemberChange,
  MemberState,
  Outgoing,
  Peer,
  TickResult,
} from './types.js';

export interface MembershipOptions {
  readonly self: string;
  /** The speaker's start time in ms (wall clock), strictly larger after every restart. */
  readonly incarnation: number;
  /** Heartbeat period. */
  readonly intervalMs?: number;
  /** A peer not heard from for this long is dead: 3 intervals. */
  readonly failAfterMs?: number;
  /** The local data plane must be healthy this long before this node counts as healthy again. */
  readonly recoverAfterMs?: number;
}

export const defaultIntervalMs = 100;
export const defaultFailAfterMs = 300;
export const defaultRecoverAfterMs = 500;

interface PeerRecord {
  peer: Peer;
  state: MemberState;
  lastHeard: number;
  incarnation: number;
  seq: number;
  last?: Heartbeat;
}

export class Membership {
  readonly self: string;
  private readonly incarnation: number;
  private readonly intervalMs: number;
  private readonly failAfterMs: number;
  private readonly recoverAfterMs: number;
  private readonly startedAt: number;
  private readonly peers = new Map<string, PeerRecord>();
  private seq = 0;
  private nextSend: number;
  private health: LocalHealth = { linkUp: true, responderOk: true };
  /** When the local data plane was last seen unhealthy; -Infinity: never. */
  private unhealthyAt = -Infinity;
  private claims: ReadonlyMap<string, number> = new Map();
  private leaving = false;

  constructor(options: MembershipOptions, now: number) {
    this.self = options.self;
    this.incarnation = options.incarnation;
    this.intervalMs = options.intervalMs ?? defaultIntervalMs;
    this.failAfterMs = options.failAfterMs ?? defaultFailAfterMs;
    this.recoverAfterMs = options.recoverAfterMs ?? defaultRecoverAfterMs;
    this.startedAt = now;
    this.nextSend = now;
  }

  /**
   * The speaker nodes, from the Node objects (or per-node Leases) the edge watches. Peers not
   * listed are forgotten (reported as `left`); new ones start `unknown` until heard.
   */
  setPeers(peers: readonly Peer[]): MemberChange[] {
    const changes: MemberChange[] = [];
    const names = new Set<string>();
    for (const peer of peers) {
      if (peer.name === this.self) continue;
      names.add(peer.name);
      const known = this.peers.get(peer.name);
      if (known) known.peer = peer;
      else
        this.peers.set(peer.name, { peer, state: 'unknown', lastHeard: -Infinity, incarnation: -1, seq: -1 });
    }
    for (const [name, rec] of this.peers) {
      if (names.has(name)) continue;
      this.peers.delete(name);
      if (rec.state !== 'left') changes.push({ node: name, from: rec.state, to: 'left' });
    }
    return changes;
  }

  /** From the link monitor and the responder's self-check. Going unhealthy is told at once. */
  setLocalHealth(health: LocalHealth, now: number): void {
    const wasHealthy = this.localHealthy(now);
    const wasUp = this.health.linkUp && this.health.responderOk;
    this.health = health;
    const up = health.linkUp && health.responderOk;
    // Unhealthy until now, also when it just recovered: the hold-down runs from the recovery,
    // not from the last unhealthy report. After a long outage this node saw every peer die;
    // it must hear their claims again before it may claim (else it takes its IPs back).
    if (!up || !wasUp) this.unhealthyAt = now;
    if (!up && wasHealthy) this.nextSend = now;
  }

  /** The claims the ownership election gave this node; a change is sent at once. */
  setLocalClaims(claims: ReadonlyMap<string, number>, now: number): void {
    if (sameClaims(claims, this.claims)) return;
    this.claims = new Map(claims);
    this.nextSend = now;
  }

  onHeartbeat(hb: Heartbeat, now: number): HeartbeatVerdict {
    if (hb.node === this.self) return { accepted: false, reason: 'self' };
    const rec = this.peers.get(hb.node);
    if (rec === undefined) return { accepted: false, reason: 'unknown-peer' };
    if (hb.incarnation < rec.incarnation) return { accepted: false, reason: 'stale-incarnation' };
    if (hb.incarnation === rec.incarnation && hb.seq <= rec.seq) return { accepted: false, reason: 'replay' };
    rec.incarnation = hb.incarnation;
    rec.seq = hb.seq;
    rec.lastHeard = now;
    rec.last = hb;
    const to: MemberState = hb.leaving ? 'left' : 'alive';
    if (rec.state === to) return { accepted: true, changes: [] };
    const change = { node: hb.node, from: rec.state, to };
    rec.state = to;
    return { accepted: true, changes: [change] };
  }

  tick(now: number): TickResult {
    const changes: MemberChange[] = [];
    for (const rec of this.peers.values()) {
      if (rec.state === 'alive' && now >= rec.lastHeard + this.failAfterMs) {
        changes.push({ node: rec.peer.name, from: 'alive', to: 'dead' });
        rec.state = 'dead';
      }
    }
    let send: Outgoing[] = [];
    if (now >= this.nextSend && !this.leaving) {
      send = this.broadcast(this.heartbeat(now));
      this.nextSend = now + this.intervalMs;
    }
    let nextDeadline = this.nextSend;
    for (const rec of this.peers.values()) {
      if (rec.state === 'alive') nextDeadline = Math.min(nextDeadline, rec.lastHeard + this.failAfterMs);
    }
    // Readiness and recovery change what this node may own: wake up when they flip.
    const readyAt = this.startedAt + this.failAfterMs;
    if (now < readyAt) nextDeadline = Math.min(nextDeadline, readyAt);
    const recoveredAt = this.unhealthyAt + this.recoverAfterMs;
    if (this.health.linkUp && this.health.responderOk && now < recoveredAt)
      nextDeadline = Math.min(nextDeadline, recoveredAt);
    return { send, changes, nextDeadline };
  }

  /** On SIGTERM: one last heartbeat, with no claims and the leaving flag; then stay silent. */
  leave(now: number): Outgoing[] {
    this.claims = new Map();
    this.leaving = false;
    const out = this.broadcast({ ...this.heartbeat(now), leaving: true });
    this.leaving = true;
    return out;
  }

  /** Listened for a full failure window: has heard the claims of every live peer. */
  ready(now: number): boolean {
    return now >= this.startedAt + this.failAfterMs;
  }

  /** Every known speaker, this one included, as the ownership election wants them. */
  members(now: number): Map<string, MemberView> {
    const view = new Map<string, MemberView>();
    view.set(this.self, {
      node: this.self,
      alive: !this.leaving,
      healthy: this.localHealthy(now),
      claims: this.claims,
    });
    for (const [name, rec] of this.peers) {
      const hb = rec.last;
      view.set(name, {
        node: name,
        alive: rec.state === 'alive',
        healthy: hb !== undefined && hb.linkUp && hb.responderOk,
        // A dead peer's last claims stay visible: their terms keep a takeover's term above them.
        claims: hb?.claims ?? new Map<string, number>(),
      });
    }
    return view;
  }

  state(node: string): MemberState | undefined {
    return this.peers.get(node)?.state;
  }

  private localHealthy(now: number): boolean {
    return this.health.linkUp && this.health.responderOk && now >= this.unhealthyAt + this.recoverAfterMs;
  }

  private heartbeat(now: number): Heartbeat {
    this.seq = (this.seq + 1) >>> 0;
    return {
      node: this.self,
      incarnation: this.incarnation,
      seq: this.seq,
      linkUp: this.health.linkUp,
      // The recovery hold-down is reported as "responder not yet working" so peers treat the
      // node as unhealthy until it is stable (a flapping link never makes it an owner).
      responderOk: this.health.responderOk && now >= this.unhealthyAt + this.recoverAfterMs,
      ready: this.ready(now),
      leaving: false,
      claims: this.claims,
    };
  }

  private broadcast(hb: Heartbeat): Outgoing[] {
    // Dead and unknown peers get heartbeats too: that is how a partition heals.
    return [...this.peers.values()].map((rec) => ({ peer: rec.peer, heartbeat: hb }));
  }
}

function sameClaims(a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>): boolean {
  if (a.size !== b.size) return false;
  for (const [ip, term] of a) if (b.get(ip) !== term) return false;
  return true;
}
