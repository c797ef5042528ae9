// IPv4/IPv6 addresses as text ↔ network-order bytes (lib/ip/bytes), with BGP's encoder error.
// Text output is canonical (dotted quad; RFC 5952 for IPv6), so decoded messages compare equal
// to hand-written expectations.

import { formatIPv4Bytes, formatIPv6Bytes, parseIPv4Bytes, parseIPv6Bytes } from '../../../lib/ip/bytes.js';
import { BgpEncodeError } from './errors.js';

export function parseIPv4(text: string): Buffer {
  const b = parseIPv4Bytes(text);
  if (b === undefined) throw new BgpEncodeError(`"${text}" is not an IPv4 address (want a dotted quad)`);
  return b;
}

export function parseIPv6(text: string): Buffer {
  const b = parseIPv6Bytes(text);
  if (b === undefined)
    throw new BgpEncodeError(`"${text}" is not an IPv6 address (want e.g. 2001:db8::1, no zone)`);
  return b;
}

export { formatIPv4Bytes as formatIPv4, formatIPv6Bytes as formatIPv6 };
