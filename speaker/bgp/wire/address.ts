// IPv4/IPv6 addresses as text ↔ network-order bytes. Text output is canonical (dotted quad;
// RFC 5952 for IPv6), so decoded messages compare equal to hand-written expectations.

import { formatIPv6Bytes } from '../../../lib/ip/index.js';
import { isIPv4, isIPv6 } from 'node:net';
import { BgpEncodeError } from './errors.js';

export function parseIPv4(text: string): Buffer {
  if (!isIPv4(text)) throw new BgpEncodeError(`"${text}" is not an IPv4 address (want a dotted quad)`);
  return Buffer.from(text.split('.').map(Number));
}

export function formatIPv4(b: Uint8Array, offset = 0): string {
  return `${b[offset]}.${b[offset + 1]}.${b[offset + 2]}.${b[offset + 3]}`;
}

export function parseIPv6(text: string): Buffer {
  if (!isIPv6(text) || text.includes('%'))
    throw new BgpEncodeError(`"${text}" is not an IPv6 address (want e.g. 2001:db8::1, no zone)`);
  // An embedded IPv4 address (RFC 4291 §2.2 form 3) is rewritten as its two hex groups.
  let hex = text;
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.')) {
    const b = parseIPv4(text.slice(lastColon + 1));
    hex = `${text.slice(0, lastColon + 1)}${b.readUInt16BE(0).toString(16)}:${b.readUInt16BE(2).toString(16)}`;
  }
  const groupsOf = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  let groups: number[];
  const dbl = hex.indexOf('::');
  if (dbl >= 0) {
    const head = groupsOf(hex.slice(0, dbl));
    const rest = groupsOf(hex.slice(dbl + 2));
    groups = [...head, ...new Array<number>(8 - head.length - rest.length).fill(0), ...rest];
  } else {
    groups = groupsOf(hex);
  }
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}

/** RFC 5952 §4: lowercase, no leading zeros, the longest run (≥2) of zero groups as "::". */
export function formatIPv6(b: Uint8Array, offset = 0): string {
  return formatIPv6Bytes(b, offset);
}
