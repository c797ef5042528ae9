// The membership protocol's messages, as the pure state machine (member.ts) sees them; the
// datagram encoding and its authentication are datagram.ts's.

/**
 * What a node is, as gossip says: SWIM's alive/dead, plus left (a clean SIGTERM exit) and
 * restarting (a SIGTERM after which the node's speaker comes back: a DaemonSet rollout). A
 * restarting node answers nothing, but stays the owner of its IPs for `holdMs`, so they do not
 * move away and back (layer 2 graceful restart, README.md).
 */
export type MemberStatus = 'alive' | 'restarting' | 'dead' | 'left';

/** The longest hold a restarting rumour can carry (16 bits of milliseconds on the wire). */
export const maxRestartHoldMs = 0xffff;

/** A hold as the wire carries it: whole milliseconds, 0..maxRestartHoldMs. */
export function wireHoldMs(ms: number): number {
  return Math.min(maxRestartHoldMs, Math.max(0, Math.round(ms)));
}

/**
 * One piece of membership news about `node`. Newer beats older by (incarnation, status):
 * a higher incarnation wins; at equal incarnation left beats dead beats restarting beats
 * alive. Only `node` itself raises its incarnation (on start, on a health change, to refute a
 * death).
 */
export interface Rumour {
  readonly node: string;
  readonly incarnation: number;
  readonly status: MemberStatus;
  /** With `alive`: the node's data plane works (link up, responder working). */
  readonly healthy: boolean;
  /** With `restarting`: how long the node stays the owner of its IPs without answering. */
  readonly holdMs?: number;
}

interface Envelope {
  readonly from: string;
  /** The sender's current incarnation: every message is also proof that it is alive. */
  readonly incarnation: number;
  /** Per sender, counting up; a receiver drops repeats (replays). */
  readonly seq: number;
  /** The sender's data-plane health at this incarnation. */
  readonly healthy: boolean;
  /** Piggybacked gossip, at most what fits in one datagram. */
  readonly rumours: readonly Rumour[];
}

/** Sent every interval to each ring monitor; `monitor: false` asks the receiver to stop. */
export interface HeartbeatMessage extends Envelope {
  readonly kind: 'heartbeat';
  readonly monitor: boolean;
}

/** Answers a heartbeat (by its seq): renews the sender's lease (lease.ts). */
export interface AckMessage extends Envelope {
  readonly kind: 'ack';
  readonly ack: number;
}

/** A (re)joining node asks every peer to apply it as alive before it answers anything. */
export interface SyncMessage extends Envelope {
  readonly kind: 'sync';
}

/** The peer applied the joiner (and stopped answering what the joiner now owns). */
export interface SyncAckMessage extends Envelope {
  readonly kind: 'sync-ack';
  /** The joiner's incarnation that was applied. */
  readonly joined: number;
}

/** Gossip only: fast spread of news, probes of peers believed dead. */
export interface PushMessage extends Envelope {
  readonly kind: 'push';
}

export type Message = HeartbeatMessage | AckMessage | SyncMessage | SyncAckMessage | PushMessage;

export interface Outgoing {
  readonly to: string;
  readonly message: Message;
}

/** Why a received message was not used (metrics: drops by reason). */
export type DropReason = 'self' | 'unknown-peer' | 'stale-incarnation' | 'replay' | 'left' | 'stopped';

/** Bytes of one rumour on the wire (datagram.ts): name length byte + name + 8 + 1 (+ 2 hold). */
export function rumourBytes(r: Rumour): number {
  return 1 + Buffer.byteLength(r.node, 'utf8') + 8 + 1 + (r.status === 'restarting' ? 2 : 0);
}

/** Every datagram fits one Ethernet frame without fragmentation (1500 − IPv6 40 − UDP 8, rounded down). */
export const maxDatagramBytes = 1400;

/** Bytes of a message without its rumours (datagram.ts: fixed header, sender name, count, MAC). */
export function envelopeBytes(from: string): number {
  return fixedHeaderBytes + Buffer.byteLength(from, 'utf8') + 1 + macBytes;
}

/** magic 4, version 1, kind 1, flags 1, name length 1, incarnation 8, seq 4, sent-at 8, extra 8. */
export const fixedHeaderBytes = 36;
/** HMAC-SHA256 truncated to 128 bits (RFC 2104 §5 allows truncation to at least half). */
export const macBytes = 16;

export function messageBytes(m: Message): number {
  let n = envelopeBytes(m.from);
  for (const r of m.rumours) n += rumourBytes(r);
  return n;
}
