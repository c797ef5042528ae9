// The table of single-hop BFD sessions (RFC 5881) of one speaker: demultiplexes received
// packets to sessions (RFC 5880 §6.3, RFC 5881 §3), applies the TTL check (RFC 5881 §5) and
// turns session output into encoded datagrams. Pure: no sockets and no timers; the edge
// (edge.ts) feeds it datagrams and calls tick() at nextDeadline().

import type { BFDProfile } from '../../../lib/config/types.js';
import { formatIP, tryParseIP } from '../../../lib/ip/index.js';
import { bfdDiagNames, decodeControl, encodeControl, type BfdRejectReason } from './codec.js';
import { BfdSession, type BfdOutput, type BfdSessionStatus } from './session.js';

/** What a session is configured with: BFDProfile's fields, intervals in ms. */
export interface BfdPeerProfile {
  readonly receiveIntervalMs: number;
  readonly transmitIntervalMs: number;
  readonly detectMultiplier: number;
  readonly passiveMode: boolean;
  /**
   * Lowest TTL / hop limit accepted. Single-hop BFD without authentication requires 255
   * (RFC 5881 §5), the default.
   */
  readonly minimumTtl?: number;
}

/** MetalLB's defaults for a peer without a BFDProfile are FRR's: 300 ms × 3. */
export const defaultBfdProfile: BfdPeerProfile = {
  receiveIntervalMs: 300,
  transmitIntervalMs: 300,
  detectMultiplier: 3,
  passiveMode: false,
};

/**
 * A BFDProfile as a session profile. `minimumTtl` is not carried over: MetalLB (after FRR)
 * defines it for multihop sessions only (its default 254 would break RFC 5881 §5), and
 * Beacon's sessions are single-hop. The Echo function is not implemented: echoMode and
 * echoInterval are not used, and sessions advertise Required Min Echo RX 0 (RFC 5880 §6.8.9).
 */
export function profileFromBFDProfile(p: BFDProfile): BfdPeerProfile {
  return {
    receiveIntervalMs: p.receiveInterval,
    transmitIntervalMs: p.transmitInterval,
    detectMultiplier: p.detectMultiplier,
    passiveMode: p.passiveMode,
  };
}

export interface BfdStateChange {
  readonly peer: string;
  readonly local: string;
  readonly from: string;
  readonly to: string;
  readonly diag: number;
  /** bfdDiagNames[diag], for logs. */
  readonly diagName: string;
  readonly remoteAdminDown: boolean;
  readonly at: number;
}

export interface BfdPeerStats extends BfdSessionStatus {
  readonly peer: string;
  readonly local: string;
  /** Packets for this peer discarded because their TTL was below minimumTtl. */
  readonly ttlRejected: number;
  readonly sendErrors: number;
}

/** Why a received datagram was not given to a session (for counters and debug logs). */
export type BfdReceiveResult = 'accepted' | 'no-session' | 'ttl' | BfdRejectReason;

export interface BfdSessionsOptions {
  /** Send one encoded Control packet to the peer, from the session's source port. */
  readonly send: (peer: string, local: string, data: Buffer) => void;
  /**
   * Given, the edge times the periodic transmission (§6.8.7) itself: it is handed each
   * session's periodic packet and interval whenever they change (undefined: send nothing),
   * and `send` only gets what must go at once.
   */
  readonly setPeriodic?: (peer: string, periodic: EncodedPeriodic | undefined) => void;
  readonly onStateChange: (change: BfdStateChange) => void;
  /** Jitter source, uniform in [0, 1). */
  readonly random: () => number;
  /** A fresh nonzero 32-bit discriminator; called until unused (§6.8.1 suggests random). */
  readonly newDiscriminator: () => number;
}

/** A session's periodic packet, encoded, with its interval before jitter. */
export interface EncodedPeriodic {
  readonly data: Buffer;
  readonly intervalUs: number;
  readonly detectMultOne: boolean;
}

interface Entry {
  readonly peer: string;
  readonly local: string;
  readonly session: BfdSession;
  /** What the edge was last handed (setPeriodic). */
  periodic?: EncodedPeriodic | undefined;
  profile: BfdPeerProfile;
  ttlRejected: number;
  sendErrors: number;
}

/** Canonical text of an address, so that "fd00::1" and "FD00:0::1" are one peer. */
export function canonicalAddress(text: string): string {
  const ip = tryParseIP(text);
  if (!ip) throw new TypeError(`BFD: "${text}" is not an IP address`);
  return formatIP(ip);
}

export class BfdSessions {
  readonly #byPeer = new Map<string, Entry>();
  readonly #byDiscriminator = new Map<number, Entry>();
  readonly #opts: BfdSessionsOptions;
  /** Discarded datagrams that belong to no session, by reason. */
  readonly discarded = new Map<BfdReceiveResult, number>();

  constructor(opts: BfdSessionsOptions) {
    this.#opts = opts;
  }

  has(peer: string): boolean {
    return this.#byPeer.has(canonicalAddress(peer));
  }

  /** Starts a session to `peer`, sourced from `local` (same family). */
  add(peer: string, local: string, profile: BfdPeerProfile, now: number): void {
    const p = canonicalAddress(peer);
    const l = canonicalAddress(local);
    if (p.includes(':') !== l.includes(':'))
      throw new TypeError(`BFD peer ${p}: local address ${l} is of another address family`);
    if (this.#byPeer.has(p)) throw new Error(`BFD peer ${p}: a session already exists`);
    let disc = this.#opts.newDiscriminator();
    while (disc === 0 || this.#byDiscriminator.has(disc)) disc = this.#opts.newDiscriminator();
    const entry: Entry = {
      peer: p,
      local: l,
      profile,
      ttlRejected: 0,
      sendErrors: 0,
      session: new BfdSession({
        localDiscriminator: disc,
        desiredMinTxMs: profile.transmitIntervalMs,
        requiredMinRxMs: profile.receiveIntervalMs,
        detectMultiplier: profile.detectMultiplier,
        passive: profile.passiveMode,
        random: this.#opts.random,
        now,
        periodicByEdge: this.#opts.setPeriodic !== undefined,
      }),
    };
    this.#byPeer.set(p, entry);
    this.#byDiscriminator.set(disc, entry);
    this.#syncPeriodic(entry);
  }

  /** New timers for a session; a change while Up is negotiated with a Poll (§6.8.3). */
  update(peer: string, profile: BfdPeerProfile, now: number): void {
    const e = this.#entry(peer);
    e.profile = profile;
    e.session.updateTimers(
      {
        desiredMinTxMs: profile.transmitIntervalMs,
        requiredMinRxMs: profile.receiveIntervalMs,
        detectMultiplier: profile.detectMultiplier,
      },
      now,
    );
    this.#syncPeriodic(e);
  }

  /**
   * Ends a session: the peer is told AdminDown (RFC 5880 §6.8.16) so that it does not report
   * a failure, then the session is forgotten. Emits no state change for it.
   */
  remove(peer: string, now: number): void {
    const e = this.#entry(peer);
    const out = e.session.setAdminDown(now);
    // The periodic packet stops first, so nothing but AdminDown follows; no state change is
    // reported for a session that is going away.
    if (e.periodic !== undefined) this.#opts.setPeriodic?.(e.peer, undefined);
    for (const pkt of out.packets) this.#opts.send(e.peer, e.local, encodeControl(pkt));
    this.#byPeer.delete(e.peer);
    this.#byDiscriminator.delete(e.session.localDiscriminator);
  }

  /** One received UDP payload from `source`, with the TTL / hop limit it arrived with. */
  receive(data: Buffer, source: string, ttl: number, now: number): BfdReceiveResult {
    const r = decodeControl(data);
    if (!r.ok) return this.#discard(r.reason);
    const src = tryParseIP(source);
    const from = src ? formatIP(src) : source;
    // RFC 5880 §6.3 / RFC 5881 §3: a nonzero Your Discriminator selects the session; zero
    // (only legal in Down/AdminDown, checked by the codec) selects it by source address. A
    // discriminator match from another address is not this session's peer.
    const e =
      r.packet.yourDiscriminator !== 0
        ? this.#byDiscriminator.get(r.packet.yourDiscriminator)
        : this.#byPeer.get(from);
    if (!e || e.peer !== from) return this.#discard('no-session');
    // RFC 5881 §5: without authentication, anything that did not arrive with TTL 255 may come
    // from off-link and is discarded (GTSM, RFC 5082).
    if (ttl < (e.profile.minimumTtl ?? 255)) {
      e.ttlRejected++;
      return 'ttl';
    }
    this.#emit(e, e.session.onPacket(r.packet, now));
    return 'accepted';
  }

  /** Runs every session whose deadline has come. */
  tick(now: number): void {
    for (const e of this.#byPeer.values())
      if (e.session.nextDeadline() <= now) this.#emit(e, e.session.tick(now));
  }

  /** The earliest deadline over all sessions (Infinity when none). */
  nextDeadline(): number {
    let next = Infinity;
    for (const e of this.#byPeer.values()) next = Math.min(next, e.session.nextDeadline());
    return next;
  }

  /** Counts a failed send for metrics; the session carries on (BFD tolerates loss). */
  sendFailed(peer: string): void {
    const e = this.#byPeer.get(canonicalAddress(peer));
    if (e) e.sendErrors++;
  }

  isUp(peer: string): boolean {
    return this.#byPeer.get(canonicalAddress(peer))?.session.up ?? false;
  }

  stats(): BfdPeerStats[] {
    return [...this.#byPeer.values()].map((e) => ({
      ...e.session.status(),
      peer: e.peer,
      local: e.local,
      ttlRejected: e.ttlRejected,
      sendErrors: e.sendErrors,
    }));
  }

  #entry(peer: string): Entry {
    const p = canonicalAddress(peer);
    const e = this.#byPeer.get(p);
    if (!e) throw new Error(`BFD peer ${p}: no such session`);
    return e;
  }

  #discard(reason: BfdReceiveResult): BfdReceiveResult {
    this.discarded.set(reason, (this.discarded.get(reason) ?? 0) + 1);
    return reason;
  }

  /** Hands the edge the session's periodic packet if it changed (only with setPeriodic). */
  #syncPeriodic(e: Entry): void {
    const set = this.#opts.setPeriodic;
    if (!set) return;
    const p = e.session.periodic();
    const next = p && {
      data: encodeControl(p.packet),
      intervalUs: p.intervalUs,
      detectMultOne: p.detectMultOne,
    };
    const last = e.periodic;
    const same =
      next === undefined
        ? last === undefined
        : last !== undefined &&
          last.intervalUs === next.intervalUs &&
          last.detectMultOne === next.detectMultOne &&
          last.data.equals(next.data);
    if (same) return;
    e.periodic = next;
    set(e.peer, next);
  }

  #emit(e: Entry, out: BfdOutput): void {
    this.#syncPeriodic(e);
    for (const pkt of out.packets) this.#opts.send(e.peer, e.local, encodeControl(pkt));
    for (const t of out.transitions)
      this.#opts.onStateChange({
        peer: e.peer,
        local: e.local,
        from: t.from,
        to: t.to,
        diag: t.diag,
        diagName: bfdDiagNames[t.diag] ?? `diag ${t.diag}`,
        remoteAdminDown: t.remoteAdminDown,
        at: t.at,
      });
  }
}
