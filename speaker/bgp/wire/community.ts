// Community values as operators write them: "65000:100" (RFC 1997) and "65000:1:2" (RFC 8092).

import { BgpEncodeError } from './errors.js';
import type { LargeCommunity } from './messages.js';

/** RFC 1997: the high 16 bits are the AS, the low 16 bits the value. */
export function community(asn: number, value: number): number {
  if (!isUint(asn, 0xffff) || !isUint(value, 0xffff))
    throw new BgpEncodeError(`community ${asn}:${value}: both halves must be 0..65535`);
  return asn * 0x10000 + value;
}

export function parseCommunity(text: string): number {
  const m = /^(\d+):(\d+)$/.exec(text);
  if (!m) throw new BgpEncodeError(`community "${text}": want ASN:VALUE with both 0..65535`);
  return community(Number(m[1]), Number(m[2]));
}

export function formatCommunity(c: number): string {
  return `${Math.floor(c / 0x10000)}:${c & 0xffff}`;
}

export function parseLargeCommunity(text: string): LargeCommunity {
  const m = /^(\d+):(\d+):(\d+)$/.exec(text);
  const [global, local1, local2] = m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [-1, -1, -1];
  if (!isUint(global, 0xffffffff) || !isUint(local1, 0xffffffff) || !isUint(local2, 0xffffffff))
    throw new BgpEncodeError(`large community "${text}": want GLOBAL:LOCAL1:LOCAL2, each 0..4294967295`);
  return { global, local1, local2 };
}

export function formatLargeCommunity(c: LargeCommunity): string {
  return `${c.global}:${c.local1}:${c.local2}`;
}

function isUint(v: number, max: number): boolean {
  return Number.isInteger(v) && v >= 0 && v <= max;
}
