// The IPv6 header (RFC 8200 §3), the upper-layer checksum over the IPv6 pseudo-header
// (RFC 8200 §8.1, used by ICMPv6 per RFC 4443 §2.3) and the multicast addresses NDP needs.
import { type Decoded, decoded, malformed } from './decoded.js';
import { formatIPv6, formatMac, parseIPv6, requireAddress } from './address.js';

export const IPV6_HEADER_LENGTH = 40;
export const NEXT_HEADER_ICMPV6 = 58;
export const ALL_NODES = 'ff02::1';

export interface IPv6Header {
  source: string;
  destination: string;
  hopLimit: number;
  nextHeader: number;
}

export interface IPv6Packet extends IPv6Header {
  /** Exactly `payload length` bytes (link-layer padding removed). A view, not a copy. */
  payload: Buffer;
  /** The raw 16-byte addresses, for checksum verification without re-parsing text. */
  sourceBytes: Buffer;
  destinationBytes: Buffer;
}

export type IPv6MalformedReason = 'truncated-ipv6' | 'not-ipv6' | 'bad-payload-length';

export function decodeIPv6(packet: Buffer): Decoded<IPv6Packet, IPv6MalformedReason> {
  if (packet.length < IPV6_HEADER_LENGTH) {
    return malformed('truncated-ipv6', `IPv6 packet of ${packet.length} bytes, need ${IPV6_HEADER_LENGTH}`);
  }
  const version = packet.readUInt8(0) >> 4;
  if (version !== 6) return malformed('not-ipv6', `IP version ${version}, want 6`);
  const payloadLength = packet.readUInt16BE(4);
  // Longer input is link-layer padding; shorter means the packet was cut.
  if (IPV6_HEADER_LENGTH + payloadLength > packet.length) {
    return malformed(
      'bad-payload-length',
      `payload length ${payloadLength} but only ${packet.length - IPV6_HEADER_LENGTH} bytes follow the header`,
    );
  }
  const sourceBytes = packet.subarray(8, 24);
  const destinationBytes = packet.subarray(24, 40);
  return decoded({
    source: formatIPv6(sourceBytes),
    destination: formatIPv6(destinationBytes),
    hopLimit: packet.readUInt8(7),
    nextHeader: packet.readUInt8(6),
    payload: packet.subarray(IPV6_HEADER_LENGTH, IPV6_HEADER_LENGTH + payloadLength),
    sourceBytes,
    destinationBytes,
  });
}

/** Builds an IPv6 packet with traffic class and flow label zero. Throws TypeError on bad addresses. */
export function encodeIPv6(header: IPv6Header, payload: Uint8Array): Buffer {
  const packet = Buffer.alloc(IPV6_HEADER_LENGTH + payload.length);
  packet.writeUInt32BE(0x60000000, 0);
  packet.writeUInt16BE(payload.length, 4);
  packet.writeUInt8(header.nextHeader, 6);
  packet.writeUInt8(header.hopLimit, 7);
  requireAddress(parseIPv6, header.source, 'source', 'IPv6 address').copy(packet, 8);
  requireAddress(parseIPv6, header.destination, 'destination', 'IPv6 address').copy(packet, 24);
  packet.set(payload, IPV6_HEADER_LENGTH);
  return packet;
}

/**
 * The Internet checksum (RFC 1071) of an upper-layer message over the IPv6 pseudo-header
 * (RFC 8200 §8.1): source, destination, 32-bit upper-layer length, 3 zero bytes, next header.
 * Computed with the message's own checksum field as it is: pass a zeroed field to get the
 * value to write, or the received message to verify (a correct one yields 0).
 */
export function upperLayerChecksum(
  source: Uint8Array,
  destination: Uint8Array,
  nextHeader: number,
  message: Uint8Array,
): number {
  let sum = 0;
  const add16 = (bytes: Uint8Array): void => {
    for (let i = 0; i < bytes.length; i += 2) sum += ((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0);
  };
  add16(source);
  add16(destination);
  sum += Math.floor(message.length / 0x10000) + (message.length & 0xffff);
  sum += nextHeader;
  add16(message); // an odd final byte is padded with zero (RFC 1071 §4.1)
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

/** The ICMPv6 checksum (RFC 4443 §2.3) for text addresses. Throws TypeError on bad addresses. */
export function icmpv6Checksum(source: string, destination: string, message: Uint8Array): number {
  return upperLayerChecksum(
    requireAddress(parseIPv6, source, 'source', 'IPv6 address'),
    requireAddress(parseIPv6, destination, 'destination', 'IPv6 address'),
    NEXT_HEADER_ICMPV6,
    message,
  );
}

export function isMulticastIPv6(bytes: Uint8Array): boolean {
  return bytes[0] === 0xff;
}

export function isUnspecifiedIPv6(bytes: Uint8Array): boolean {
  return bytes.length === 16 && bytes.every((b) => b === 0);
}

/**
 * The solicited-node multicast address of an address (RFC 4291 §2.7.1): ff02::1:ff00:0/104
 * plus its low 24 bits. Neighbor Solicitations for the address are sent there (RFC 4861 §7.2.2).
 */
export function solicitedNodeMulticast(address: string): string {
  const bytes = requireAddress(parseIPv6, address, 'address', 'IPv6 address');
  const group = Buffer.from([0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 0]);
  bytes.copy(group, 13, 13, 16);
  return formatIPv6(group);
}

/** The Ethernet MAC of an IPv6 multicast address: 33:33 and its low 32 bits (RFC 2464 §7). */
export function multicastMac(address: string): string {
  const bytes = requireAddress(parseIPv6, address, 'address', 'IPv6 address');
  if (!isMulticastIPv6(bytes)) throw new TypeError(`address "${address}" is not an IPv6 multicast address`);
  return formatMac(Buffer.concat([Buffer.from([0x33, 0x33]), bytes.subarray(12, 16)]));
}
