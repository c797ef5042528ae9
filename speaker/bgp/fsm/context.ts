// What the per-state handlers may do to the FSM. BgpFsm (fsm.ts) implements it; the state files
// only see this interface, so each file reads as the RFC 4271 §8.2.2 text for its state.

import type { KeepaliveMessage, NotificationMessage, OpenMessage } from '../wire/messages.js';
import type { Negotiated } from '../wire/open.js';
import type { ConnId, FsmCounters, FsmEvent, State, TimerName } from './types.js';

/** One TCP connection and how far the BGP handshake on it has got. */
export interface Connection {
  id: ConnId;
  /** Who opened it: matters for collision resolution (RFC 4271 §6.8). */
  dir: 'out' | 'in';
  stage: State;
  peerOpen?: OpenMessage;
  negotiated?: Negotiated;
  /** KEEPALIVE interval (ms) once the OPENs are exchanged; undefined when the hold time is 0. */
  keepaliveMs?: number;
}

export type StateHandler = (fsm: FsmContext, ev: FsmEvent) => void;

export interface FsmContext {
  readonly state: State;
  readonly now: number;
  readonly passive: boolean;
  readonly counters: FsmCounters;
  /** The connection the session runs on (or is trying to open). */
  primary: Connection | undefined;
  /** A second connection during the OPEN exchange (RFC 4271 §6.8), in OpenSent or OpenConfirm. */
  secondary: Connection | undefined;
  setState(to: State, reason: string): void;
  /** Start (ms from now) or cancel (undefined) a timer. */
  timer(name: TimerName, ms: number | undefined): void;
  send(conn: ConnId, message: OpenMessage | KeepaliveMessage | NotificationMessage): void;
  notify(conn: ConnId, notification: NotificationMessage): void;
  close(conn: ConnId): void;
  /** Open an outgoing connection and enter Connect. */
  connect(): void;
  /** Send our OPEN on a connection that just came up (RFC 4271 §8.2.2 Connect/Active, Event 16/17). */
  sendOpen(conn: Connection): void;
  /** Validate the peer's OPEN (RFC 4271 §6.2); on success answer with KEEPALIVE and move `conn`
   * to OpenConfirm. On failure nothing is done and the NOTIFICATION to send is returned. */
  acceptOpen(
    conn: Connection,
    open: OpenMessage,
  ): { notification: NotificationMessage; reason: string } | undefined;
  /** Arm HoldTimer and KeepaliveTimer from what `conn` negotiated. */
  armSessionTimers(conn: Connection): void;
  established(): void;
  /** Tear the session down and go to Idle; sends `notification` on every open connection first. */
  fail(reason: string, notification?: NotificationMessage): void;
  /**
   * Our connection attempt failed: wait out the ConnectRetryTimer in Active, where the peer's
   * own connection is still accepted, and dial again when it expires.
   */
  connectFailed(reason: string): void;
  /** A second incoming connection while the first is in OpenSent/OpenConfirm/Established. */
  incomingDuringSession(conn: ConnId): void;
  /** Keep one of primary/secondary when both have the peer's OPEN (RFC 4271 §6.8). */
  resolveCollision(): void;
  /** Connect-retry delay with exponential backoff. */
  retryDelay(): number;
  readonly connectTimeoutMs: number;
}
