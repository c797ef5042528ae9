// The BGP-4 finite state machine (RFC 4271 §8), pure: `step(event, now)` returns actions and
// touches nothing else. Timers are deadlines the caller arms; connections are ids the caller
// maps to sockets. The state handlers live one per file (idle.ts ... established.ts); this file
// holds what they share and what is the same in every state (ManualStop, the second connection
// of a collision, stale timer and connection events).

import { parseIPv4 } from '../wire/address.js';
import type { Capability, KeepaliveMessage, NotificationMessage, OpenMessage } from '../wire/messages.js';
import { CeaseSubcode } from '../wire/notification-codes.js';
import { buildOpen, negotiate, validateOpen } from '../wire/open.js';
import { active } from './active.js';
import { connect } from './connect.js';
import type { Connection, FsmContext, StateHandler } from './context.js';
import { cease, collisionResolution } from './errors.js';
import { established, holdMs } from './established.js';
import { idle } from './idle.js';
import { openConfirm } from './open-confirm.js';
import { openSent } from './open-sent.js';
import type { ConnId, FsmAction, FsmConfig, FsmCounters, FsmEvent, State, TimerName } from './types.js';

const handlers: Record<State, StateHandler> = {
  Idle: idle,
  Connect: connect,
  Active: active,
  OpenSent: openSent,
  OpenConfirm: openConfirm,
  Established: established,
};

/** RFC 4271 §8.2.2: "sets the HoldTimer to a large value", suggested 4 minutes, while in OpenSent. */
const OPEN_SENT_HOLD_MS = 240_000;

const toU32 = (id: string): number => parseIPv4(id).readUInt32BE(0);

export class BgpFsm implements FsmContext {
  private current: State = 'Idle';
  private clock = 0;
  private out: FsmAction[] = [];
  private readonly deadlines = new Map<TimerName, number>();
  private nextConn = 1;
  /** Consecutive failures since the last Established: the backoff exponent. */
  private failures = 0;
  /** ManualStart seen and no ManualStop since: failures restart automatically. */
  private running = false;
  primary: Connection | undefined;
  secondary: Connection | undefined;
  readonly counters: FsmCounters = {
    updatesReceived: 0,
    treatAsWithdraw: 0,
    attributeDiscard: 0,
    routeRefreshReceived: 0,
    notificationsSent: 0,
    notificationsReceived: 0,
    establishedTransitions: 0,
  };
  /** Our OPEN while the Restart State bit is still due (see `localOpen`), and after. */
  private readonly restartOpen: OpenMessage;
  private readonly steadyOpen: OpenMessage;
  /** Not yet Established since this FSM was made: OPENs carry the R bit if configured. */
  private restarting: boolean;
  readonly passive: boolean;
  readonly connectTimeoutMs: number;
  private readonly retryBase: number;
  private readonly retryMax: number;

  constructor(private readonly cfg: FsmConfig) {
    const hold = cfg.holdTime ?? 90;
    // RFC 4271 §4.2: "MUST be either zero or at least three seconds".
    if (!Number.isInteger(hold) || hold < 0 || hold > 0xffff || hold === 1 || hold === 2)
      throw new RangeError(
        `BGP session to AS ${cfg.peerAsn ?? 'any'}: holdTime ${hold}: want 0 or 3..65535 seconds`,
      );
    if (cfg.keepaliveTime !== undefined && !(cfg.keepaliveTime > 0))
      throw new RangeError(
        `BGP session: keepaliveTime ${cfg.keepaliveTime}: want a positive number of seconds`,
      );
    const open = (capabilities: Capability[]): OpenMessage =>
      buildOpen({ asn: cfg.localAsn, holdTime: hold, bgpId: cfg.routerId, capabilities });
    const caps = cfg.capabilities ?? [];
    this.restartOpen = open(caps);
    this.steadyOpen = open(
      caps.map((c) => (c.kind === 'graceful-restart' && c.restarting ? { ...c, restarting: false } : c)),
    );
    this.restarting = caps.some((c) => c.kind === 'graceful-restart' && c.restarting);
    this.passive = cfg.passive ?? false;
    this.connectTimeoutMs = cfg.connectTimeoutMs ?? 5000;
    this.retryBase = cfg.connectRetryMs ?? 1000;
    this.retryMax = cfg.maxConnectRetryMs ?? 60_000;
  }

  get state(): State {
    return this.current;
  }

  /**
   * The OPEN we send now. A Graceful Restart capability configured with the Restart State bit
   * (RFC 4724 §3) keeps it only until the session is first Established: the bit says "I have
   * restarted", which is true of the first session after a restart (§4.1), not of a reconnect
   * later in the same run (the capability is then sent with R = 0).
   */
  get localOpen(): OpenMessage {
    return this.restarting ? this.restartOpen : this.steadyOpen;
  }

  get now(): number {
    return this.clock;
  }

  /** A fresh id for a connection the caller accepted (then report TcpConnectionConfirmed). */
  connectionId(): ConnId {
    return this.nextConn++;
  }

  /** The deadline of a running timer. */
  deadline(timer: TimerName): number | undefined {
    return this.deadlines.get(timer);
  }

  step(ev: FsmEvent, now: number): FsmAction[] {
    this.clock = now;
    this.out = [];
    this.dispatch(ev);
    return this.out;
  }

  private dispatch(ev: FsmEvent): void {
    if (ev.type === 'ManualStart') {
      if (this.running) return; // §8.2.2: ignored outside Idle.
      this.running = true;
      this.failures = 0;
      this.timer('IdleHoldTimer', undefined);
      if (this.current === 'Idle') handlers.Idle(this, ev);
      return;
    }
    if (ev.type === 'ManualStop')
      return this.manualStop(ev.subcode ?? CeaseSubcode.ADMINISTRATIVE_SHUTDOWN, ev.restart ?? false);
    if (ev.type.endsWith('_Expires')) {
      // A timer event counts only while the timer is armed: a late callback of a cancelled or
      // re-armed timer is dropped.
      const name = ev.type.slice(0, -'_Expires'.length) as TimerName;
      if (!this.deadlines.has(name)) return;
      this.deadlines.delete(name);
      if (name === 'IdleHoldTimer' && (!this.running || this.current !== 'Idle')) return;
    }
    if (ev.type === 'NotifMsg') this.counters.notificationsReceived++;
    if (ev.type === 'NotifMsg' && (ev.conn === this.primary?.id || ev.conn === this.secondary?.id))
      this.counters.lastError = `received ${describe(ev.notification)}`;
    if ('conn' in ev && ev.type !== 'TcpConnectionConfirmed') {
      if (this.secondary && ev.conn === this.secondary.id) return this.onSecondary(ev);
      if (ev.conn !== this.primary?.id) {
        // A connection we already gave up on: make sure it is gone.
        if (ev.type === 'Tcp_CR_Acked') this.close(ev.conn);
        return;
      }
    }
    handlers[this.current](this, ev);
  }

  // ---- FsmContext ----

  setState(to: State, reason: string): void {
    if (to === this.current) return;
    const from = this.current;
    this.current = to;
    if (this.primary) this.primary.stage = to;
    this.out.push({ type: 'state', from, to, reason });
  }

  timer(name: TimerName, ms: number | undefined): void {
    if (ms === undefined) {
      if (!this.deadlines.has(name)) return;
      this.deadlines.delete(name);
      this.out.push({ type: 'timer', timer: name, at: undefined });
      return;
    }
    const at = this.clock + ms;
    this.deadlines.set(name, at);
    this.out.push({ type: 'timer', timer: name, at });
  }

  send(conn: ConnId, message: OpenMessage | KeepaliveMessage | NotificationMessage): void {
    this.out.push({ type: 'send', conn, message });
  }

  notify(conn: ConnId, n: NotificationMessage): void {
    this.counters.notificationsSent++;
    this.counters.lastError = `sent ${describe(n)}`;
    this.send(conn, n);
  }

  close(conn: ConnId): void {
    this.out.push({ type: 'close', conn });
  }

  retryDelay(): number {
    return Math.min(this.retryBase * 2 ** Math.min(this.failures, 30), this.retryMax);
  }

  connect(): void {
    const id = this.connectionId();
    this.primary = { id, dir: 'out', stage: 'Connect' };
    this.setState('Connect', 'connecting');
    this.primary.stage = 'Connect';
    this.out.push({ type: 'connect', conn: id, timeoutMs: this.connectTimeoutMs });
    this.timer('ConnectRetryTimer', Math.max(this.retryDelay(), this.connectTimeoutMs));
  }

  sendOpen(conn: Connection): void {
    this.send(conn.id, this.localOpen);
    this.timer('HoldTimer', OPEN_SENT_HOLD_MS);
    this.setState('OpenSent', `OPEN sent on ${conn.dir === 'out' ? 'our' : "the peer's"} connection`);
  }

  acceptOpen(
    conn: Connection,
    open: OpenMessage,
  ): { notification: NotificationMessage; reason: string } | undefined {
    const check = validateOpen(open, {
      localAs: this.cfg.localAsn,
      localBgpId: this.cfg.routerId,
      ...(this.cfg.peerAsn !== undefined ? { peerAs: this.cfg.peerAsn } : {}),
      ...(this.cfg.dynamicAsn !== undefined ? { dynamicAs: this.cfg.dynamicAsn } : {}),
      ...(this.cfg.requiredCapabilities ? { requiredCapabilities: this.cfg.requiredCapabilities } : {}),
    });
    if (!check.ok) return { notification: check.notification, reason: check.reason };
    conn.peerOpen = open;
    conn.negotiated = negotiate(this.localOpen, open);
    const hold = conn.negotiated.holdTime;
    // RFC 4271 §4.4: no KEEPALIVEs at all when the hold time is zero; §10: one third of it.
    if (hold === 0) delete conn.keepaliveMs;
    else conn.keepaliveMs = Math.min(this.cfg.keepaliveTime ?? hold / 3, hold / 3) * 1000;
    this.send(conn.id, { type: 'keepalive' });
    conn.stage = 'OpenConfirm';
    return undefined;
  }

  armSessionTimers(conn: Connection): void {
    this.timer('HoldTimer', holdMs(conn));
    this.timer('KeepaliveTimer', conn.keepaliveMs);
  }

  established(): void {
    const conn = this.primary!;
    this.restarting = false;
    this.failures = 0;
    this.counters.establishedTransitions++;
    this.timer('HoldTimer', holdMs(conn));
    this.setState('Established', 'KEEPALIVE received');
    if (this.secondary) {
      this.notify(this.secondary.id, collisionResolution());
      this.close(this.secondary.id);
      this.secondary = undefined;
    }
    this.out.push({
      type: 'established',
      conn: conn.id,
      negotiated: conn.negotiated!,
      peerOpen: conn.peerOpen!,
    });
  }

  fail(reason: string, n?: NotificationMessage): void {
    this.teardown(reason, n);
    this.failures++;
    if (this.running) this.timer('IdleHoldTimer', this.retryDelay());
  }

  // RFC 4271 §8.2.2 sends a failed Connect to Idle, where incoming connections are refused
  // until the IdleHoldTimer lets the session start again. A refused dial fails within a
  // millisecond, so a session whose router can reach us (--bgp-listen-port) but not the other
  // way round would refuse nearly every connection of the router's. Waiting in Active instead,
  // as RFC 1771 §8 did and BIRD and FRR do, takes the router's connection while keeping our
  // backoff: the ConnectRetryTimer dials again when it expires (active.ts).
  connectFailed(reason: string): void {
    if (this.primary) this.close(this.primary.id);
    this.primary = undefined;
    this.failures++;
    this.timer('ConnectRetryTimer', this.retryDelay());
    this.setState('Active', reason);
  }

  incomingDuringSession(conn: ConnId): void {
    if (this.secondary) {
      // Two handshakes at once are enough; RFC 4486 §4 Connection Rejected.
      this.notify(conn, cease(CeaseSubcode.CONNECTION_REJECTED));
      this.close(conn);
      return;
    }
    this.secondary = { id: conn, dir: 'in', stage: 'OpenSent' };
    this.send(conn, this.localOpen);
  }

  resolveCollision(): void {
    const a = this.primary;
    const b = this.secondary;
    if (!a?.peerOpen || !b?.peerOpen) return;
    // RFC 4271 §6.8: if our BGP Identifier is lower, keep the connection the peer initiated;
    // otherwise keep ours.
    const keepDir = toU32(this.cfg.routerId) < toU32(b.peerOpen.bgpId) ? 'in' : 'out';
    const keepSecondary = b.dir === keepDir && a.dir !== keepDir;
    this.dropOne(keepSecondary ? a : b);
  }

  // ---- internals ----

  /** Close one of two connections with Cease / Connection Collision Resolution. */
  private dropOne(loser: Connection): void {
    this.notify(loser.id, collisionResolution());
    this.close(loser.id);
    if (loser === this.secondary) {
      this.secondary = undefined;
      return;
    }
    this.promoteSecondary();
  }

  /** The secondary connection takes over the session (its handshake state becomes the FSM's). */
  private promoteSecondary(): void {
    const s = this.secondary!;
    this.secondary = undefined;
    this.primary = s;
    const from = this.current;
    this.current = s.stage;
    if (from !== s.stage)
      this.out.push({
        type: 'state',
        from,
        to: s.stage,
        reason: 'collision: continuing on the other connection',
      });
    if (s.stage === 'OpenConfirm') this.armSessionTimers(s);
    else this.timer('HoldTimer', OPEN_SENT_HOLD_MS);
  }

  private onSecondary(ev: FsmEvent & { conn: ConnId }): void {
    const s = this.secondary!;
    const drop = (n?: NotificationMessage): void => {
      if (n) this.notify(s.id, n);
      this.close(s.id);
      this.secondary = undefined;
    };
    switch (ev.type) {
      case 'BGPOpen': {
        if (s.stage !== 'OpenSent') return drop(cease(CeaseSubcode.CONNECTION_COLLISION_RESOLUTION));
        const err = this.acceptOpen(s, ev.open);
        if (err) return drop(err.notification);
        if (this.primary?.peerOpen) this.resolveCollision();
        return;
      }
      case 'KeepAliveMsg':
        if (s.stage !== 'OpenConfirm') return drop(cease(CeaseSubcode.CONNECTION_COLLISION_RESOLUTION));
        // The peer completed the handshake on this connection while ours still waits for its
        // OPEN: it chose this one.
        this.dropOne(this.primary!);
        this.established();
        return;
      case 'BGPHeaderErr':
      case 'BGPOpenMsgErr':
      case 'UpdateMsgErr':
        return drop(ev.notification);
      default:
        return drop();
    }
  }

  private manualStop(subcode: number, restart: boolean): void {
    if (this.current === 'Idle') {
      // Already down, e.g. the peer's NOTIFICATION came before BFD's Down: a reset of a running
      // session keeps the automatic restart already armed; a stop cancels it.
      if (!restart || !this.running) {
        this.running = false;
        this.timer('IdleHoldTimer', undefined);
      }
      return;
    }
    this.running = restart;
    this.timer('IdleHoldTimer', undefined);
    // RFC 4271 §8.2.2: ManualStop "sends the NOTIFICATION with a Cease" once a connection exists.
    this.teardown(`stopped (Cease subcode ${subcode})`, cease(subcode));
    this.failures = 0;
    if (restart) this.timer('IdleHoldTimer', this.retryDelay());
  }

  private teardown(reason: string, n: NotificationMessage | undefined): void {
    const wasEstablished = this.current === 'Established';
    for (const c of [this.primary, this.secondary]) {
      if (!c) continue;
      // Only a connection that is up can carry a NOTIFICATION.
      if (n && c.stage !== 'Connect' && c.stage !== 'Active') this.notify(c.id, n);
      this.close(c.id);
    }
    const primary = this.primary;
    this.primary = undefined;
    this.secondary = undefined;
    for (const t of ['ConnectRetryTimer', 'HoldTimer', 'KeepaliveTimer'] as const) this.timer(t, undefined);
    if (wasEstablished && primary) this.out.push({ type: 'down', conn: primary.id, reason });
    this.setState('Idle', reason);
  }
}

function describe(n: NotificationMessage): string {
  return `NOTIFICATION ${n.code}/${n.subcode}`;
}
