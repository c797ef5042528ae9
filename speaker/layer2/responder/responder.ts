// The L2 responder: answers ARP (RFC 826) and Neighbor Solicitations (RFC 4861 §7.2.3-7.2.4)
// for the Service IPs this node owns, from userspace, on AF_PACKET sockets.
//
// Three parts:
//  - decideFrame(): pure. Given one decoded frame, our MAC and the owned set, say whether to
//    answer (and with which bytes), report a duplicate responder, or ignore it.
//  - decideArpBytes() / decideNdpBytes(): the hot paths, pure too. The same decision for the
//    common frames read from fixed offsets (no strings, no full decode), or "not sure", and
//    arpFilter(), a socket filter that keeps ARP for other addresses in the kernel.
//  - Responder: the edge. It places each owned IP on its interfaces (interfaces.ts), keeps one
//    ARP socket and one IPv6 socket per interface that has IPs of that family, joins the
//    solicited-node group of each owned IPv6 address, and counts what it sees. Both sockets
//    answer the common request itself, on a native thread, from the owned set it is given
//    (the same answers as decideArpBytes and decideNdpBytes, see
//    speaker/native/src/packet_socket.cc for why); every other frame still comes here.
//
// NDP choices, RFC 4861 §7.2.4:
//  - Unicast NS (neighbour unreachability detection, §7.3.1) to the Service IP are answered
//    like multicast ones; MetalLB drops them (its issue 2920), which makes clients whose cache
//    entry went STALE fall back to multicast solicitation and lose time.
//  - O=1 (override). §7.2.4 asks for O=0 for anycast and proxied addresses. A Service IP is
//    neither: it is a unicast address assigned to this node (kube-proxy puts it on a local
//    device), and exactly one node answers for it at a time. O=1 also lets a solicited NA
//    replace a stale entry pointing at the previous owner instead of waiting for it to fail.
//  - S=1 for a solicitor with an address; to ff02::1 with S=0 for DAD (source ::).
//  - The NA is sourced from the Service IP itself, not from our link-local address: Linux
//    accepts both, but some tools (ndisc6) ignore an NA for a global target from a link-local
//    source (docs/lab.md), and the Service IP is ours while we own it.
import { encodeArpReply } from '../wire/arp.js';
import { type L2Frame, type L2MalformedReason, decodeFrame } from '../wire/frame.js';
import {
  NEXT_HEADER_ICMPV6,
  multicastMac,
  solicitedNodeMulticast,
  upperLayerChecksum,
} from '../wire/ipv6.js';
import {
  ICMPV6_NEIGHBOR_ADVERTISEMENT,
  ICMPV6_NEIGHBOR_SOLICITATION,
  NDP_HOP_LIMIT,
  answerNeighborSolicitation,
  encodeNdpFrame,
} from '../wire/ndp.js';
import { type EligibleInterface, type InterfaceSnapshot, interfacesForIp } from './interfaces.js';
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6, parseMac } from '../wire/address.js';
import { BROADCAST_MAC, ETHERTYPE_ARP, ETHERTYPE_IPV6 } from '../wire/ethernet.js';
import {
  ETH_P_ARP,
  ETH_P_IPV6,
  NDP_FILTER,
  PacketSocket,
  type BpfInstruction,
  type PacketSocketOptions,
} from '../../native/index.js';

// --- The pure part ------------------------------------------------------------------------

export type FrameDecision =
  /** Send `frame` back on the interface it came from. */
  | { kind: 'answer'; ip: string; frame: Buffer }
  /** Another station claims `ip`, which we own, with `mac`. */
  | { kind: 'conflict'; ip: string; mac: string }
  /** Not for us; `ip` is set when it was a request for an owned IP that we must not answer. */
  | { kind: 'ignore'; ip?: string };

export interface FrameContext {
  /** Our MAC on the interface the frame arrived on. */
  mac: string;
  /** Whether we own `ip` on this interface. */
  owns: (ip: string) => boolean;
}

/** What to do with one well-formed frame. */
export function decideFrame(frame: L2Frame, ctx: FrameContext): FrameDecision {
  return frame.protocol === 'arp' ? decideArp(frame, ctx) : decideNdp(frame, ctx);
}

function decideArp(frame: L2Frame & { protocol: 'arp' }, ctx: FrameContext): FrameDecision {
  // Someone else asserting an owned IP: an ARP reply, or a gratuitous request (RFC 5227 §2.3
  // Announcement), whose sender is the IP and whose sender MAC is not ours.
  if (
    ctx.owns(frame.senderIp) &&
    frame.senderMac !== ctx.mac &&
    (frame.operation === 'reply' || frame.gratuitous)
  ) {
    return { kind: 'conflict', ip: frame.senderIp, mac: frame.senderMac };
  }
  if (frame.operation !== 'request' || frame.gratuitous || !ctx.owns(frame.targetIp))
    return { kind: 'ignore' };
  // Only requests that were broadcast or sent to us (MetalLB does the same): a unicast request
  // to another MAC is that station's to answer.
  if (frame.ethernetDestination !== BROADCAST_MAC && frame.ethernetDestination !== ctx.mac) {
    return { kind: 'ignore', ip: frame.targetIp };
  }
  // Probes (sender 0.0.0.0, RFC 5227 §2.1.1) are answered too: that defends the address.
  return { kind: 'answer', ip: frame.targetIp, frame: encodeArpReply({ request: frame, mac: ctx.mac }) };
}

function decideNdp(frame: L2Frame & { protocol: 'ndp' }, ctx: FrameContext): FrameDecision {
  const message = frame.message;
  if (message.type === 'neighbor-advertisement') {
    const mac = message.targetLinkAddress ?? frame.ethernetSource;
    if (ctx.owns(message.target) && mac !== ctx.mac) return { kind: 'conflict', ip: message.target, mac };
    return { kind: 'ignore' };
  }
  const target = message.target;
  if (!ctx.owns(target)) return { kind: 'ignore' };
  // §7.1.1 and §7.2.3: an NS is for us when sent to the target's solicited-node group or, for
  // unicast NUD probes, to the target itself and to our MAC.
  const group = solicitedNodeMulticast(target);
  const toGroup = frame.destination === group && frame.ethernetDestination === multicastMac(group);
  const toUs = frame.destination === target && frame.ethernetDestination === ctx.mac;
  if (!toGroup && !toUs) return { kind: 'ignore', ip: target };
  const answer = answerNeighborSolicitation(frame, ctx.mac);
  const bytes = encodeNdpFrame({
    source: target,
    destination: answer.destination,
    message: answer.message,
    ethernetSource: ctx.mac,
    ethernetDestination: answer.ethernetDestination,
  });
  return { kind: 'answer', ip: target, frame: bytes };
}

/** Decode failures that only mean "not NDP/ARP", which a packet socket may still see. */
const NOT_OURS: ReadonlySet<L2MalformedReason> = new Set<L2MalformedReason>([
  'unsupported-ethertype',
  'not-arp',
  'not-ipv6-ethertype',
  'not-icmpv6',
  'not-neighbor-discovery',
]);

// --- The hot paths -------------------------------------------------------------------------
//
// ARP is broadcast: every node's socket sees every request on the segment, nearly all of them
// for addresses we do not own. decideArpBytes() reads the few fixed-offset fields of an untagged
// Ethernet II ARP frame (RFC 826 layout, below) and settles the common cases without building
// strings; anything it is not certain about (malformed, VLAN-tagged, an owned sender IP that
// may be a conflict) returns undefined and goes through decodeFrame + decideFrame, which stay
// the reference: for every frame where it answers, the fast path must agree with them
// (responder-fast-path.test.ts checks that over captures, the malformed corpus and random frames).
//   0 dst(6) 6 src(6) 12 type(2)=0x0806 | 14 hrd(2)=1 16 pro(2)=0x0800 18 hln(1)=6 19 pln(1)=4
//   20 op(2) 22 sha(6) 28 spa(4) 32 tha(6) 38 tpa(4) = 42 bytes, then padding.

const ARP_FRAME_LENGTH = 42;
/** hrd=1 (Ethernet) and pro=0x0800 (IPv4) read as one big-endian word. */
const ARP_ETHERNET_IPV4 = 0x00010800;
/** hln=6 and pln=4 as one big-endian half-word. */
const ARP_LENGTHS = 0x0604;

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
  // An owned sender may be a duplicate responder: the full decision reports it.
  if (owned.has(spa)) return undefined;
  const tpa = bytes.readUInt32BE(38);
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

// Classic BPF (linux/filter.h) opcodes for arpFilter.
const BPF_LD_W_LEN = 0x80; // ld len
const BPF_LD_W_ABS = 0x20; // ld [k]
const BPF_LD_H_ABS = 0x28; // ldh [k]
const BPF_LD_B_ABS = 0x30; // ldb [k]
const BPF_JEQ_K = 0x15;
const BPF_JGE_K = 0x35;
const BPF_JSET_K = 0x45;
const BPF_RET_K = 0x06;
const BPF_ACCEPT = 0xffff;
/** Beyond this many owned IPv4s on one interface the program would pass BPF_MAXINSNS (4096). */
export const ARP_FILTER_MAX_IPS = 1000;

/**
 * A socket filter that lets the kernel drop well-formed ARP frames naming none of `owned` as
 * sender or target before they wake the process; on a busy segment that is nearly all ARP.
 * Everything else is accepted: short or malformed frames (the responder counts them), and
 * frames for owned IPs. Each test is followed by its own `ret`, so no jump passes 255.
 */
export function arpFilter(owned: Iterable<number>): BpfInstruction[] {
  const ins = (code: number, k: number, jt = 0, jf = 0): BpfInstruction => ({ code, jt, jf, k });
  const accept = ins(BPF_RET_K, BPF_ACCEPT);
  // "if A == k go on, else accept" and "if A == k accept".
  const expect = (k: number): BpfInstruction[] => [ins(BPF_JEQ_K, k, 1, 0), accept];
  const acceptIf = (k: number): BpfInstruction[] => [ins(BPF_JEQ_K, k, 0, 1), accept];
  const ips = [...owned];
  return [
    ins(BPF_LD_W_LEN, 0),
    ins(BPF_JGE_K, ARP_FRAME_LENGTH, 1, 0),
    accept,
    ins(BPF_LD_H_ABS, 12),
    ...expect(ETHERTYPE_ARP),
    ins(BPF_LD_W_ABS, 14),
    ...expect(ARP_ETHERNET_IPV4),
    ins(BPF_LD_H_ABS, 18),
    ...expect(ARP_LENGTHS),
    ins(BPF_LD_H_ABS, 20),
    ins(BPF_JEQ_K, 1, 2, 0),
    ins(BPF_JEQ_K, 2, 1, 0),
    accept,
    ins(BPF_LD_B_ABS, 22),
    ins(BPF_JSET_K, 1, 0, 1),
    accept,
    ins(BPF_LD_W_ABS, 22),
    ins(BPF_JEQ_K, 0, 0, 3),
    ins(BPF_LD_H_ABS, 26),
    ins(BPF_JEQ_K, 0, 0, 1),
    accept,
    ins(BPF_LD_W_ABS, 28),
    ...ips.flatMap(acceptIf),
    ins(BPF_LD_W_ABS, 38),
    ...ips.flatMap(acceptIf),
    ins(BPF_RET_K, 0),
  ];
}

// --- The edge -----------------------------------------------------------------------------

/** What the responder needs of a packet socket (PacketSocket; a fake in unit tests). */
export interface FrameSocket {
  readonly hardwareAddress: string;
  send(frame: Buffer): number;
  addMembership(mac: string): void;
  attachFilter?(program: readonly BpfInstruction[]): void;
  /** Answer-thread sockets: the IPv4 values (ownedV4Keys) the socket answers ARP for itself. */
  setArpAnswers?(mac: Buffer, ips: Iterable<number>): void;
  /** Answer-thread sockets: the replies sent by the socket itself since the last call. */
  takeArpAnswered?(): Map<number, number>;
  /** Answer-thread sockets: the IPv6 targets (16 bytes each, packed) the socket answers NS for. */
  setNdpAnswers?(mac: Buffer, targets: Buffer): void;
  /** Answer-thread sockets: the NAs sent by the socket itself since the last call, per v6 key. */
  takeNdpAnswered?(): Map<string, number>;
  close(): void;
}

export type OpenFrameSocket = (options: PacketSocketOptions) => FrameSocket;

export interface OwnedIp {
  ip: string;
  /** L2Advertisement.spec.interfaces of the advertisements that select this IP; empty: any. */
  interfaces?: readonly string[];
}

export interface ResponderCounters {
  /** ARP requests and NS for an owned IP that reached us, per IP. */
  requestsReceived: Map<string, number>;
  /** ARP replies and NAs sent, per IP. */
  responsesSent: Map<string, number>;
  /** Frames dropped because they failed to decode, in total and per reason. */
  malformed: number;
  malformedByReason: Map<string, number>;
  /** Duplicate responders seen (another MAC answering for an owned IP). */
  conflicts: number;
  /** send() failures (e.g. ENETDOWN while the link flaps). */
  sendErrors: number;
}

export interface ResponderOptions {
  /** Default PacketSocket.open. */
  openSocket?: OpenFrameSocket;
  /** Interface name patterns never used; default DEFAULT_EXCLUDED_INTERFACES. */
  exclude?: readonly RegExp[];
  /** Another station answered for an owned IP (duplicate responder). */
  onConflict?: (ip: string, mac: string, interfaceName: string) => void;
  /**
   * An owned IP gained interfaces (a link came up, an address appeared, the IP was just
   * placed): the caller re-announces it there (Announcer.takeOver), as neighbours on that link
   * may still hold another MAC. Called after the sockets are open.
   */
  onPlacementGained?: (ip: string, interfaces: string[]) => void;
  /** Socket errors and other events worth a log line. */
  onLog?: (event: { msg: string; interface?: string; ip?: string; error?: string }) => void;
  /** Let ARP and NDP sockets answer requests on their native thread (default true). */
  answerThread?: boolean;
}

interface InterfaceState {
  iface: EligibleInterface;
  mac: string;
  /** `mac` as bytes, for the ARP hot path. */
  macBytes: Buffer;
  v4: Set<string>;
  /** `v4` keyed by address value, for the ARP hot path. */
  v4Keys: Map<number, string>;
  /** The owned set the ARP socket's filter was built for ("" before one is attached). */
  arpFilterFor: string;
  v6: Set<string>;
  /** `v6` keyed by address bytes, for the NDP hot path. */
  v6Keys: Map<string, string>;
  arp?: FrameSocket;
  ndp?: FrameSocket;
  /** Link-layer groups joined on `ndp`; left when the socket closes. */
  groups: Set<string>;
}

const isV6 = (ip: string): boolean => ip.includes(':');

export class Responder {
  private readonly openSocket: OpenFrameSocket;
  private snapshot: InterfaceSnapshot = { links: [], addresses: [] };
  private owned = new Map<string, OwnedIp>();
  /** Keyed by "name#index", so a re-created interface gets fresh sockets. */
  private readonly states = new Map<string, InterfaceState>();
  private closed = false;
  readonly #counters: ResponderCounters = {
    requestsReceived: new Map(),
    responsesSent: new Map(),
    malformed: 0,
    malformedByReason: new Map(),
    conflicts: 0,
    sendErrors: 0,
  };

  /** What the responder counted, including the replies its sockets sent themselves. */
  get counters(): ResponderCounters {
    for (const st of this.states.values()) {
      this.collectAnswered(st, 'arp');
      this.collectAnswered(st, 'ndp');
    }
    return this.#counters;
  }

  constructor(private readonly options: ResponderOptions = {}) {
    this.openSocket = options.openSocket ?? ((o) => PacketSocket.open(o));
  }

  /** The node's current links and addresses (from InterfaceWatcher). */
  setInterfaces(snapshot: InterfaceSnapshot): void {
    this.snapshot = snapshot;
    this.reconcile();
  }

  /** The complete set of IPs this node owns now; anything not listed is no longer answered. */
  setOwned(ips: readonly OwnedIp[]): void {
    this.owned = new Map(ips.map((o) => [o.ip, o]));
    this.reconcile();
  }

  /** Interface names answering for each owned IP; an IP with none cannot be served here. */
  placement(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const ip of this.owned.keys()) out.set(ip, []);
    for (const st of this.states.values()) {
      for (const ip of [...st.v4, ...st.v6]) out.get(ip)?.push(st.iface.name);
    }
    return out;
  }

  /**
   * Sends the takeover announcement for `ip` on each of its interfaces: a gratuitous ARP
   * request and reply (IPv4), or an unsolicited NA with O=1 to ff02::1 (IPv6). Returns the
   * number of frames sent. The frames themselves are built by the announcer's codec helpers.
   */
  sendOnInterfaces(ip: string, build: (mac: string) => Buffer[]): number {
    let sent = 0;
    for (const st of this.states.values()) {
      const v6 = isV6(ip);
      if (!(v6 ? st.v6 : st.v4).has(ip)) continue;
      const socket = v6 ? st.ndp : st.arp;
      if (!socket) continue;
      for (const frame of build(st.mac)) if (this.send(st, socket, frame, ip)) sent++;
    }
    return sent;
  }

  close(): void {
    this.closed = true;
    for (const [key, st] of this.states) {
      this.closeSocket(st, 'arp');
      this.closeSocket(st, 'ndp');
      this.states.delete(key);
    }
  }

  private reconcile(): void {
    if (this.closed) return;
    const before = this.placement();
    // Desired: interface key -> IPs placed there.
    const desired = new Map<string, { iface: EligibleInterface; ips: string[] }>();
    for (const o of this.owned.values()) {
      const ifaces = interfacesForIp(this.snapshot, o.ip, {
        ...(o.interfaces ? { allowed: o.interfaces } : {}),
        ...(this.options.exclude ? { exclude: this.options.exclude } : {}),
      });
      for (const iface of ifaces) {
        const key = `${iface.name}#${iface.index}`;
        const entry = desired.get(key) ?? { iface, ips: [] };
        entry.ips.push(o.ip);
        desired.set(key, entry);
      }
    }
    for (const [key, st] of this.states) {
      if (desired.has(key)) continue;
      this.closeSocket(st, 'arp');
      this.closeSocket(st, 'ndp');
      this.states.delete(key);
    }
    for (const [key, { iface, ips }] of desired) {
      let st = this.states.get(key);
      if (!st) {
        st = {
          iface,
          mac: iface.mac,
          macBytes: macBytes(iface.mac),
          v4: new Set(),
          v4Keys: new Map(),
          arpFilterFor: '',
          v6: new Set(),
          v6Keys: new Map(),
          groups: new Set(),
        };
        this.states.set(key, st);
      }
      st.iface = iface;
      st.v4 = new Set(ips.filter((ip) => !isV6(ip)));
      st.v4Keys = ownedV4Keys(st.v4);
      st.v6 = new Set(ips.filter(isV6));
      st.v6Keys = ownedV6Keys(st.v6);
      this.syncSockets(st);
    }
    if (!this.options.onPlacementGained) return;
    for (const [ip, names] of this.placement()) {
      const had = new Set(before.get(ip) ?? []);
      const gained = names.filter((n) => !had.has(n));
      if (gained.length > 0) this.options.onPlacementGained(ip, gained);
    }
  }

  private syncSockets(st: InterfaceState): void {
    if (st.v4.size > 0 && !st.arp) st.arp = this.open(st, ETH_P_ARP);
    if (st.v4.size === 0 && st.arp) {
      this.closeSocket(st, 'arp');
      st.arpFilterFor = '';
    }
    if (st.arp) {
      this.filterArp(st, st.arp);
      if (this.options.answerThread !== false) st.arp.setArpAnswers?.(st.macBytes, st.v4Keys.keys());
    }
    if (st.v6.size > 0 && !st.ndp) {
      st.ndp = this.open(st, ETH_P_IPV6);
      st.groups.clear();
    }
    if (st.v6.size === 0 && st.ndp) {
      this.closeSocket(st, 'ndp');
      st.groups.clear();
    }
    if (st.ndp) {
      if (this.options.answerThread !== false)
        st.ndp.setNdpAnswers?.(st.macBytes, Buffer.from([...st.v6Keys.keys()].join(''), 'latin1'));
      // Join each owned IP's solicited-node group (RFC 4861 §7.2.1) at the link layer, so the
      // NIC passes the NS up. Groups of released IPs stay joined until the socket closes: a
      // group only widens what the NIC accepts, and the owned set decides what is answered.
      for (const ip of st.v6) {
        const mac = multicastMac(solicitedNodeMulticast(ip));
        if (st.groups.has(mac)) continue;
        try {
          st.ndp.addMembership(mac);
          st.groups.add(mac);
        } catch (err) {
          this.log({
            msg: 'joining solicited-node group failed',
            interface: st.iface.name,
            ip,
            error: String(err),
          });
        }
      }
    }
  }

  private open(st: InterfaceState, etherType: number): FrameSocket | undefined {
    try {
      const socket = this.openSocket({
        interface: st.iface.index,
        etherType,
        ...(this.options.answerThread !== false ? { answerThread: true } : {}),
        onFrame: (frame) => this.onFrame(st, frame),
        onError: (err) =>
          this.log({ msg: 'packet socket error', interface: st.iface.name, error: err.message }),
      });
      if (socket.hardwareAddress) {
        st.mac = socket.hardwareAddress;
        st.macBytes = macBytes(st.mac);
      }
      if (etherType === ETH_P_ARP) st.arpFilterFor = '';
      // An IPv6 packet socket would otherwise receive every IPv6 packet on the link.
      if (etherType === ETH_P_IPV6) socket.attachFilter?.(NDP_FILTER);
      return socket;
    } catch (err) {
      this.log({ msg: 'opening packet socket failed', interface: st.iface.name, error: String(err) });
      return undefined;
    }
  }

  /** Closes one socket of `st`, keeping the count of the answers it sent itself. */
  private closeSocket(st: InterfaceState, which: 'arp' | 'ndp'): void {
    const socket = st[which];
    if (!socket) return;
    this.collectAnswered(st, which);
    socket.close();
    delete st[which];
  }

  /** Adds the answers a socket sent on its own thread to the counters, as act() would. */
  private collectAnswered(st: InterfaceState, which: 'arp' | 'ndp'): void {
    const count = (ip: string, n: number): void => {
      bump(this.#counters.requestsReceived, ip, n);
      bump(this.#counters.responsesSent, ip, n);
    };
    if (which === 'arp')
      for (const [key, n] of st.arp?.takeArpAnswered?.() ?? [])
        count(st.v4Keys.get(key) ?? formatIPv4(keyBytes(key)), n);
    else
      for (const [key, n] of st.ndp?.takeNdpAnswered?.() ?? [])
        count(st.v6Keys.get(key) ?? formatIPv6(Buffer.from(key, 'latin1')), n);
  }

  /** (Re)builds the ARP socket's filter when the owned set of the interface changed. */
  private filterArp(st: InterfaceState, socket: FrameSocket): void {
    if (!socket.attachFilter) return;
    const key = [...st.v4Keys.keys()].sort((a, b) => a - b).join(',');
    if (key === st.arpFilterFor) return;
    try {
      // Too many IPs for one program: accept everything, the responder still decides.
      socket.attachFilter(st.v4Keys.size <= ARP_FILTER_MAX_IPS ? arpFilter(st.v4Keys.keys()) : [ACCEPT_ALL]);
      st.arpFilterFor = key;
    } catch (err) {
      this.log({ msg: 'attaching the ARP filter failed', interface: st.iface.name, error: String(err) });
    }
  }

  private onFrame(st: InterfaceState, bytes: Buffer): void {
    // A frame off the wire is untrusted; nothing it contains may take the responder down.
    try {
      // The hot paths first; undefined means "not certain", and the full decoder decides.
      const arp = bytes.length > 13 && bytes[12] === 0x08 && bytes[13] === 0x06;
      const fast = arp
        ? decideArpBytes(bytes, st.macBytes, st.v4Keys)
        : decideNdpBytes(bytes, st.macBytes, st.v6Keys);
      if (fast !== undefined) {
        this.act(st, fast, arp ? st.arp : st.ndp);
        return;
      }
      const decoded = decodeFrame(bytes);
      if (!decoded.ok) {
        if (NOT_OURS.has(decoded.reason)) return;
        this.#counters.malformed++;
        bump(this.#counters.malformedByReason, decoded.reason);
        return;
      }
      const ownedHere = decoded.value.protocol === 'arp' ? st.v4 : st.v6;
      const decision = decideFrame(decoded.value, { mac: st.mac, owns: (ip) => ownedHere.has(ip) });
      this.act(st, decision, decoded.value.protocol === 'arp' ? st.arp : st.ndp);
    } catch (err) {
      this.#counters.malformed++;
      bump(this.#counters.malformedByReason, 'exception');
      this.log({ msg: 'frame handling failed', interface: st.iface.name, error: String(err) });
    }
  }

  private act(st: InterfaceState, decision: FrameDecision, socket: FrameSocket | undefined): void {
    if (decision.kind === 'conflict') {
      this.#counters.conflicts++;
      this.options.onConflict?.(decision.ip, decision.mac, st.iface.name);
      return;
    }
    if (decision.kind === 'ignore') {
      if (decision.ip !== undefined) bump(this.#counters.requestsReceived, decision.ip);
      return;
    }
    bump(this.#counters.requestsReceived, decision.ip);
    if (socket && this.send(st, socket, decision.frame, decision.ip)) {
      bump(this.#counters.responsesSent, decision.ip);
    }
  }

  private send(st: InterfaceState, socket: FrameSocket, frame: Buffer, ip: string): boolean {
    try {
      socket.send(frame);
      return true;
    } catch (err) {
      this.#counters.sendErrors++;
      this.log({ msg: 'send failed', interface: st.iface.name, ip, error: String(err) });
      return false;
    }
  }

  private log(event: { msg: string; interface?: string; ip?: string; error?: string }): void {
    this.options.onLog?.(event);
  }
}

const ACCEPT_ALL: BpfInstruction = { code: BPF_RET_K, jt: 0, jf: 0, k: BPF_ACCEPT };

function macBytes(mac: string): Buffer {
  return parseMac(mac) ?? Buffer.alloc(6);
}

function bump(map: Map<string, number>, key: string, n = 1): void {
  map.set(key, (map.get(key) ?? 0) + n);
}

function keyBytes(key: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(key >>> 0);
  return out;
}
