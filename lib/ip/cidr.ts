// CIDR prefixes (`10.0.0.0/24`, `fc00::/64`).
//
// Host bits: MetalLB parses pool CIDRs with Go's net.ParseCIDR, which accepts `10.0.0.5/24`
// and keeps only the network, 10.0.0.0/24. Beacon does the same so an existing MetalLB
// configuration applies unchanged, and reports `hostBitsSet` so the config builder can warn
// that the entry covers more than the address written.

import type { IPFamily } from './address.js';
import { familyBits, familyName, formatIPValue, tryParseIP } from './address.js';
import { IPParseError } from './parse-error.js';

export interface CIDR {
  readonly family: IPFamily;
  /** The first address, host bits cleared. */
  readonly network: bigint;
  readonly prefixLength: number;
  /** True when the text had host bits set (`10.0.0.5/24`); they were cleared. */
  readonly hostBitsSet: boolean;
}

export function parseCIDR(text: string): CIDR {
  const slash = text.indexOf('/');
  if (slash < 0) throw new IPParseError(text, 'not a CIDR (expected address/prefix-length)');
  const addressText = text.slice(0, slash);
  const lengthText = text.slice(slash + 1);
  const ip = tryParseIP(addressText);
  if (ip === undefined) throw new IPParseError(text, `${JSON.stringify(addressText)} is not an IP address`);
  if (!/^[0-9]{1,3}$/.test(lengthText)) {
    throw new IPParseError(text, `prefix length ${JSON.stringify(lengthText)} is not a number`);
  }
  const prefixLength = Number(lengthText);
  const bits = familyBits(ip.family);
  if (prefixLength > bits) {
    throw new IPParseError(
      text,
      `prefix length ${prefixLength} is out of range for ${familyName(ip.family)} (0-${bits})`,
    );
  }
  const network = ip.value & prefixMask(ip.family, prefixLength);
  return { family: ip.family, network, prefixLength, hostBitsSet: network !== ip.value };
}

/** The mask with the top `prefixLength` bits of the family set. */
export function prefixMask(family: IPFamily, prefixLength: number): bigint {
  const bits = BigInt(familyBits(family));
  const hostBits = bits - BigInt(prefixLength);
  return ((1n << bits) - 1n) ^ ((1n << hostBits) - 1n);
}

/** The last address of the prefix. */
export function cidrLast(cidr: CIDR): bigint {
  const hostBits = BigInt(familyBits(cidr.family) - cidr.prefixLength);
  return cidr.network | ((1n << hostBits) - 1n);
}

/** How many addresses the prefix holds (2^64 for a /64). */
export function cidrSize(cidr: CIDR): bigint {
  return 1n << BigInt(familyBits(cidr.family) - cidr.prefixLength);
}

export function cidrContains(cidr: CIDR, family: IPFamily, value: bigint): boolean {
  return family === cidr.family && value >= cidr.network && value <= cidrLast(cidr);
}

export function formatCIDR(cidr: CIDR): string {
  return `${formatIPValue(cidr.family, cidr.network)}/${cidr.prefixLength}`;
}
