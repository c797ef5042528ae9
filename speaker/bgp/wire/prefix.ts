// IP prefixes as BGP carries them: { family, addr, len } with `addr` the full 4- or 16-octet
// address and every bit past `len` zero, so two equal prefixes are always deep-equal.
//
// NLRI encoding (RFC 4271 §4.3, RFC 4760 §5): one length octet, then the minimum number of
// octets holding `len` bits. Trailing bits on the wire are "irrelevant" per RFC 4271 §4.3, so
// the decoder clears them rather than rejecting the message; parsePrefix, which reads
// configuration, rejects "10.0.0.1/24" instead, because that text is ambiguous.

import { formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from './address.js';
import { BgpDecodeError, BgpEncodeError } from './errors.js';
import type { BufferReader } from './buffers.js';
import type { BufferWriter } from './buffers.js';

export type AddressFamily = 4 | 6;

export interface Prefix {
  family: AddressFamily;
  /** 4 octets for IPv4, 16 for IPv6; host bits are zero. */
  addr: Buffer;
  len: number;
}

export const addressBytes = (family: AddressFamily): number => (family === 4 ? 4 : 16);
export const maxPrefixLength = (family: AddressFamily): number => (family === 4 ? 32 : 128);

/** "10.77.100.10/32", "2001:db8::/64", or a bare address (a host prefix). */
export function parsePrefix(text: string): Prefix {
  const slash = text.indexOf('/');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const family: AddressFamily = addrText.includes(':') ? 6 : 4;
  const addr = family === 4 ? parseIPv4(addrText) : parseIPv6(addrText);
  const max = maxPrefixLength(family);
  const lenText = slash < 0 ? String(max) : text.slice(slash + 1);
  const len = Number(lenText);
  if (!/^\d{1,3}$/.test(lenText) || len > max)
    throw new BgpEncodeError(`prefix "${text}": length "${lenText}" is not 0..${max}`);
  const masked = Buffer.from(addr);
  clearHostBits(masked, len);
  if (!masked.equals(addr))
    throw new BgpEncodeError(
      `prefix "${text}": host bits are set past /${len}; did you mean ${formatPrefix({ family, addr: masked, len })}?`,
    );
  return { family, addr, len };
}

export function formatPrefix(p: Prefix): string {
  return `${p.family === 4 ? formatIPv4(p.addr) : formatIPv6(p.addr)}/${p.len}`;
}

function clearHostBits(addr: Buffer, len: number): void {
  const full = len >> 3;
  if (full >= addr.length) return;
  const rem = len & 7;
  let i = full;
  if (rem) addr[i++]! &= (0xff << (8 - rem)) & 0xff;
  addr.fill(0, i);
}

/** Octets the prefix takes in an NLRI field. */
export function prefixWireLength(p: Prefix): number {
  return 1 + ((p.len + 7) >> 3);
}

export function writePrefix(w: BufferWriter, p: Prefix): void {
  if (!Number.isInteger(p.len) || p.len < 0 || p.len > maxPrefixLength(p.family))
    throw new BgpEncodeError(
      `prefix length ${p.len} is not 0..${maxPrefixLength(p.family)} for IPv${p.family}`,
    );
  if (p.addr.length !== addressBytes(p.family))
    throw new BgpEncodeError(`IPv${p.family} prefix address has ${p.addr.length} octets`);
  const n = (p.len + 7) >> 3;
  w.u8(p.len);
  if (n === 0) return;
  w.bytes(p.addr.subarray(0, n - 1));
  // Host bits go out as zero even if the caller's object carried some.
  const rem = p.len & 7;
  const last = p.addr[n - 1]!;
  w.u8(rem ? last & ((0xff << (8 - rem)) & 0xff) : last);
}

/** Where a bad prefix length is reported: Invalid Network Field for the NLRI field, Optional
 * Attribute Error inside MP_REACH/MP_UNREACH (RFC 4760 §7). */
export interface PrefixErrorSpec {
  what: string;
  code: number;
  subcode: number;
}

/** Reads prefixes until the reader is exhausted. */
export function readPrefixes(r: BufferReader, family: AddressFamily, err: PrefixErrorSpec): Prefix[] {
  const out: Prefix[] = [];
  const max = maxPrefixLength(family);
  const size = addressBytes(family);
  while (r.remaining > 0) {
    const len = r.u8();
    if (len > max)
      throw new BgpDecodeError(`${err.what}: prefix length ${len} exceeds ${max}`, err.code, err.subcode);
    const n = (len + 7) >> 3;
    const addr = Buffer.alloc(size);
    r.bytes(n).copy(addr);
    clearHostBits(addr, len);
    out.push({ family, addr, len });
  }
  return out;
}
