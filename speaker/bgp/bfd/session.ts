// One BFD session in asynchronous mode: the state machine of RFC 5880 §6.2 and the packet
// reception and transmission rules of §6.8. Pure: time (`now`, milliseconds on a monotonic
// clock) and jitter are injected, and every call returns what the edge must do (packets to
// send now, state transitions). Demand mode and the Echo function are not implemented; the
// D bit is never set and Required Min Echo RX Interval is always advertised as zero, which
// tells the peer not to send echo packets (§6.8.9).

import { BfdDiag, BfdState, bfdStateNames, type BfdControlPacket, type BfdStateName } from './codec.js';

/** Timers as configured (BFDProfile), in milliseconds; the wire uses microseconds. */
export interface BfdTimers {
  /** bfd.DesiredMinTxInterval once Up (BFDProfile.transmitInterval). */
  readonly desiredMinTxMs: number;
  /** bfd.RequiredMinRxInterval (BFDProfile.receiveInterval). */
  readonly requiredMinRxMs: number;
  /** bfd.DetectMult (BFDProfile.detectMultiplier), 1..255. */
  readonly detectMultiplier: number;
}

export interface BfdSessionOptions extends BfdTimers {
  /** bfd.LocalDiscr: nonzero and unique among this system's sessions (§6.8.1). */
  readonly localDiscriminator: number;
  /** Passive role (§6.1): send nothing until the peer's first packet arrives. */
  readonly passive: boolean;
  /** Start in AdminDown instead of Down. */
  readonly adminDown?: boolean;
  /** Uniform in [0, 1): the jitter source of §6.8.7. */
  readonly random: () => number;
  readonly now: number;
  /**
   * The edge sends the periodic packet itself (periodic(): what and how often), on a thread
   * of its own; tick() then returns only detection. Packets that must go at once (a Final)
   * are still returned.
   */
  readonly periodicByEdge?: boolean;
}

/** What the periodic transmission sends and how often (§6.8.7), for an edge that times it. */
export interface BfdPeriodic {
  readonly packet: BfdControlPacket;
  /** Negotiated interval before jitter. */
  readonly intervalUs: number;
  /** §6.8.7: with DetectMult 1 the jitter is 10-25%, not 0-25%. */
  readonly detectMultOne: boolean;
}

export interface BfdTransition {
  readonly from: BfdStateName;
  readonly to: BfdStateName;
  /** bfd.LocalDiag after the change: why the session went down (BfdDiag). */
  readonly diag: number;
  /**
   * The peer said AdminDown. RFC 5882 §3.2: the peer's client should not treat this as a
   * path failure (e.g. BGP may keep the session), so it is told apart here.
   */
  readonly remoteAdminDown: boolean;
  readonly at: number;
}

export interface BfdOutput {
  /** Packets to send now, in order. */
  readonly packets: BfdControlPacket[];
  readonly transitions: BfdTransition[];
}

/** §6.8.3: while not Up, bfd.DesiredMinTxInterval is at least one second. */
export const SLOW_TX_US = 1_000_000;

const us = (ms: number): number => Math.round(ms * 1000);

/** A snapshot for metrics and `show` output. */
export interface BfdSessionStatus {
  readonly state: BfdStateName;
  readonly remoteState: BfdStateName;
  readonly localDiscriminator: number;
  readonly remoteDiscriminator: number;
  readonly localDiag: number;
  /** Last diag the peer sent. */
  readonly remoteDiag: number;
  /** Negotiated interval between our packets before jitter, µs. */
  readonly transmitIntervalUs: number;
  /** Current detection time, µs; 0 before the peer was heard from. */
  readonly detectionTimeUs: number;
  readonly pollActive: boolean;
  readonly packetsIn: number;
  readonly packetsOut: number;
  readonly upEvents: number;
  readonly downEvents: number;
}

export class BfdSession {
  readonly localDiscriminator: number;
  #state: BfdState;
  #remoteState: BfdState = BfdState.Down;
  #remoteDiscr = 0;
  #localDiag: number = BfdDiag.None;
  #remoteDiag = 0;
  readonly #passive: boolean;
  readonly #random: () => number;
  readonly #periodicByEdge: boolean;

  // Configured values (µs); bfd.DesiredMinTxInterval is derived from #configuredTxUs and state.
  #configuredTxUs: number;
  #requiredMinRxUs: number;
  #detectMult: number;

  // The values actually in effect for our transmit rate and for detection. §6.8.3: a larger
  // DesiredMinTx or a smaller RequiredMinRx only takes effect once the Poll Sequence that
  // announced it is over, so the peer is never surprised by either.
  #effectiveTxUs: number;
  #effectiveRxUs: number;
  #pollActive = false;

  // What the peer last told us (§6.8.1 initial values: RemoteMinRxInterval 1).
  #remoteMinRxUs = 1;
  #remoteDesiredTxUs = 0;
  #remoteDetectMult = 0;

  #lastRxAt: number | undefined;
  #lastTxAt: number | undefined;
  #nextTxAt: number | undefined;

  #packetsIn = 0;
  #packetsOut = 0;
  #upEvents = 0;
  #downEvents = 0;

  constructor(opts: BfdSessionOptions) {
    if (
      !Number.isInteger(opts.localDiscriminator) ||
      opts.localDiscriminator <= 0 ||
      opts.localDiscriminator > 0xffffffff
    )
      throw new RangeError(`BFD local discriminator ${opts.localDiscriminator} must be in 1..2^32-1`);
    checkTimers(opts);
    this.localDiscriminator = opts.localDiscriminator;
    this.#passive = opts.passive;
    this.#random = opts.random;
    this.#periodicByEdge = opts.periodicByEdge ?? false;
    this.#state = opts.adminDown ? BfdState.AdminDown : BfdState.Down;
    this.#configuredTxUs = us(opts.desiredMinTxMs);
    this.#requiredMinRxUs = us(opts.requiredMinRxMs);
    this.#detectMult = opts.detectMultiplier;
    this.#effectiveTxUs = this.#desiredMinTxUs();
    this.#effectiveRxUs = this.#requiredMinRxUs;
    if (this.#mayTransmit()) this.#nextTxAt = opts.now;
  }

  get state(): BfdStateName {
    return bfdStateNames[this.#state];
  }

  get up(): boolean {
    return this.#state === BfdState.Up;
  }

  /** bfd.DesiredMinTxInterval as advertised: §6.8.3 slows it to ≥ 1 s while not Up. */
  #desiredMinTxUs(): number {
    return this.#state === BfdState.Up ? this.#configuredTxUs : Math.max(this.#configuredTxUs, SLOW_TX_US);
  }

  /** §6.8.7 negotiated interval, before jitter. */
  #txIntervalUs(): number {
    return Math.max(this.#effectiveTxUs, this.#remoteMinRxUs);
  }

  /** §6.8.4: Detection Time in asynchronous mode, µs. */
  #detectionTimeUs(): number {
    return this.#remoteDetectMult * Math.max(this.#effectiveRxUs, this.#remoteDesiredTxUs);
  }

  #mayTransmit(): boolean {
    // §6.8.7: nothing while the peer wants no packets (Required Min RX 0), and a passive
    // system stays silent until it has learned the peer's discriminator (§6.1).
    if (this.#remoteMinRxUs === 0) return false;
    if (this.#passive && this.#remoteDiscr === 0) return false;
    return true;
  }

  #detectAt(): number | undefined {
    if (this.#lastRxAt === undefined || this.#remoteDiscr === 0) return undefined;
    if (this.#state === BfdState.AdminDown) return undefined;
    return this.#lastRxAt + this.#detectionTimeUs() / 1000;
  }

  /** §6.8.7 jitter: 0-25% shorter, or 10-25% shorter when DetectMult is 1. */
  #jittered(intervalUs: number): number {
    const r = this.#random();
    const factor = this.#detectMult === 1 ? 0.75 + 0.15 * r : 1 - 0.25 * r;
    return (intervalUs * factor) / 1000;
  }

  /** When the session next needs tick(): a transmission or the detection deadline. */
  nextDeadline(): number {
    let next = Infinity;
    if (!this.#periodicByEdge && this.#mayTransmit() && this.#nextTxAt !== undefined) next = this.#nextTxAt;
    const detect = this.#detectAt();
    if (detect !== undefined) next = Math.min(next, detect);
    return next;
  }

  /** A packet that passed decodeControl() and was demultiplexed to this session (§6.8.6). */
  onPacket(pkt: BfdControlPacket, now: number): BfdOutput {
    const out: BfdOutput = { packets: [], transitions: [] };
    if (pkt.yourDiscriminator !== 0 && pkt.yourDiscriminator !== this.localDiscriminator) return out;
    // "If bfd.SessionState is AdminDown: Discard the packet" — before any state is touched.
    if (this.#state === BfdState.AdminDown) return out;
    this.#packetsIn++;
    const wasSilent = !this.#mayTransmit();
    this.#remoteDiscr = pkt.myDiscriminator;
    this.#remoteState = pkt.state;
    this.#remoteDiag = pkt.diag;
    this.#remoteMinRxUs = pkt.requiredMinRxUs;
    this.#remoteDesiredTxUs = pkt.desiredMinTxUs;
    this.#remoteDetectMult = pkt.detectMult;
    this.#lastRxAt = now;
    if (pkt.final && this.#pollActive) this.#endPoll();

    if (pkt.state === BfdState.AdminDown) {
      if (this.#state !== BfdState.Down)
        this.#transition(BfdState.Down, BfdDiag.NeighborSignaledSessionDown, true, now, out);
    } else if (this.#state === BfdState.Down) {
      if (pkt.state === BfdState.Down) this.#transition(BfdState.Init, BfdDiag.None, false, now, out);
      else if (pkt.state === BfdState.Init) this.#transition(BfdState.Up, BfdDiag.None, false, now, out);
    } else if (this.#state === BfdState.Init) {
      if (pkt.state === BfdState.Init || pkt.state === BfdState.Up)
        this.#transition(BfdState.Up, BfdDiag.None, false, now, out);
    } else if (pkt.state === BfdState.Down) {
      this.#transition(BfdState.Down, BfdDiag.NeighborSignaledSessionDown, false, now, out);
    }

    // §6.8.7: answer a Poll with a Final at once, regardless of the transmit timer.
    if (pkt.poll) out.packets.push(this.#packet(now, { final: true }));
    if (wasSilent && this.#mayTransmit()) this.#nextTxAt = now;
    this.#reschedule(now);
    return out;
  }

  /** Fires what is due at `now`: detection timeout, then the periodic transmission. */
  tick(now: number): BfdOutput {
    const out: BfdOutput = { packets: [], transitions: [] };
    const detect = this.#detectAt();
    if (detect !== undefined && now >= detect) {
      // §6.8.4: no packet within the Detection Time. The peer is forgotten (§6.8.1:
      // bfd.RemoteDiscr is zeroed), so a passive session falls silent again.
      if (this.#state === BfdState.Init || this.#state === BfdState.Up)
        this.#transition(BfdState.Down, BfdDiag.ControlDetectionTimeExpired, false, now, out);
      this.#remoteDiscr = 0;
      this.#remoteState = BfdState.Down;
      this.#lastRxAt = undefined;
    }
    if (
      !this.#periodicByEdge &&
      this.#mayTransmit() &&
      this.#nextTxAt !== undefined &&
      now >= this.#nextTxAt
    ) {
      out.packets.push(this.#packet(now, { poll: this.#pollActive }));
      this.#nextTxAt = now + this.#jittered(this.#txIntervalUs());
    }
    return out;
  }

  /** Administratively disables the session (§6.8.16): the peer sees AdminDown at once. */
  setAdminDown(now: number): BfdOutput {
    const out: BfdOutput = { packets: [], transitions: [] };
    if (this.#state === BfdState.AdminDown) return out;
    this.#transition(BfdState.AdminDown, BfdDiag.AdministrativelyDown, false, now, out);
    // bfd.RemoteDiscr is kept, so the peer can select its session by Your Discriminator.
    this.#lastRxAt = undefined;
    out.packets.push(this.#packet(now, {}));
    return out;
  }

  /** Leaves AdminDown for Down and starts over. */
  enable(now: number): BfdOutput {
    const out: BfdOutput = { packets: [], transitions: [] };
    if (this.#state !== BfdState.AdminDown) return out;
    this.#transition(BfdState.Down, this.#localDiag, false, now, out);
    if (this.#mayTransmit()) this.#nextTxAt = now;
    return out;
  }

  /**
   * New timers (a changed BFDProfile). While Up, the peer learns them through a Poll
   * Sequence (§6.8.3), and the changes that could make it declare us dead wait for its Final.
   */
  updateTimers(timers: BfdTimers, now: number): void {
    checkTimers(timers);
    const oldDesired = this.#desiredMinTxUs();
    const oldRx = this.#requiredMinRxUs;
    const oldMult = this.#detectMult;
    this.#configuredTxUs = us(timers.desiredMinTxMs);
    this.#requiredMinRxUs = us(timers.requiredMinRxMs);
    this.#detectMult = timers.detectMultiplier;
    const changed =
      oldDesired !== this.#desiredMinTxUs() ||
      oldRx !== this.#requiredMinRxUs ||
      oldMult !== this.#detectMult;
    if (!changed) return;
    this.#applyTimerChange(now);
  }

  #applyTimerChange(now: number): void {
    const desired = this.#desiredMinTxUs();
    if (this.#state === BfdState.Up) {
      if (desired < this.#effectiveTxUs) this.#effectiveTxUs = desired;
      if (this.#requiredMinRxUs > this.#effectiveRxUs) this.#effectiveRxUs = this.#requiredMinRxUs;
      this.#pollActive = true;
    } else {
      this.#effectiveTxUs = desired;
      this.#effectiveRxUs = this.#requiredMinRxUs;
    }
    this.#reschedule(now);
  }

  #endPoll(): void {
    this.#pollActive = false;
    this.#effectiveTxUs = this.#desiredMinTxUs();
    this.#effectiveRxUs = this.#requiredMinRxUs;
  }

  /** A shorter interval may bring the next packet forward, never closer than it allows. */
  #reschedule(now: number): void {
    if (!this.#mayTransmit() || this.#nextTxAt === undefined || this.#lastTxAt === undefined) return;
    const earliest = Math.max(now, this.#lastTxAt + this.#jittered(this.#txIntervalUs()));
    if (earliest < this.#nextTxAt) this.#nextTxAt = earliest;
  }

  #transition(to: BfdState, diag: number, remoteAdminDown: boolean, now: number, out: BfdOutput): void {
    const from = this.#state;
    if (from === to) return;
    this.#state = to;
    this.#localDiag = diag;
    if (to === BfdState.Up) this.#upEvents++;
    if (from === BfdState.Up) this.#downEvents++;
    out.transitions.push({
      from: bfdStateNames[from],
      to: bfdStateNames[to],
      diag,
      remoteAdminDown,
      at: now,
    });
    // Entering or leaving Up changes bfd.DesiredMinTxInterval (§6.8.3 slow rate); going Up
    // the faster rate is announced with a Poll. Leaving Up, a pending Poll is moot.
    if (to !== BfdState.Up) this.#pollActive = false;
    const desired = this.#desiredMinTxUs();
    if (to === BfdState.Up && desired !== this.#effectiveTxUs) {
      this.#applyTimerChange(now);
    } else if (to !== BfdState.Up) {
      this.#effectiveTxUs = desired;
      this.#effectiveRxUs = this.#requiredMinRxUs;
    }
  }

  /**
   * The packet the periodic transmission sends now, and its interval; undefined while the
   * session must stay silent (§6.8.7). It changes only with the session's state, so the edge
   * hands it over again after every call that may have changed it.
   */
  periodic(): BfdPeriodic | undefined {
    if (!this.#mayTransmit()) return undefined;
    return {
      packet: this.#build({ poll: this.#pollActive }),
      intervalUs: this.#txIntervalUs(),
      detectMultOne: this.#detectMult === 1,
    };
  }

  #packet(now: number, flags: { poll?: boolean; final?: boolean }): BfdControlPacket {
    this.#packetsOut++;
    this.#lastTxAt = now;
    return this.#build(flags);
  }

  #build(flags: { poll?: boolean; final?: boolean }): BfdControlPacket {
    return {
      diag: this.#localDiag,
      state: this.#state,
      poll: flags.poll ?? false,
      final: flags.final ?? false,
      cpi: false,
      demand: false,
      detectMult: this.#detectMult,
      myDiscriminator: this.localDiscriminator,
      yourDiscriminator: this.#remoteDiscr,
      desiredMinTxUs: this.#desiredMinTxUs(),
      requiredMinRxUs: this.#requiredMinRxUs,
      requiredMinEchoRxUs: 0,
    };
  }

  status(): BfdSessionStatus {
    const detectAt = this.#detectAt();
    return {
      state: this.state,
      remoteState: bfdStateNames[this.#remoteState],
      localDiscriminator: this.localDiscriminator,
      remoteDiscriminator: this.#remoteDiscr,
      localDiag: this.#localDiag,
      remoteDiag: this.#remoteDiag,
      transmitIntervalUs: this.#txIntervalUs(),
      detectionTimeUs: detectAt === undefined ? 0 : this.#detectionTimeUs(),
      pollActive: this.#pollActive,
      packetsIn: this.#packetsIn,
      packetsOut: this.#packetsOut,
      upEvents: this.#upEvents,
      downEvents: this.#downEvents,
    };
  }
}

function checkTimers(t: BfdTimers): void {
  // Zero RequiredMinRx would mean "send me nothing" (§6.8.1), which a session never wants.
  if (!(t.desiredMinTxMs > 0))
    throw new RangeError(`BFD transmit interval ${t.desiredMinTxMs} ms must be > 0`);
  if (!(t.requiredMinRxMs > 0))
    throw new RangeError(`BFD receive interval ${t.requiredMinRxMs} ms must be > 0`);
  if (!Number.isInteger(t.detectMultiplier) || t.detectMultiplier < 1 || t.detectMultiplier > 255)
    throw new RangeError(`BFD detect multiplier ${t.detectMultiplier} must be in 1..255`);
}
