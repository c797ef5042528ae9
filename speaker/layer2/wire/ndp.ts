// IPv6 Neighbor Discovery (RFC 4861): Neighbor Solicitation (§4.3) and Neighbor
// Advertisement (§4.4) with their link-layer address options (§4.6.1), and the receive-side
// validity checks of §7.1.1 / §7.1.2.
//
// Two entry points, because Beacon reads NDP two ways:
//  - decodeNdpMessage: the ICMPv6 message alone, as a raw ICMPv6 socket returns it (the kernel
//    has already checked the checksum; hop limit and addresses are passed in when known);
//  - decodeNdpPacket / decodeNdpFrame: a whole IPv6 packet or Ethernet frame from a packet
//    socket, where every check, the checksum included, is ours.
import { type Decoded, decoded, malformed } from './decoded.js';
import { BufferReader } from '../../../lib/wire/reader.js';
import { formatIPv6, formatMac, parseIPv6, parseMac, requireAddress } from './address.js';
import { ETHERTYPE_IPV6, type EthernetMalformedReason, decodeEthernet, encodeEthernet } from './ethernet.js';
import {
  ALL_NODES,
  type IPv6MalformedReason,
  NEXT_HEADER_ICMPV6,
  decodeIPv6,
  encodeIPv6,
  isMulticastIPv6,
  isUnspecifiedIPv6,
  multicastMac,
  solicitedNodeMulticast,
  upperLayerChecksum,
} from './ipv6.js';

export const ICMPV6_NEIGHBOR_SOLICITATION = 135;
export const ICMPV6_NEIGHBOR_ADVERTISEMENT = 136;
/** §7.1.1/§7.1.2: NDP is link-local; 255 proves the packet was not forwarded by a router. */
export const NDP_HOP_LIMIT = 255;
/** Type, code, checksum, 4 bytes of flags/reserved, 16-byte target. */
const NDP_FIXED_LENGTH = 24;
const OPTION_SOURCE_LINK_ADDRESS = 1;
const OPTION_TARGET_LINK_ADDRESS = 2;
const FLAG_ROUTER = 0x80;
const FLAG_SOLICITED = 0x40;
const FLAG_OVERRIDE = 0x20;

export interface NeighborSolicitation {
  type: 'neighbor-solicitation';
  target: string;
  /** Source link-layer address option (§4.6.1), when present. */
  sourceLinkAddress?: string;
}

export interface NeighborAdvertisement {
  type: 'neighbor-advertisement';
  target: string;
  /** R: the sender is a router (§4.4). */
  router: boolean;
  /** S: a reply to a Neighbor Solicitation. */
  solicited: boolean;
  /** O: replace an existing cache entry's link-layer address. */
  override: boolean;
  /** Target link-layer address option (§4.6.1), when present. */
  targetLinkAddress?: string;
}

export type NdpMessage = NeighborSolicitation | NeighborAdvertisement;

/** What the IP layer knows about a message; checks that need a missing field are skipped. */
export interface NdpContext {
  source?: string;
  destination?: string;
  hopLimit?: number;
}

export interface NdpPacket {
  source: string;
  destination: string;
  hopLimit: number;
  message: NdpMessage;
}

export interface NdpFrame extends NdpPacket {
  ethernetSource: string;
  ethernetDestination: string;
}

export type NdpMalformedReason =
  | EthernetMalformedReason
  | IPv6MalformedReason
  | 'not-ipv6-ethertype'
  | 'not-icmpv6'
  | 'bad-checksum'
  | 'not-neighbor-discovery'
  | 'hop-limit-not-255'
  | 'nonzero-code'
  | 'too-short'
  | 'multicast-target'
  | 'zero-length-option'
  | 'truncated-option'
  | 'bad-link-layer-option'
  | 'dad-with-source-link-address'
  | 'dad-not-to-solicited-node'
  | 'solicited-to-multicast';

type Result<T> = Decoded<T, NdpMalformedReason>;

interface LinkLayerOptions {
  source?: string;
  target?: string;
}

/**
 * Walks the options after the fixed part (§4.6). A zero length is invalid and the whole
 * packet must be discarded (§4.6, §7.1.1); unknown options are skipped (§4.6: "MUST silently
 * ignore"). Only the first of a repeated link-layer option counts, as in Linux.
 */
function decodeOptions(options: Buffer): Result<LinkLayerOptions> {
  const found: LinkLayerOptions = {};
  const r = new BufferReader(options);
  while (r.remaining > 0) {
    const offset = r.offset;
    if (r.remaining < 2) {
      return malformed('truncated-option', `option header at offset ${offset} runs past the end`);
    }
    const type = r.u8();
    const units = r.u8();
    if (units === 0)
      return malformed('zero-length-option', `option type ${type} at offset ${offset} has length 0`);
    if (units * 8 - 2 > r.remaining) {
      return malformed(
        'truncated-option',
        `option type ${type} of ${units * 8} bytes at offset ${offset} runs past the end`,
      );
    }
    const body = r.bytes(units * 8 - 2);
    if (type === OPTION_SOURCE_LINK_ADDRESS || type === OPTION_TARGET_LINK_ADDRESS) {
      // On Ethernet the option is exactly 8 bytes: type, length 1, 6-byte MAC (RFC 2464 §6).
      if (units !== 1) {
        return malformed(
          'bad-link-layer-option',
          `link-layer address option type ${type} has length ${units}, want 1`,
        );
      }
      const mac = formatMac(body.subarray(0, 6));
      if (type === OPTION_SOURCE_LINK_ADDRESS) found.source ??= mac;
      else found.target ??= mac;
    }
  }
  return decoded(found);
}

/** Decodes and validates an ICMPv6 NS or NA message (starting at the ICMPv6 type byte). */
export function decodeNdpMessage(message: Buffer, context: NdpContext = {}): Result<NdpMessage> {
  if (message.length < 4) return malformed('too-short', `ICMPv6 message of ${message.length} bytes`);
  // Type, code, checksum, then (NA) flags and reserved bytes and the target (§4.3, §4.4).
  const r = new BufferReader(message);
  const type = r.u8();
  if (type !== ICMPV6_NEIGHBOR_SOLICITATION && type !== ICMPV6_NEIGHBOR_ADVERTISEMENT) {
    return malformed('not-neighbor-discovery', `ICMPv6 type ${type}, want 135 or 136`);
  }
  if (context.hopLimit !== undefined && context.hopLimit !== NDP_HOP_LIMIT) {
    return malformed('hop-limit-not-255', `hop limit ${context.hopLimit}, want 255 (RFC 4861 §7.1)`);
  }
  const code = r.u8();
  if (code !== 0) return malformed('nonzero-code', `ICMPv6 code ${code}, want 0`);
  if (message.length < NDP_FIXED_LENGTH) {
    return malformed('too-short', `ICMPv6 length ${message.length}, need at least ${NDP_FIXED_LENGTH}`);
  }
  r.skip(2);
  const flags = r.u8();
  r.skip(3);
  const targetBytes = r.bytes(16);
  const target = formatIPv6(targetBytes);
  if (isMulticastIPv6(targetBytes)) return malformed('multicast-target', `target ${target} is multicast`);
  const options = decodeOptions(r.bytes(r.remaining));
  if (!options.ok) return options;

  if (type === ICMPV6_NEIGHBOR_SOLICITATION) {
    const sourceBytes = context.source === undefined ? undefined : parseIPv6(context.source);
    if (sourceBytes && isUnspecifiedIPv6(sourceBytes)) {
      // Duplicate Address Detection (§7.1.1): from ::, to the target's solicited-node group,
      // and without a source link-layer address (there is no address to bind it to).
      if (options.value.source !== undefined) {
        return malformed(
          'dad-with-source-link-address',
          `DAD solicitation from :: carries ${options.value.source}`,
        );
      }
      if (
        context.destination !== undefined &&
        !sameIPv6(context.destination, solicitedNodeMulticast(target))
      ) {
        return malformed(
          'dad-not-to-solicited-node',
          `DAD solicitation to ${context.destination}, want ${solicitedNodeMulticast(target)}`,
        );
      }
    }
    const ns: NeighborSolicitation = { type: 'neighbor-solicitation', target };
    if (options.value.source !== undefined) ns.sourceLinkAddress = options.value.source;
    return decoded(ns);
  }

  const solicited = (flags & FLAG_SOLICITED) !== 0;
  // §7.1.2: "If the IP Destination Address is a multicast address the Solicited flag is zero."
  if (solicited && context.destination !== undefined) {
    const destination = parseIPv6(context.destination);
    if (destination && isMulticastIPv6(destination)) {
      return malformed('solicited-to-multicast', `solicited advertisement sent to ${context.destination}`);
    }
  }
  const na: NeighborAdvertisement = {
    type: 'neighbor-advertisement',
    target,
    router: (flags & FLAG_ROUTER) !== 0,
    solicited,
    override: (flags & FLAG_OVERRIDE) !== 0,
  };
  if (options.value.target !== undefined) na.targetLinkAddress = options.value.target;
  return decoded(na);
}

function sameIPv6(a: string, b: string): boolean {
  const x = parseIPv6(a);
  const y = parseIPv6(b);
  return x !== undefined && y !== undefined && x.equals(y);
}

/** Decodes an IPv6 packet carrying NS or NA, verifying the ICMPv6 checksum (RFC 4443 §2.3). */
export function decodeNdpPacket(packet: Buffer): Result<NdpPacket> {
  const ip = decodeIPv6(packet);
  if (!ip.ok) return ip;
  // Extension headers before ICMPv6 are legal in general but not expected on NDP; Linux's
  // ndisc also only sees packets whose next header resolves to ICMPv6.
  if (ip.value.nextHeader !== NEXT_HEADER_ICMPV6) {
    return malformed('not-icmpv6', `next header ${ip.value.nextHeader}, want 58`);
  }
  const { payload, sourceBytes, destinationBytes } = ip.value;
  // Checked before the message's own fields so that other ICMPv6 types are classified first.
  if (payload.length >= 1) {
    const type = payload.readUInt8(0);
    if (type !== ICMPV6_NEIGHBOR_SOLICITATION && type !== ICMPV6_NEIGHBOR_ADVERTISEMENT) {
      return malformed('not-neighbor-discovery', `ICMPv6 type ${type}, want 135 or 136`);
    }
  }
  if (payload.length < 4) return malformed('too-short', `ICMPv6 message of ${payload.length} bytes`);
  if (upperLayerChecksum(sourceBytes, destinationBytes, NEXT_HEADER_ICMPV6, payload) !== 0) {
    return malformed(
      'bad-checksum',
      `ICMPv6 checksum does not verify for ${ip.value.source} -> ${ip.value.destination}`,
    );
  }
  const context = { source: ip.value.source, destination: ip.value.destination, hopLimit: ip.value.hopLimit };
  const message = decodeNdpMessage(payload, context);
  if (!message.ok) return message;
  return decoded({ ...context, message: message.value });
}

/** Decodes an Ethernet frame carrying NS or NA, as a packet socket bound to 0x86dd delivers it. */
export function decodeNdpFrame(frame: Buffer): Result<NdpFrame> {
  const eth = decodeEthernet(frame);
  if (!eth.ok) return eth;
  if (eth.value.etherType !== ETHERTYPE_IPV6) {
    return malformed('not-ipv6-ethertype', `EtherType 0x${eth.value.etherType.toString(16)}, want 0x86dd`);
  }
  const packet = decodeNdpPacket(eth.value.payload);
  if (!packet.ok) return packet;
  return decoded({
    ...packet.value,
    ethernetSource: eth.value.source,
    ethernetDestination: eth.value.destination,
  });
}

function linkLayerOption(type: number, mac: string, field: string): Buffer {
  const option = Buffer.alloc(8);
  option.writeUInt8(type, 0);
  option.writeUInt8(1, 1);
  requireAddress(parseMac, mac, field, 'MAC address').copy(option, 2);
  return option;
}

/**
 * Encodes an NS or NA as an ICMPv6 message with a zero checksum: right for a raw ICMPv6
 * socket, where the kernel fills it in. encodeNdpPacket computes it for whole packets.
 * Throws TypeError on malformed addresses (a caller bug).
 */
export function encodeNdpMessage(message: NdpMessage): Buffer {
  const fixed = Buffer.alloc(NDP_FIXED_LENGTH);
  requireAddress(parseIPv6, message.target, 'target', 'IPv6 address').copy(fixed, 8);
  let option: Buffer | undefined;
  if (message.type === 'neighbor-solicitation') {
    fixed.writeUInt8(ICMPV6_NEIGHBOR_SOLICITATION, 0);
    if (message.sourceLinkAddress !== undefined) {
      option = linkLayerOption(OPTION_SOURCE_LINK_ADDRESS, message.sourceLinkAddress, 'sourceLinkAddress');
    }
  } else {
    fixed.writeUInt8(ICMPV6_NEIGHBOR_ADVERTISEMENT, 0);
    const flags =
      (message.router ? FLAG_ROUTER : 0) |
      (message.solicited ? FLAG_SOLICITED : 0) |
      (message.override ? FLAG_OVERRIDE : 0);
    fixed.writeUInt8(flags, 4);
    if (message.targetLinkAddress !== undefined) {
      option = linkLayerOption(OPTION_TARGET_LINK_ADDRESS, message.targetLinkAddress, 'targetLinkAddress');
    }
  }
  return option ? Buffer.concat([fixed, option]) : fixed;
}

/** An IPv6 packet with hop limit 255 and the ICMPv6 checksum filled in. */
export function encodeNdpPacket(packet: Omit<NdpPacket, 'hopLimit'>): Buffer {
  const message = encodeNdpMessage(packet.message);
  message.writeUInt16BE(
    upperLayerChecksum(
      requireAddress(parseIPv6, packet.source, 'source', 'IPv6 address'),
      requireAddress(parseIPv6, packet.destination, 'destination', 'IPv6 address'),
      NEXT_HEADER_ICMPV6,
      message,
    ),
    2,
  );
  return encodeIPv6(
    {
      source: packet.source,
      destination: packet.destination,
      hopLimit: NDP_HOP_LIMIT,
      nextHeader: NEXT_HEADER_ICMPV6,
    },
    message,
  );
}

export interface NdpFrameInput extends Omit<NdpPacket, 'hopLimit'> {
  ethernetSource: string;
  /** Defaults to the multicast MAC of a multicast destination (RFC 2464 §7); required otherwise. */
  ethernetDestination?: string;
}

export function encodeNdpFrame(input: NdpFrameInput): Buffer {
  let destinationMac = input.ethernetDestination;
  if (destinationMac === undefined) {
    const destination = requireAddress(parseIPv6, input.destination, 'destination', 'IPv6 address');
    if (!isMulticastIPv6(destination)) {
      throw new TypeError(`ethernetDestination is required for unicast destination "${input.destination}"`);
    }
    destinationMac = multicastMac(input.destination);
  }
  return encodeEthernet(
    { destination: destinationMac, source: input.ethernetSource, etherType: ETHERTYPE_IPV6 },
    encodeNdpPacket(input),
  );
}

export interface AdvertisementAnswer {
  /** IPv6 destination of the NA. */
  destination: string;
  /** Ethernet destination of the NA. */
  ethernetDestination: string;
  message: NeighborAdvertisement;
}

/**
 * How to answer a solicitation for an address we announce (§7.2.4): to the solicitor with
 * S=1, or, when it came from :: (DAD), to all-nodes with S=0. O=1 because Beacon's MAC is the
 * authoritative answer for the address, and the target link-layer address is always included
 * (it MUST be when the solicitation was multicast). R is never set: Beacon is no router.
 */
export function answerNeighborSolicitation(solicitation: NdpFrame, mac: string): AdvertisementAnswer {
  const fromUnspecified = solicitation.source === '::';
  const message: NeighborAdvertisement = {
    type: 'neighbor-advertisement',
    target: solicitation.message.target,
    router: false,
    solicited: !fromUnspecified,
    override: true,
    targetLinkAddress: mac,
  };
  if (fromUnspecified)
    return { destination: ALL_NODES, ethernetDestination: multicastMac(ALL_NODES), message };
  return {
    destination: solicitation.source,
    // The solicitor's link-layer option is authoritative; the Ethernet source is the fallback
    // when a unicast NS (§7.2.2, reachability confirmation) omitted it.
    ethernetDestination:
      solicitation.message.type === 'neighbor-solicitation'
        ? (solicitation.message.sourceLinkAddress ?? solicitation.ethernetSource)
        : solicitation.ethernetSource,
    message,
  };
}

/**
 * An unsolicited Neighbor Advertisement to all-nodes (§7.2.6), sent when this node takes an
 * address over: S=0, O=1 so that neighbours replace the old MAC at once.
 */
export function unsolicitedNeighborAdvertisement(target: string, mac: string): NeighborAdvertisement {
  return {
    type: 'neighbor-advertisement',
    target,
    router: false,
    solicited: false,
    override: true,
    targetLinkAddress: mac,
  };
}
