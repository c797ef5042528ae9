// BGP messages as plain typed objects, discriminated by `type`. Encoders take these, decoders
// return them; nothing here knows about sockets or sessions.

import type { OriginCode } from './constants.js';
import type { Prefix } from './prefix.js';

/** RFC 5492 capabilities; anything not modelled is kept as `unknown` with its raw value. */
export type Capability =
  /** RFC 4760 §8 */
  | { kind: 'multiprotocol'; afi: number; safi: number }
  /** RFC 2918 §2 */
  | { kind: 'route-refresh' }
  /** RFC 7313 §3 */
  | { kind: 'enhanced-route-refresh' }
  /** RFC 8654 §3 */
  | { kind: 'extended-message' }
  /** RFC 6793 §3 */
  | { kind: 'four-octet-as'; asn: number }
  /** RFC 4724 §3 (N bit: RFC 8538 §2) */
  | {
      kind: 'graceful-restart';
      /** R bit: the sender has restarted and its peer should not wait for its End-of-RIB before sending. */
      restarting: boolean;
      /** N bit: graceful restart also covers NOTIFICATION messages. */
      notification: boolean;
      /** Seconds, 12 bits. */
      restartTime: number;
      families: GracefulRestartFamily[];
    }
  | { kind: 'unknown'; code: number; data: Buffer };

export interface GracefulRestartFamily {
  afi: number;
  safi: number;
  /** F bit: forwarding state for this family was preserved across the restart. */
  forwardingState: boolean;
}

export interface OpenMessage {
  type: 'open';
  version: number;
  /** The 2-octet My Autonomous System field: AS_TRANS (23456) when the real ASN is above 65535. */
  myAs: number;
  holdTime: number;
  /** Dotted quad. */
  bgpId: string;
  capabilities: Capability[];
  /** Optional parameters other than Capabilities (RFC 4271 §4.2); present only when received. */
  otherParameters?: { type: number; data: Buffer }[];
}

export type AsPathSegmentKind = 'set' | 'sequence' | 'confed-sequence' | 'confed-set';

export interface AsPathSegment {
  type: AsPathSegmentKind;
  asns: number[];
}

/** RFC 8092 §3 */
export interface LargeCommunity {
  global: number;
  local1: number;
  local2: number;
}

/** RFC 4760 §3 for IPv4/IPv6 unicast. RFC 2545 §3: an IPv6 next hop is 16 octets, or 32 when a
 * link-local address follows the global one. An IPv4 next hop (AFI 1) is 4 octets. */
export interface MpReach {
  family: 4 | 6;
  nextHop: string;
  linkLocalNextHop?: string;
  nlri: Prefix[];
}

/** RFC 4760 §4 for IPv4/IPv6 unicast. */
export interface MpUnreach {
  family: 4 | 6;
  withdrawn: Prefix[];
}

/** An attribute kept as received: unknown ones, and known ones this codec does not model
 * (ORIGINATOR_ID, extended communities, MP_REACH of other AFI/SAFIs, ...). */
export interface RawAttribute {
  /** Attribute Flags octet (AttrFlag); Extended Length is set on encode whenever the value needs it. */
  flags: number;
  typeCode: number;
  value: Buffer;
}

export interface PathAttributes {
  origin?: OriginCode;
  asPath?: AsPathSegment[];
  /** IPv4 NEXT_HOP (dotted quad). */
  nextHop?: string;
  med?: number;
  localPref?: number;
  atomicAggregate?: boolean;
  aggregator?: { asn: number; address: string };
  /** RFC 1997 communities as 32-bit numbers (asn << 16 | value). */
  communities?: number[];
  largeCommunities?: LargeCommunity[];
  mpReach?: MpReach;
  mpUnreach?: MpUnreach;
  other?: RawAttribute[];
}

export interface UpdateMessage {
  type: 'update';
  /** IPv4 Withdrawn Routes field. */
  withdrawn: Prefix[];
  attributes: PathAttributes;
  /** IPv4 NLRI field. */
  nlri: Prefix[];
}

export interface NotificationMessage {
  type: 'notification';
  code: number;
  subcode: number;
  data: Buffer;
}

export interface KeepaliveMessage {
  type: 'keepalive';
}

/** RFC 2918 §3, with the RFC 7313 §3 Message Subtype in the formerly reserved octet. */
export interface RouteRefreshMessage {
  type: 'route-refresh';
  afi: number;
  safi: number;
  subtype: number;
}

export type BgpMessage =
  OpenMessage | UpdateMessage | NotificationMessage | KeepaliveMessage | RouteRefreshMessage;

/** What a session negotiated that changes the wire format. */
export interface CodecContext {
  /** RFC 6793: both sides advertised the 4-octet AS capability (AS_PATH/AGGREGATOR carry 4-octet ASNs). */
  fourOctetAs: boolean;
  /** 4096, or 65535 when both sides advertised Extended Messages (RFC 8654). */
  maxMessageSize: number;
  /** The peer is in another AS: LOCAL_PREF from it is discarded (RFC 7606 §7.5). */
  external?: boolean;
}

export function notification(
  code: number,
  subcode: number,
  data: Buffer = Buffer.alloc(0),
): NotificationMessage {
  return { type: 'notification', code, subcode, data };
}
