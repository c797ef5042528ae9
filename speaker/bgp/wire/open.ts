// Building our OPEN, checking the peer's (RFC 4271 §6.2) and deriving what the two OPENs
// negotiated. Pure functions: the session decides when to call them.

import { parseIPv4 } from './address.js';
import { AS_TRANS, EXTENDED_MAX_MESSAGE_SIZE, MAX_MESSAGE_SIZE } from './constants.js';
import { encodeCapabilities } from './encode.js';
import type { Capability, CodecContext, NotificationMessage, OpenMessage } from './messages.js';
import { notification } from './messages.js';
import { ErrorCode, OpenSubcode } from './notification-codes.js';

export interface OpenOptions {
  /** Our 4-octet ASN. */
  asn: number;
  holdTime: number;
  bgpId: string;
  /** The four-octet-as capability is added when absent (RFC 6793 §3: NEW speakers always send it). */
  capabilities: Capability[];
}

export function buildOpen(o: OpenOptions): OpenMessage {
  const caps = o.capabilities.some((c) => c.kind === 'four-octet-as')
    ? o.capabilities
    : [...o.capabilities, { kind: 'four-octet-as' as const, asn: o.asn }];
  // RFC 6793 §3: My Autonomous System carries AS_TRANS when the ASN needs 4 octets.
  return {
    type: 'open',
    version: 4,
    myAs: o.asn > 0xffff ? AS_TRANS : o.asn,
    holdTime: o.holdTime,
    bgpId: o.bgpId,
    capabilities: caps,
  };
}

/** The peer's real ASN: the 4-octet capability's when present, else My Autonomous System. */
export function peerAsn(open: OpenMessage): number {
  const cap = open.capabilities.find((c) => c.kind === 'four-octet-as');
  return cap ? cap.asn : open.myAs;
}

export interface OpenExpectations {
  localAs: number;
  localBgpId: string;
  /** The configured peer ASN; undefined accepts any (then only AS 0 is refused), or any of
   * the kind `dynamicAs` says. */
  peerAs?: number;
  /** Without `peerAs` (a BGPPeer's dynamicASN): `internal` accepts only our own AS (an
   * internal peer, RFC 4271 §1.1), `external` only another one. */
  dynamicAs?: 'internal' | 'external';
  /** Capabilities we refuse to run without (RFC 5492 §5), e.g. multiprotocol IPv6 unicast. */
  requiredCapabilities?: Capability[];
}

export type OpenCheck =
  { ok: true; peerAs: number } | { ok: false; notification: NotificationMessage; reason: string };

function fail(subcode: number, reason: string, data?: Buffer): OpenCheck {
  return {
    ok: false,
    notification: notification(ErrorCode.OPEN_MESSAGE, subcode, data),
    reason: `OPEN: ${reason}`,
  };
}

function sameCapability(a: Capability, b: Capability): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === 'multiprotocol' && b.kind === 'multiprotocol') return a.afi === b.afi && a.safi === b.safi;
  if (a.kind === 'unknown' && b.kind === 'unknown') return a.code === b.code;
  return true;
}

/** RFC 4271 §6.2 checks in the RFC's order; returns the NOTIFICATION to send when one fails. */
export function validateOpen(open: OpenMessage, exp: OpenExpectations): OpenCheck {
  // RFC 4271 §6.2: the data is the largest version we support, as 2 octets.
  if (open.version !== 4)
    return fail(OpenSubcode.UNSUPPORTED_VERSION, `version ${open.version}, want 4`, Buffer.from([0, 4]));
  const asn = peerAsn(open);
  // RFC 7607 §2: AS 0 is never a valid peer AS.
  if (asn === 0) return fail(OpenSubcode.BAD_PEER_AS, 'peer AS is 0');
  if (exp.peerAs !== undefined && asn !== exp.peerAs)
    return fail(OpenSubcode.BAD_PEER_AS, `peer AS is ${asn}, configured ${exp.peerAs}`);
  if (exp.peerAs === undefined && exp.dynamicAs === 'internal' && asn !== exp.localAs)
    return fail(
      OpenSubcode.BAD_PEER_AS,
      `peer AS is ${asn}, not our AS ${exp.localAs}: dynamicASN internal accepts only an internal peer`,
    );
  if (exp.peerAs === undefined && exp.dynamicAs === 'external' && asn === exp.localAs)
    return fail(
      OpenSubcode.BAD_PEER_AS,
      `peer AS is ${asn}, our own AS: dynamicASN external accepts only an external peer`,
    );
  // RFC 4271 §4.2: zero (no keepalives) or at least three seconds.
  if (open.holdTime === 1 || open.holdTime === 2)
    return fail(OpenSubcode.UNACCEPTABLE_HOLD_TIME, `hold time ${open.holdTime}s, want 0 or at least 3`);
  // RFC 6286 §2.2: zero is invalid, and an internal peer may not reuse our identifier.
  if (open.bgpId === '0.0.0.0') return fail(OpenSubcode.BAD_BGP_IDENTIFIER, 'BGP identifier is 0.0.0.0');
  if (asn === exp.localAs && parseIPv4(open.bgpId).equals(parseIPv4(exp.localBgpId)))
    return fail(OpenSubcode.BAD_BGP_IDENTIFIER, `internal peer uses our own BGP identifier ${open.bgpId}`);
  const other = open.otherParameters ?? [];
  if (other.length > 0)
    return fail(
      OpenSubcode.UNSUPPORTED_OPTIONAL_PARAMETER,
      `optional parameter type ${other[0]!.type} is not supported`,
    );
  // RFC 5492 §5: the data lists the capabilities we need and the peer did not advertise.
  const missing = (exp.requiredCapabilities ?? []).filter(
    (req) => !open.capabilities.some((c) => sameCapability(c, req)),
  );
  if (missing.length > 0)
    return fail(
      OpenSubcode.UNSUPPORTED_CAPABILITY,
      `peer lacks capabilities ${missing.map((c) => c.kind).join(', ')}`,
      encodeCapabilities(missing),
    );
  return { ok: true, peerAs: asn };
}

export interface Negotiated {
  context: CodecContext;
  /** RFC 4271 §4.2: the smaller of the two hold times. */
  holdTime: number;
  /** Multiprotocol families both sides advertised; a side that sends none offers IPv4 unicast (RFC 4760 §8). */
  families: { afi: number; safi: number }[];
}

export function negotiate(local: OpenMessage, remote: OpenMessage): Negotiated {
  const both = (kind: Capability['kind']) =>
    local.capabilities.some((c) => c.kind === kind) && remote.capabilities.some((c) => c.kind === kind);
  const mp = (o: OpenMessage) =>
    o.capabilities.filter(
      (c): c is Extract<Capability, { kind: 'multiprotocol' }> => c.kind === 'multiprotocol',
    );
  const localMp = mp(local);
  const remoteMp = mp(remote);
  // A side that advertises no multiprotocol capability speaks IPv4 unicast only (RFC 4760 §8,
  // as BIRD and FRR treat a peer without capabilities): that family is then common if the
  // other side offers it too (or offers nothing).
  const offers = (own: typeof localMp) => (own.length === 0 ? [{ afi: 1, safi: 1 }] : own);
  const families = offers(localMp)
    .filter((l) => offers(remoteMp).some((r) => r.afi === l.afi && r.safi === l.safi))
    .map((c) => ({ afi: c.afi, safi: c.safi }));
  const asn = peerAsn(remote);
  const localAsn = peerAsn(local);
  return {
    context: {
      fourOctetAs: both('four-octet-as'),
      maxMessageSize: both('extended-message') ? EXTENDED_MAX_MESSAGE_SIZE : MAX_MESSAGE_SIZE,
      external: asn !== localAsn,
    },
    holdTime: Math.min(local.holdTime, remote.holdTime),
    families,
  };
}
