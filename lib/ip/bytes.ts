// IP addresses as network-order bytes, for every codec that puts them on the wire (ARP, NDP,
// BGP, BFD, the membership heartbeat). Parsing is lib/ip's, with Go net.ParseIP's rules, so the
// codecs accept exactly the addresses the configuration accepts.

import { formatIPv6Bytes, tryParseIP } from './address.js';

export { formatIPv6Bytes };

/** The 4 bytes of a dotted quad, or undefined when `text` is not one. */
export function parseIPv4Bytes(text: string): Buffer | undefined {
  const ip = tryParseIP(text);
  if (ip?.family !== 4) return undefined;
  const out = Buffer.alloc(4);
  out.writeUInt32BE(Number(ip.value));
  return out;
}

/** The 16 bytes of an IPv6 address (no zone), or undefined when `text` is not one. */
export function parseIPv6Bytes(text: string): Buffer | undefined {
  const ip = tryParseIP(text);
  if (ip?.family !== 6) return undefined;
  const out = Buffer.alloc(16);
  out.writeBigUInt64BE(ip.value >> 64n);
  out.writeBigUInt64BE(ip.value & 0xffff_ffff_ffff_ffffn, 8);
  return out;
}

/** Dotted quad of the 4 bytes at `offset`. */
export function formatIPv4Bytes(bytes: Uint8Array, offset = 0): string {
  return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
}
