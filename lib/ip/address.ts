// IPv4 and IPv6 addresses as bigints. A bigint keeps IPv6 arithmetic exact (a /64 holds 2^64
// addresses) and makes "next address", "is inside" and "how many" plain integer operations.

import { IPParseError } from './parse-error.js';

export type IPFamily = 4 | 6;

export interface IPAddress {
  readonly family: IPFamily;
  /** The address as an unsigned integer: 32 bits for IPv4, 128 bits for IPv6. */
  readonly value: bigint;
}

export function familyBits(family: IPFamily): 32 | 128 {
  return family === 4 ? 32 : 128;
}

/** The highest address of the family: 255.255.255.255 or ffff:...:ffff. */
export function maxAddressValue(family: IPFamily): bigint {
  return family === 4 ? 0xffff_ffffn : (1n << 128n) - 1n;
}

export function familyName(family: IPFamily): 'IPv4' | 'IPv6' {
  return family === 4 ? 'IPv4' : 'IPv6';
}

/**
 * Parses dotted-quad IPv4 or RFC 4291 §2.2 IPv6 text (including `::` and a trailing dotted
 * quad such as `::ffff:10.0.0.1`). Rejects what Go's net.ParseIP rejects, so that a pool MetalLB
 * refuses is refused here too: IPv4 octets with leading zeros (ambiguous octal), zone
 * identifiers (`fe80::1%eth0`), surrounding spaces.
 *
 * `::ffff:a.b.c.d` stays an IPv6 address (family 6); Beacon never folds it into IPv4.
 */
export function parseIP(text: string): IPAddress {
  const ip = tryParseIP(text);
  if (ip === undefined) throw new IPParseError(text, 'not an IP address');
  return ip;
}

/** parseIP without the exception, for callers that only need a yes/no. */
export function tryParseIP(text: string): IPAddress | undefined {
  if (text.includes(':')) {
    const value = parseIPv6(text);
    return value === undefined ? undefined : { family: 6, value };
  }
  const value = parseIPv4(text);
  return value === undefined ? undefined : { family: 4, value };
}

function parseIPv4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = value * 256 + octet;
  }
  return BigInt(value);
}

function parseIPv6(text: string): bigint | undefined {
  let head = text;
  let tail = '';
  const gap = text.indexOf('::');
  if (gap >= 0) {
    if (text.indexOf('::', gap + 1) >= 0) return undefined;
    head = text.slice(0, gap);
    tail = text.slice(gap + 2);
  }
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === '' ? [] : tail.split(':');
  // A dotted quad may only stand in for the last 32 bits.
  const groups: number[] = [];
  // The textually last group: after "::" if anything follows it, else the head's last when
  // there is no "::" at all ("1.2.3.4::" has no dotted quad at the end).
  const lastList = tailGroups.length > 0 ? tailGroups : gap < 0 ? headGroups : [];
  const last = lastList[lastList.length - 1];
  let embeddedV4: bigint | undefined;
  if (last !== undefined && last.includes('.')) {
    embeddedV4 = parseIPv4(last);
    if (embeddedV4 === undefined) return undefined;
    lastList.pop();
  }
  for (const g of [...headGroups, ...tailGroups]) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
  }
  const explicit = headGroups.length + tailGroups.length + (embeddedV4 === undefined ? 0 : 2);
  if (gap >= 0) {
    // "::" stands for at least one group of zeros (RFC 4291 §2.2 item 2).
    if (explicit > 7) return undefined;
  } else if (explicit !== 8) {
    return undefined;
  }
  for (const g of headGroups) groups.push(parseInt(g, 16));
  const zeros = 8 - explicit;
  if (gap >= 0) for (let i = 0; i < zeros; i++) groups.push(0);
  for (const g of tailGroups) groups.push(parseInt(g, 16));
  let value = 0n;
  for (const g of groups) value = (value << 16n) | BigInt(g);
  if (embeddedV4 !== undefined) value = (value << 32n) | embeddedV4;
  return value;
}

/** Canonical text: dotted quad for IPv4, RFC 5952 for IPv6. */
export function formatIP(ip: IPAddress): string {
  return formatIPValue(ip.family, ip.value);
}

export function formatIPValue(family: IPFamily, value: bigint): string {
  if (family === 4) {
    const n = Number(value);
    return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
  }
  const groups: number[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(Number((value >> shift) & 0xffffn));
  // RFC 5952 §5: IPv4-mapped addresses are written with the dotted quad.
  if (value >> 32n === 0xffffn) return `::ffff:${formatIPValue(4, value & 0xffff_ffffn)}`;
  // RFC 5952 §4.2: compress the longest run of two or more zero groups, the first on a tie.
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  // RFC 5952 §4.3: lowercase hex, no leading zeros.
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

export function compareIP(a: IPAddress, b: IPAddress): number {
  if (a.family !== b.family) return a.family - b.family;
  return a.value < b.value ? -1 : a.value > b.value ? 1 : 0;
}

export function ipEquals(a: IPAddress, b: IPAddress): boolean {
  return a.family === b.family && a.value === b.value;
}

/**
 * An IPv4 address ending in .0 or .255. Some CPE firmwares treat these as network or
 * broadcast addresses whatever the prefix length (smurf protection) and drop their traffic;
 * MetalLB's avoidBuggyIPs skips them.
 */
export function isBuggyIPv4(value: bigint): boolean {
  const last = value & 0xffn;
  return last === 0n || last === 0xffn;
}

/** RFC 5952 text of 16 address bytes (as carried in packets) starting at `offset`. */
export function formatIPv6Bytes(bytes: Uint8Array, offset = 0): string {
  let value = 0n;
  for (let i = 0; i < 16; i++) value = (value << 8n) | BigInt(bytes[offset + i] ?? 0);
  return formatIPValue(6, value);
}
