// Membership's own types: what a heartbeat says and what the state machine asks the edge to do.

/** One heartbeat, as sent by `node` every interval to every peer. */
export interface Heartbeat {
  readonly node: string;
  /** The speaker's start time (ms); a restart gives a larger one and resets the sequence. */
  readonly incarnation: number;
  /** Counts up within an incarnation; an older or repeated one is a replay and is dropped. */
  readonly seq: number;
  /** Every interface this node announces on has carrier. */
  readonly linkUp: boolean;
  /** The ARP/NDP responder is running and its self-check passes. */
  readonly responderOk: boolean;
  /** The node has listened for a full failure window since it started (knows the claims). */
  readonly ready: boolean;
  /** Sent once on SIGTERM: drop me now, take my IPs over. */
  readonly leaving: boolean;
  /** IP (canonical text) → term: the IPs this node owns. */
  readonly claims: ReadonlyMap<string, number>;
}

/** A speaker to exchange heartbeats with, from the Node objects (or Leases) of speaker nodes. */
export interface Peer {
  readonly name: string;
  /** The node's InternalIP; the edge sends to address:port. */
  readonly address: string;
}

export type MemberState = 'unknown' | 'alive' | 'dead' | 'left';

export interface MemberChange {
  readonly node: string;
  readonly from: MemberState;
  readonly to: MemberState;
}

export interface Outgoing {
  readonly peer: Peer;
  /** The same object for every peer of one tick: the edge encodes it once. */
  readonly heartbeat: Heartbeat;
}

export interface TickResult {
  readonly send: readonly Outgoing[];
  readonly changes: readonly MemberChange[];
  /** Call tick again no later than this (ms, same clock as `now`). */
  readonly nextDeadline: number;
}

export interface LocalHealth {
  readonly linkUp: boolean;
  readonly responderOk: boolean;
}

export type HeartbeatVerdict =
  | { readonly accepted: true; readonly changes: readonly MemberChange[] }
  | { readonly accepted: false; readonly reason: 'unknown-peer' | 'self' | 'stale-incarnation' | 'replay' };
