// Conversions between the text forms the rest of Beacon uses (MAC "02:00:5e:00:00:01",
// IPv4 "192.0.2.1", IPv6 in RFC 5952 form) and the bytes on the wire. Decoders produce text so
// that results compare with config values and read well in logs; encoders accept text.

import { formatIPv6Bytes } from '../../../lib/ip/index.js';
/** Parses "aa:bb:cc:dd:ee:ff" (or with '-'); returns undefined when it is not a 48-bit MAC. */
export function parseMac(text: string): Buffer | undefined {
  const parts = text.split(/[:-]/);
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-fA-F]{2}$/.test(p))) return undefined;
  return Buffer.from(parts.join(''), 'hex');
}

export function formatMac(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(':');
}

export function parseIPv4(text: string): Buffer | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const out = Buffer.alloc(4);
  for (const [i, part] of parts.entries()) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

export function formatIPv4(bytes: Uint8Array): string {
  return Array.from(bytes.subarray(0, 4)).join('.');
}

/** Parses an IPv6 address (with "::" and an optional trailing dotted IPv4 part, no zone). */
export function parseIPv6(text: string): Buffer | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = (half: string): number[] | undefined => {
    if (half === '') return [];
    const out: number[] = [];
    const parts = half.split(':');
    for (const [i, part] of parts.entries()) {
      if (i === parts.length - 1 && part.includes('.')) {
        const v4 = parseIPv4(part);
        if (!v4) return undefined;
        out.push(v4.readUInt16BE(0), v4.readUInt16BE(2));
      } else if (/^[0-9a-fA-F]{1,4}$/.test(part)) {
        out.push(parseInt(part, 16));
      } else {
        return undefined;
      }
    }
    return out;
  };
  const head = groups(halves[0] ?? '');
  const tail = halves.length === 2 ? groups(halves[1] ?? '') : [];
  if (!head || !tail) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const all = [...head, ...new Array<number>(missing).fill(0), ...tail];
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}

/** RFC 5952 §4: lowercase, no leading zeros, the longest run (≥ 2) of zero groups as "::". */
export function formatIPv6(bytes: Uint8Array): string {
  return formatIPv6Bytes(bytes);
}

/** Like parseMac/parseIPv4/parseIPv6, but for encoder inputs, where a bad value is a bug. */
export function requireAddress(
  parse: (text: string) => Buffer | undefined,
  text: string,
  field: string,
  kind: string,
): Buffer {
  const bytes = parse(text);
  if (!bytes) throw new TypeError(`${field} "${text}" is not a valid ${kind}`);
  return bytes;
}
