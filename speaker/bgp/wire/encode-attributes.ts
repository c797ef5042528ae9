// Path attribute encoding (RFC 4271 §4.3, §5). Known attributes get their canonical flags;
// raw ones keep the caller's. The Extended Length flag is chosen from the value's size.

import { parseIPv4, parseIPv6 } from './address.js';
import { AS_TRANS, AsPathSegmentType, AttrFlag, AttrType, Afi, Safi } from './constants.js';
import { BgpEncodeError } from './errors.js';
import type { AsPathSegment, AsPathSegmentKind, MpReach, MpUnreach, PathAttributes } from './messages.js';
import { writePrefix } from './prefix.js';
import { bgpWriter, type BufferWriter } from './buffers.js';

const WELL_KNOWN = AttrFlag.TRANSITIVE;
const OPTIONAL_TRANSITIVE = AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE;
const OPTIONAL_NON_TRANSITIVE = AttrFlag.OPTIONAL;

const segmentCode: Record<AsPathSegmentKind, number> = {
  set: AsPathSegmentType.AS_SET,
  sequence: AsPathSegmentType.AS_SEQUENCE,
  'confed-sequence': AsPathSegmentType.AS_CONFED_SEQUENCE,
  'confed-set': AsPathSegmentType.AS_CONFED_SET,
};

/** Writes one attribute: flags, type, 1- or 2-octet length (RFC 4271 §4.3), value. */
export function writeAttribute(w: BufferWriter, flags: number, typeCode: number, value: Uint8Array): void {
  if (value.length > 0xffff)
    throw new BgpEncodeError(`path attribute ${typeCode} value is ${value.length} octets; at most 65535 fit`);
  const extended = value.length > 0xff || (flags & AttrFlag.EXTENDED_LENGTH) !== 0;
  w.u8((flags & 0xe0) | (extended ? AttrFlag.EXTENDED_LENGTH : 0)).u8(typeCode);
  if (extended) w.u16(value.length);
  else w.u8(value.length);
  w.bytes(value);
}

/** Octets of an attribute header for a value of `valueLength` octets. */
export const attributeHeaderLength = (valueLength: number): number => (valueLength > 0xff ? 4 : 3);

function asPathValue(segments: AsPathSegment[], fourOctet: boolean): Buffer {
  const w = bgpWriter(64);
  for (const seg of segments) {
    // RFC 4271 §4.3: a segment holds at most 255 ASNs; a long sequence is split into several.
    if (seg.asns.length > 255 && seg.type !== 'sequence' && seg.type !== 'confed-sequence')
      throw new BgpEncodeError(`AS_PATH ${seg.type} segment has ${seg.asns.length} ASNs; at most 255 fit`);
    for (let i = 0; i === 0 || i < seg.asns.length; i += 255) {
      const chunk = seg.asns.slice(i, i + 255);
      w.u8(segmentCode[seg.type]).u8(chunk.length);
      for (const asn of chunk) {
        if (fourOctet) w.u32(asn);
        else w.u16(asn > 0xffff ? AS_TRANS : asn);
      }
    }
  }
  return w.toBuffer();
}

function mpReachValue(mp: MpReach): Buffer {
  const w = bgpWriter(64);
  w.u16(mp.family === 4 ? Afi.IPV4 : Afi.IPV6).u8(Safi.UNICAST);
  w.bytes(mpNextHop(mp));
  w.u8(0); // RFC 4760 §3: Reserved
  for (const p of mp.nlri) {
    checkFamily(p.family, mp.family, 'MP_REACH_NLRI');
    writePrefix(w, p);
  }
  return w.toBuffer();
}

/** The Length of Next Hop Network Address octet followed by the address(es). */
export function mpNextHop(mp: Pick<MpReach, 'nextHop' | 'linkLocalNextHop' | 'family'>): Buffer {
  const isV6 = mp.nextHop.includes(':');
  if (mp.family === 6 && !isV6)
    throw new BgpEncodeError(`MP_REACH_NLRI for IPv6 needs an IPv6 next hop, got "${mp.nextHop}"`);
  const parts = [isV6 ? parseIPv6(mp.nextHop) : parseIPv4(mp.nextHop)];
  if (mp.linkLocalNextHop !== undefined) {
    if (!isV6) throw new BgpEncodeError('a link-local next hop needs an IPv6 global next hop (RFC 2545 §3)');
    parts.push(parseIPv6(mp.linkLocalNextHop));
  }
  const nh = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([nh.length]), nh]);
}

function mpUnreachValue(mp: MpUnreach): Buffer {
  const w = bgpWriter(64);
  w.u16(mp.family === 4 ? Afi.IPV4 : Afi.IPV6).u8(Safi.UNICAST);
  for (const p of mp.withdrawn) {
    checkFamily(p.family, mp.family, 'MP_UNREACH_NLRI');
    writePrefix(w, p);
  }
  return w.toBuffer();
}

export function checkFamily(got: number, want: number, where: string): void {
  if (got !== want) throw new BgpEncodeError(`${where} for IPv${want} holds an IPv${got} prefix`);
}

function u32Value(...values: number[]): Buffer {
  const w = bgpWriter(4 * values.length);
  for (const v of values) w.u32(v);
  return w.toBuffer();
}

interface Encoded {
  flags: number;
  typeCode: number;
  value: Buffer;
}

/** Every attribute as (flags, type, value), MP_REACH/MP_UNREACH first (RFC 7606 §5.1), the rest in
 * ascending type order (RFC 4271 §5). Without the 4-octet AS capability, ASNs above 65535 become
 * AS_TRANS and the real path travels in AS4_PATH / AS4_AGGREGATOR (RFC 6793 §4.2.2). */
export function encodeAttributeList(a: PathAttributes, fourOctetAs: boolean): Encoded[] {
  const first: Encoded[] = [];
  const rest: Encoded[] = [];
  if (a.mpReach)
    first.push({
      flags: OPTIONAL_NON_TRANSITIVE,
      typeCode: AttrType.MP_REACH_NLRI,
      value: mpReachValue(a.mpReach),
    });
  if (a.mpUnreach)
    first.push({
      flags: OPTIONAL_NON_TRANSITIVE,
      typeCode: AttrType.MP_UNREACH_NLRI,
      value: mpUnreachValue(a.mpUnreach),
    });
  if (a.origin !== undefined)
    rest.push({ flags: WELL_KNOWN, typeCode: AttrType.ORIGIN, value: Buffer.from([a.origin]) });
  if (a.asPath) {
    rest.push({ flags: WELL_KNOWN, typeCode: AttrType.AS_PATH, value: asPathValue(a.asPath, fourOctetAs) });
    const big = a.asPath.some((s) => s.asns.some((asn) => asn > 0xffff));
    if (!fourOctetAs && big) {
      // RFC 6793 §4.2.2: confederation segments are not carried in AS4_PATH.
      const as4 = a.asPath.filter((s) => s.type === 'set' || s.type === 'sequence');
      rest.push({ flags: OPTIONAL_TRANSITIVE, typeCode: AttrType.AS4_PATH, value: asPathValue(as4, true) });
    }
  }
  if (a.nextHop !== undefined)
    rest.push({ flags: WELL_KNOWN, typeCode: AttrType.NEXT_HOP, value: parseIPv4(a.nextHop) });
  if (a.med !== undefined)
    rest.push({ flags: OPTIONAL_NON_TRANSITIVE, typeCode: AttrType.MULTI_EXIT_DISC, value: u32Value(a.med) });
  if (a.localPref !== undefined)
    rest.push({ flags: WELL_KNOWN, typeCode: AttrType.LOCAL_PREF, value: u32Value(a.localPref) });
  if (a.atomicAggregate)
    rest.push({ flags: WELL_KNOWN, typeCode: AttrType.ATOMIC_AGGREGATE, value: Buffer.alloc(0) });
  if (a.aggregator) {
    const addr = parseIPv4(a.aggregator.address);
    const { asn } = a.aggregator;
    const w = bgpWriter(8);
    if (fourOctetAs) w.u32(asn);
    else w.u16(asn > 0xffff ? AS_TRANS : asn);
    rest.push({ flags: OPTIONAL_TRANSITIVE, typeCode: AttrType.AGGREGATOR, value: w.bytes(addr).toBuffer() });
    if (!fourOctetAs && asn > 0xffff)
      rest.push({
        flags: OPTIONAL_TRANSITIVE,
        typeCode: AttrType.AS4_AGGREGATOR,
        value: Buffer.concat([u32Value(asn), addr]),
      });
  }
  if (a.communities && a.communities.length > 0)
    rest.push({
      flags: OPTIONAL_TRANSITIVE,
      typeCode: AttrType.COMMUNITIES,
      value: u32Value(...a.communities),
    });
  if (a.largeCommunities && a.largeCommunities.length > 0)
    rest.push({
      flags: OPTIONAL_TRANSITIVE,
      typeCode: AttrType.LARGE_COMMUNITY,
      value: u32Value(...a.largeCommunities.flatMap((c) => [c.global, c.local1, c.local2])),
    });
  const generated = new Set(rest.map((e) => e.typeCode));
  for (const raw of a.other ?? []) {
    if (generated.has(raw.typeCode)) continue;
    rest.push({ flags: raw.flags, typeCode: raw.typeCode, value: raw.value });
  }
  rest.sort((x, y) => x.typeCode - y.typeCode);
  return [...first, ...rest];
}

export function writeAttributes(w: BufferWriter, a: PathAttributes, fourOctetAs: boolean): void {
  for (const e of encodeAttributeList(a, fourOctetAs)) writeAttribute(w, e.flags, e.typeCode, e.value);
}
