// The L2 responder's hot paths: decideFrame() (decide.ts) for the common ARP requests and
// Neighbor Solicitations, read from fixed offsets without building strings or a full decode.
// Both return undefined when they are not certain, and the full decoder decides.
import { type FrameDecision } from './decide.js';
import { NEXT_HEADER_ICMPV6, upperLayerChecksum } from '../wire/ipv6.js';
import { ICMPV6_NEIGHBOR_ADVERTISEMENT, ICMPV6_NEIGHBOR_SOLICITATION, NDP_HOP_LIMIT } from '../wire/ndp.js';
import { formatIPv6, formatMac, parseIPv4, parseIPv6 } from '../wire/address.js';
import { ETHERTYPE_ARP, ETHERTYPE_IPV6 } from '../wire/ethernet.js';

//
// ARP is broadcast: every node's socket sees every request on the segment, nearly all of them
// for addresses we do not own. decideArpBytes() reads the few fixed-offset fields of an untagged
// Ethernet II ARP frame (RFC 826 layout, below) and settles the common cases without building
// strings; anything it is not certain about (malformed, VLAN-tagged, an owned sender IP that
// may be a conflict) returns undefined and goes through decodeFrame + decideFrame, which stay
// the reference: for every frame where it answers, the fast path must agree with them
// (responder-fast-path.test.ts checks that over captures, the malformed corpus and random frames).
// TryAnswerArp in speaker/native/src/packet_socket.cc answers exactly the requests
// decideArpBytes answers, with the same bytes, on the socket's thread: change both together.
//   0 dst(6) 6 src(6) 12 type(2)=0x0806 | 14 hrd(2)=1 16 pro(2)=0x0800 18 hln(1)=6 19 pln(1)=4
//   20 op(2) 22 sha(6) 28 spa(4) 32 tha(6) 38 tpa(4) = 42 bytes, then padding.

export const ARP_FRAME_LENGTH = 42;
/** hrd=1 (Ethernet) and pro=0x0800 (IPv4) read as one big-endian word. */
export const ARP_ETHERNET_IPV4 = 0x00010800;
/** hln=6 and pln=4 as one big-endian half-word. */
export const ARP_LENGTHS = 0x0604;

/** Owned IPv4 addresses of one interface keyed by their big-endian value, with their text. */
export type OwnedV4 = ReadonlyMap<number, string>;

export function ownedV4Keys(ips: Iterable<string>): Map<number, string> {
  const out = new Map<number, string>();
  for (const ip of ips) {
    const bytes = parseIPv4(ip);
    if (bytes) out.set(bytes.readUInt32BE(0), ip);
  }
  return out;
}

/**
 * decideFrame for an ARP frame read straight from its bytes, or undefined when the frame
 * needs the full decoder. `mac` is our MAC as 6 bytes.
 */
export function decideArpBytes(bytes: Buffer, mac: Buffer, owned: OwnedV4): FrameDecision | undefined {
  if (bytes.length < ARP_FRAME_LENGTH) return undefined;
  if (bytes.readUInt16BE(12) !== ETHERTYPE_ARP) return undefined;
  if (bytes.readUInt32BE(14) !== ARP_ETHERNET_IPV4 || bytes.readUInt16BE(18) !== ARP_LENGTHS)
    return undefined;
  const op = bytes.readUInt16BE(20);
  if (op !== 1 && op !== 2) return undefined;
  // A group or zero sender MAC is malformed (arp.ts): the decoder counts it.
  if ((bytes[22] ?? 1) & 1 || (bytes.readUInt32BE(22) === 0 && bytes.readUInt16BE(26) === 0))
    return undefined;
  const spa = bytes.readUInt32BE(28);
  const tpa = bytes.readUInt32BE(38);
  const claimed = owned.get(spa);
  if (claimed !== undefined) {
    // Another station asserting an owned IP (decideArp): a reply, or a gratuitous frame, from
    // a MAC not ours. Settled here because anyone can send these at any rate, and the full
    // decoder costs tens of microseconds each; anything else with an owned sender is for it.
    if ((op === 2 || spa === tpa) && bytes.compare(mac, 0, 6, 22, 28) !== 0)
      return { kind: 'conflict', ip: claimed, mac: formatMac(bytes.subarray(22, 28)) };
    return undefined;
  }
  const ip = owned.get(tpa);
  // Replies and gratuitous frames about addresses we do not own, and requests for them.
  if (op !== 1 || spa === tpa || ip === undefined) return IGNORE;
  if (!isBroadcastOrOurs(bytes, mac)) return { kind: 'ignore', ip };
  // The reply encodeArpReply builds: to the requester's hardware address, fields swapped.
  const reply = Buffer.allocUnsafe(ARP_FRAME_LENGTH);
  bytes.copy(reply, 0, 22, 28); // Ethernet destination: the request's sha
  mac.copy(reply, 6);
  reply.writeUInt16BE(ETHERTYPE_ARP, 12);
  reply.writeUInt32BE(ARP_ETHERNET_IPV4, 14);
  reply.writeUInt16BE(ARP_LENGTHS, 18);
  reply.writeUInt16BE(2, 20);
  mac.copy(reply, 22); // sha: ours
  bytes.copy(reply, 28, 38, 42); // spa: the requested IP
  bytes.copy(reply, 32, 22, 32); // tha, tpa: the requester's sha and spa
  return { kind: 'answer', ip, frame: reply };
}

const IGNORE: FrameDecision = { kind: 'ignore' };

// The NDP counterpart: a Neighbor Solicitation in an untagged frame, no extension headers
// (RFC 4861 §4.3; offsets in the frame):
//   12 type(2)=0x86dd | 14 version(4 bits)=6 18 payload length(2) 20 next header=58
//   21 hop limit=255 22 source(16) 38 destination(16) | 54 ICMPv6 type=135 55 code=0
//   56 checksum(2) 58 reserved(4) 62 target(16) 78 options.
// Only what decodeNdpFrame would accept unchanged is answered here; DAD (source ::), NAs and
// anything malformed take the full decoder. TryAnswerNdp in speaker/native/src/packet_socket.cc
// answers exactly these frames on the socket's thread: change both together
// (speaker/native/packet-socket.test.ts compares them frame by frame).

const NS_OFFSET = 54;
const NS_TARGET = 62;
const NS_OPTIONS = 78;
/** Ethernet + IPv6 header + NA + target link-layer option. */
const NA_FRAME_LENGTH = 86;

/** Owned IPv6 addresses of one interface keyed by their 16 bytes (latin1), with their text. */
export type OwnedV6 = ReadonlyMap<string, string>;

export function ownedV6Keys(ips: Iterable<string>): Map<string, string> {
  const out = new Map<string, string>();
  for (const ip of ips) {
    const bytes = parseIPv6(ip);
    // decideFrame compares text: an owned IP not in RFC 5952 form never matches a decoded
    // target, so it must not match here either.
    if (bytes && formatIPv6(bytes) === ip) out.set(bytes.toString('latin1'), ip);
  }
  return out;
}

/**
 * decideFrame for a Neighbor Solicitation read straight from its bytes, or undefined when the
 * frame needs the full decoder. `mac` is our MAC as 6 bytes.
 */
export function decideNdpBytes(bytes: Buffer, mac: Buffer, owned: OwnedV6): FrameDecision | undefined {
  if (bytes.length < NS_OPTIONS || bytes.readUInt16BE(12) !== ETHERTYPE_IPV6) return undefined;
  if ((bytes[14] ?? 0) >> 4 !== 6 || bytes[20] !== NEXT_HEADER_ICMPV6 || bytes[21] !== NDP_HOP_LIMIT)
    return undefined;
  const end = NS_OFFSET + bytes.readUInt16BE(18);
  if (end > bytes.length || end < NS_OPTIONS) return undefined;
  if (bytes[NS_OFFSET] !== ICMPV6_NEIGHBOR_SOLICITATION || bytes[NS_OFFSET + 1] !== 0) return undefined;
  if (bytes[NS_TARGET] === 0xff) return undefined; // multicast target: malformed
  if (isZero(bytes, 22, 38)) return undefined; // DAD
  // Options (§4.6): the first source link-layer option wins; anything odd is for the decoder.
  let sourceLink = -1;
  for (let at = NS_OPTIONS; at < end;) {
    if (at + 2 > end) return undefined;
    const type = bytes[at] ?? 0;
    const units = bytes[at + 1] ?? 0;
    if (units === 0 || at + units * 8 > end) return undefined;
    if (type === 1 || type === 2) {
      if (units !== 1) return undefined;
      if (type === 1 && sourceLink < 0) sourceLink = at + 2;
    }
    at += units * 8;
  }
  const packet = bytes.subarray(NS_OFFSET, end);
  if (upperLayerChecksum(bytes.subarray(22, 38), bytes.subarray(38, 54), NEXT_HEADER_ICMPV6, packet) !== 0)
    return undefined;
  const ip = owned.get(bytes.toString('latin1', NS_TARGET, NS_TARGET + 16));
  if (ip === undefined) return IGNORE;
  // §7.1.1/§7.2.3 as in decideNdp: to the target's solicited-node group (ff02::1:ffXX:XXXX,
  // MAC 33:33:ff:XX:XX:XX), or unicast to the target itself and to our MAC.
  const toGroup =
    bytes.compare(SOLICITED_NODE_PREFIX, 0, 13, 38, 51) === 0 &&
    bytes.compare(bytes, NS_TARGET + 13, NS_TARGET + 16, 51, 54) === 0 &&
    bytes[0] === 0x33 &&
    bytes[1] === 0x33 &&
    bytes.compare(bytes, 50, 54, 2, 6) === 0;
  const toUs =
    !toGroup &&
    bytes.compare(bytes, NS_TARGET, NS_TARGET + 16, 38, 54) === 0 &&
    bytes.compare(mac, 0, 6, 0, 6) === 0;
  if (!toGroup && !toUs) return { kind: 'ignore', ip };
  // The NA answerNeighborSolicitation + encodeNdpFrame build: from the target to the
  // solicitor, S=1 O=1, with our MAC as target link-layer address.
  const na = Buffer.alloc(NA_FRAME_LENGTH);
  if (sourceLink >= 0) bytes.copy(na, 0, sourceLink, sourceLink + 6);
  else bytes.copy(na, 0, 6, 12);
  mac.copy(na, 6);
  na.writeUInt16BE(ETHERTYPE_IPV6, 12);
  na.writeUInt32BE(0x60000000, 14);
  na.writeUInt16BE(NA_FRAME_LENGTH - NS_OFFSET, 18);
  na[20] = NEXT_HEADER_ICMPV6;
  na[21] = NDP_HOP_LIMIT;
  bytes.copy(na, 22, NS_TARGET, NS_TARGET + 16); // source: the target
  bytes.copy(na, 38, 22, 38); // destination: the solicitor
  na[NS_OFFSET] = ICMPV6_NEIGHBOR_ADVERTISEMENT;
  na[NS_OFFSET + 4] = 0x60; // S and O
  bytes.copy(na, NS_TARGET, NS_TARGET, NS_TARGET + 16);
  na[NS_OPTIONS] = 2; // target link-layer address, 1 unit
  na[NS_OPTIONS + 1] = 1;
  mac.copy(na, NS_OPTIONS + 2);
  na.writeUInt16BE(
    upperLayerChecksum(na.subarray(22, 38), na.subarray(38, 54), NEXT_HEADER_ICMPV6, na.subarray(NS_OFFSET)),
    NS_OFFSET + 2,
  );
  return { kind: 'answer', ip, frame: na };
}

/** ff02::1:ff00:0/104 (RFC 4291 §2.7.1). */
const SOLICITED_NODE_PREFIX = Buffer.from([0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff]);

function isZero(bytes: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (bytes[i] !== 0) return false;
  return true;
}

function isBroadcastOrOurs(bytes: Buffer, mac: Buffer): boolean {
  if (bytes.readUInt32BE(0) === 0xffffffff && bytes.readUInt16BE(4) === 0xffff) return true;
  return bytes.compare(mac, 0, 6, 0, 6) === 0;
}
