// What one BGP session of this node is, derived from a BGPPeer and this node's Node object:
// every field the session's OPEN, TCP connection and timers depend on, resolved (defaults
// applied). Two specs with the same key are the same session; a different key means the
// session must be reset (a new OPEN), which is how a changed session-level field takes effect
// without touching the node's other sessions. Pure.

import { crc32 } from 'node:zlib';
import type { BFDProfile, BGPPeer } from '../../../lib/config/types.js';
import { formatIP } from '../../../lib/ip/index.js';
import type { SpeakerNode } from '../../cluster/objects.js';

/** RFC 4271 §4.2 suggests 90 s; MetalLB's native speaker uses it when holdTime is unset. */
export const DEFAULT_HOLD_TIME = 90;
/** RFC 4724 §3 Restart Time we advertise: how long a router keeps our routes after we drop;
 * FRR's default, which MetalLB's FRR mode uses. */
export const GRACEFUL_RESTART_TIME = 120;
/** TTL for ebgpMultiHop sessions (FRR's `ebgp-multihop` without a hop count). */
export const MULTIHOP_TTL = 255;

export interface SessionSpec {
  /** The BGPPeer's name: the session's identity in the manager and in logs. */
  readonly name: string;
  readonly peerAddress: string;
  readonly port: number;
  readonly localAsn: number;
  /** The BGPPeer's peerASN; undefined with dynamicASN. */
  readonly peerAsn?: number;
  /** The BGPPeer's dynamicASN (when it has no peerASN): which peer AS the OPEN may carry. */
  readonly dynamicAsn?: 'internal' | 'external';
  readonly routerId: string;
  /** Seconds offered in our OPEN. */
  readonly holdTime: number;
  readonly keepaliveTime?: number;
  /** connectTime, in ms: the fixed interval between connection attempts. */
  readonly connectRetryMs?: number;
  readonly localAddress?: string;
  readonly password?: string;
  readonly ttl?: number;
  readonly gracefulRestart: boolean;
  readonly bfdProfile?: BFDProfile;
}

/**
 * The BGP Identifier when the BGPPeer gives no routerID: this node's first IPv4 InternalIP
 * (unique per node in a cluster), else an IPv4 sourceAddress, else MetalLB's last resort, the
 * CRC32 of the node name as a dotted quad.
 */
export function defaultRouterId(peer: BGPPeer, node: SpeakerNode | undefined, nodeName: string): string {
  const v4 = node?.internalIPs.find((ip) => ip.family === 4);
  if (v4) return formatIP(v4);
  if (peer.sourceAddress !== undefined && !peer.sourceAddress.includes(':')) return peer.sourceAddress;
  const n = crc32(nodeName) || 1; // 0.0.0.0 is not a valid identifier (RFC 6286 §2.1)
  return [24, 16, 8, 0].map((s) => (n >>> s) & 0xff).join('.');
}

/**
 * The hold time to offer and the keepalive interval, as MetalLB's config parser resolves them
 * (MetalLB's internal/config/config.go, and the BGPPeer CRD text): holdTime when given; else
 * 3 x keepaliveTime when that is given; else 90 s. keepaliveTime 0 sends none of its own
 * (the FSM then uses hold / 3, RFC 4271 §10), so it is left out.
 */
export function sessionTimers(peer: Pick<BGPPeer, 'holdTime' | 'keepaliveTime'>): {
  holdTime: number;
  keepaliveTime?: number;
} {
  const keepalive = peer.keepaliveTime;
  const holdTime = peer.holdTime ?? (keepalive !== undefined ? 3 * keepalive : DEFAULT_HOLD_TIME);
  return { holdTime, ...(keepalive !== undefined && keepalive > 0 ? { keepaliveTime: keepalive } : {}) };
}

export function sessionSpec(peer: BGPPeer, node: SpeakerNode | undefined, nodeName: string): SessionSpec {
  // AS 0 is reserved (RFC 7607) and MetalLB's peerASN is a plain uint32: 0 reads as unset.
  const peerAsn = peer.peerASN !== undefined && peer.peerASN !== 0 ? peer.peerASN : undefined;
  const dynamicAsn = peerAsn === undefined ? peer.dynamicASN : undefined;
  return {
    name: peer.ref.name,
    peerAddress: peer.peerAddress,
    port: peer.peerPort,
    localAsn: peer.myASN,
    ...(peerAsn !== undefined ? { peerAsn } : {}),
    ...(dynamicAsn !== undefined ? { dynamicAsn } : {}),
    routerId: peer.routerID ?? defaultRouterId(peer, node, nodeName),
    ...sessionTimers(peer),
    ...(peer.connectTime !== undefined ? { connectRetryMs: peer.connectTime * 1000 } : {}),
    ...(peer.sourceAddress !== undefined ? { localAddress: peer.sourceAddress } : {}),
    ...(peer.password !== undefined ? { password: peer.password } : {}),
    ...(peer.ebgpMultiHop ? { ttl: MULTIHOP_TTL } : {}),
    gracefulRestart: peer.enableGracefulRestart,
    ...(peer.bfdProfile !== undefined ? { bfdProfile: peer.bfdProfile } : {}),
  };
}

/** Everything that needs a new OPEN (or a new TCP connection) when it changes. The BFD profile
 * is not in it: BFD runs beside the session and is replaced on its own. */
export function sessionKey(s: SessionSpec): string {
  const { bfdProfile: _bfd, name: _name, ...session } = s;
  return JSON.stringify(session, Object.keys(session).sort());
}

/** The `peer` label of the metrics: MetalLB's native speaker uses "ip:port". */
export function peerLabel(s: Pick<SessionSpec, 'peerAddress' | 'port'>): string {
  return s.peerAddress.includes(':') ? `[${s.peerAddress}]:${s.port}` : `${s.peerAddress}:${s.port}`;
}
