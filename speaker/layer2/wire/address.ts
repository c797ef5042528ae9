// Conversions between the text forms the rest of Beacon uses (MAC "02:00:5e:00:00:01",
// IPv4 "192.0.2.1", IPv6 in RFC 5952 form) and the bytes on the wire. Decoders produce text so
// that results compare with config values and read well in logs; encoders accept text.

/** Parses "aa:bb:cc:dd:ee:ff" (or with '-'); returns undefined when it is not a 48-bit MAC. */
export function parseMac(text: string): Buffer | undefined {
  const parts = text.split(/[:-]/);
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-fA-F]{2}$/.test(p))) return undefined;
  return Buffer.from(parts.join(''), 'hex');
}

export function formatMac(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(':');
}

// The IP forms are lib/ip's, under the names the layer 2 codecs use.
export {
  formatIPv4Bytes as formatIPv4,
  formatIPv6Bytes as formatIPv6,
  parseIPv4Bytes as parseIPv4,
  parseIPv6Bytes as parseIPv6,
} from '../../../lib/ip/bytes.js';

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
