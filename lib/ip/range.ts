// Address ranges [first, last] and the two spellings an IPAddressPool's spec.addresses entry
// may use: a CIDR (`10.0.0.0/24`) or a range (`10.0.0.10-10.0.0.20`, spaces around the dash
// allowed, as MetalLB trims them). The allocator works on ranges; CIDRs are for display and
// for BGP aggregation, so both directions are here.

import type { IPAddress, IPFamily } from './address.js';
import { familyBits, formatIPValue, tryParseIP } from './address.js';
import type { CIDR } from './cidr.js';
import { cidrLast, parseCIDR } from './cidr.js';
import { IPParseError } from './parse-error.js';

export interface IPRange {
  readonly family: IPFamily;
  readonly first: bigint;
  /** Inclusive. */
  readonly last: bigint;
}

/** One spec.addresses entry, parsed. */
export interface AddressSpec {
  readonly kind: 'cidr' | 'range';
  readonly range: IPRange;
  /** Set for kind 'cidr'. */
  readonly cidr?: CIDR;
}

/** `start-end`, both the same family, start ≤ end. A single address is `a-a`. */
export function parseRange(text: string): IPRange {
  const dash = text.indexOf('-');
  if (dash < 0) throw new IPParseError(text, 'not a range (expected start-end)');
  const startText = text.slice(0, dash).trim();
  const endText = text.slice(dash + 1).trim();
  const start = tryParseIP(startText);
  if (start === undefined) {
    throw new IPParseError(text, `range start ${JSON.stringify(startText)} is not an IP address`);
  }
  const end = tryParseIP(endText);
  if (end === undefined)
    throw new IPParseError(text, `range end ${JSON.stringify(endText)} is not an IP address`);
  if (start.family !== end.family)
    throw new IPParseError(text, 'range start and end are different IP families');
  if (start.value > end.value) throw new IPParseError(text, 'range start is after its end');
  return { family: start.family, first: start.value, last: end.value };
}

/**
 * A spec.addresses entry: a CIDR or a range. A bare address is refused, as MetalLB refuses
 * it, with a hint at the spelling that works.
 */
export function parseAddressSpec(text: string): AddressSpec {
  const trimmed = text.trim();
  if (trimmed.includes('/')) {
    const cidr = parseCIDR(trimmed);
    return { kind: 'cidr', range: cidrToRange(cidr), cidr };
  }
  if (trimmed.includes('-')) return { kind: 'range', range: parseRange(trimmed) };
  const ip = tryParseIP(trimmed);
  if (ip === undefined) throw new IPParseError(text, 'not an IP address, CIDR or range');
  const bits = familyBits(ip.family);
  throw new IPParseError(text, `a single address must be written as a CIDR: ${trimmed}/${bits}`);
}

export function cidrToRange(cidr: CIDR): IPRange {
  return { family: cidr.family, first: cidr.network, last: cidrLast(cidr) };
}

/**
 * The shortest list of CIDRs that covers the range exactly, in address order
 * (`10.0.0.1-10.0.0.6` → 10.0.0.1/32, 10.0.0.2/31, 10.0.0.4/31, 10.0.0.6/32).
 */
export function rangeToCIDRs(range: IPRange): CIDR[] {
  const bits = familyBits(range.family);
  const out: CIDR[] = [];
  let first = range.first;
  while (first <= range.last) {
    // The largest aligned block starting at `first`: limited by its trailing zero bits and by
    // how many addresses are left.
    let hostBits = 0;
    while (hostBits < bits && ((first >> BigInt(hostBits)) & 1n) === 0n) hostBits++;
    const remaining = range.last - first + 1n;
    while (hostBits > 0 && 1n << BigInt(hostBits) > remaining) hostBits--;
    out.push({ family: range.family, network: first, prefixLength: bits - hostBits, hostBitsSet: false });
    first += 1n << BigInt(hostBits);
  }
  return out;
}

export function rangeSize(range: IPRange): bigint {
  return range.last - range.first + 1n;
}

export function rangeContains(range: IPRange, ip: IPAddress): boolean {
  return ip.family === range.family && ip.value >= range.first && ip.value <= range.last;
}

export function rangeContainsRange(outer: IPRange, inner: IPRange): boolean {
  return outer.family === inner.family && inner.first >= outer.first && inner.last <= outer.last;
}

export function rangesOverlap(a: IPRange, b: IPRange): boolean {
  return a.family === b.family && a.first <= b.last && b.first <= a.last;
}

/** `10.0.0.1-10.0.0.9`, or just the address when the range holds one. */
export function formatRange(range: IPRange): string {
  const first = formatIPValue(range.family, range.first);
  if (range.first === range.last) return first;
  return `${first}-${formatIPValue(range.family, range.last)}`;
}
