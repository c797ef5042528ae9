// UPDATE decoding with the error handling of RFC 7606. Each problem is classified as
// attribute-discard, treat-as-withdraw or session-reset (§2), and the strongest one decides
// what the session does (§3). Per-attribute rules are from RFC 7606 §7 unless noted.

import { formatIPv4, formatIPv6 } from './address.js';
import { Afi, AttrFlag, AttrType, Safi } from './constants.js';
import type { OriginCode } from './constants.js';
import type { DecodeResult, UpdateError, UpdateErrorAction } from './decode-result.js';
import { actionStrength } from './decode-result.js';
import { BgpDecodeError } from './errors.js';
import type {
  AsPathSegment,
  AsPathSegmentKind,
  CodecContext,
  LargeCommunity,
  MpReach,
  MpUnreach,
  PathAttributes,
  RawAttribute,
  UpdateMessage,
} from './messages.js';
import { notification } from './messages.js';
import { ErrorCode, UpdateSubcode } from './notification-codes.js';
import type { AddressFamily, Prefix } from './prefix.js';
import { readPrefixes } from './prefix.js';
import { BufferReader, bgpUnderrun } from './buffers.js';

const WK = AttrFlag.TRANSITIVE; // well-known: Optional 0, Transitive 1
const OT = AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE;
const ON = AttrFlag.OPTIONAL;

/** For each recognised attribute: its Optional/Transitive bits and what a malformed one costs. */
const rules: Record<number, { flags: number; malformed: UpdateErrorAction; name: string }> = {
  [AttrType.ORIGIN]: { flags: WK, malformed: 'treat-as-withdraw', name: 'ORIGIN' }, // §7.1
  [AttrType.AS_PATH]: { flags: WK, malformed: 'treat-as-withdraw', name: 'AS_PATH' }, // §7.2
  [AttrType.NEXT_HOP]: { flags: WK, malformed: 'treat-as-withdraw', name: 'NEXT_HOP' }, // §7.3
  [AttrType.MULTI_EXIT_DISC]: { flags: ON, malformed: 'treat-as-withdraw', name: 'MULTI_EXIT_DISC' }, // §7.4
  [AttrType.LOCAL_PREF]: { flags: WK, malformed: 'treat-as-withdraw', name: 'LOCAL_PREF' }, // §7.5
  [AttrType.ATOMIC_AGGREGATE]: { flags: WK, malformed: 'attribute-discard', name: 'ATOMIC_AGGREGATE' }, // §7.6
  [AttrType.AGGREGATOR]: { flags: OT, malformed: 'attribute-discard', name: 'AGGREGATOR' }, // §7.7
  [AttrType.COMMUNITIES]: { flags: OT, malformed: 'treat-as-withdraw', name: 'COMMUNITIES' }, // §7.8
  [AttrType.ORIGINATOR_ID]: { flags: ON, malformed: 'treat-as-withdraw', name: 'ORIGINATOR_ID' }, // §7.9
  [AttrType.CLUSTER_LIST]: { flags: ON, malformed: 'treat-as-withdraw', name: 'CLUSTER_LIST' }, // §7.10
  [AttrType.MP_REACH_NLRI]: { flags: ON, malformed: 'session-reset', name: 'MP_REACH_NLRI' }, // §7.11
  [AttrType.MP_UNREACH_NLRI]: { flags: ON, malformed: 'session-reset', name: 'MP_UNREACH_NLRI' }, // §7.11
  [AttrType.EXTENDED_COMMUNITIES]: {
    flags: OT,
    malformed: 'treat-as-withdraw',
    name: 'EXTENDED_COMMUNITIES',
  }, // §7.14
  [AttrType.AS4_PATH]: { flags: OT, malformed: 'attribute-discard', name: 'AS4_PATH' }, // RFC 6793 §6
  [AttrType.AS4_AGGREGATOR]: { flags: OT, malformed: 'attribute-discard', name: 'AS4_AGGREGATOR' }, // RFC 6793 §6
  [AttrType.IPV6_EXTENDED_COMMUNITIES]: {
    flags: OT,
    malformed: 'treat-as-withdraw',
    name: 'IPV6_EXT_COMMUNITIES',
  }, // §7.15
  [AttrType.LARGE_COMMUNITY]: { flags: OT, malformed: 'treat-as-withdraw', name: 'LARGE_COMMUNITY' }, // RFC 8092 §6
};

const segmentKinds: Record<number, AsPathSegmentKind> = {
  1: 'set',
  2: 'sequence',
  3: 'confed-sequence',
  4: 'confed-set',
};

/** Thrown inside one attribute's parser; becomes that attribute's malformed action. */
class Malformed {
  constructor(
    readonly subcode: number,
    readonly reason: string,
  ) {}
}

const lengthError = (name: string, len: number, want: string) =>
  new Malformed(UpdateSubcode.ATTRIBUTE_LENGTH_ERROR, `${name} length ${len}, want ${want}`);

function multipleOf(name: string, value: Buffer, unit: number): void {
  // RFC 7606 §7.8/§7.10/§7.14, RFC 8092 §6: "a non-zero multiple of" the unit.
  if (value.length === 0 || value.length % unit !== 0)
    throw lengthError(name, value.length, `a non-zero multiple of ${unit}`);
}

function exactLength(name: string, value: Buffer, want: number): void {
  if (value.length !== want) throw lengthError(name, value.length, String(want));
}

function u32s(value: Buffer): number[] {
  const out: number[] = [];
  for (let i = 0; i < value.length; i += 4) out.push(value.readUInt32BE(i));
  return out;
}

/** RFC 7606 §7.2: unknown segment type, zero-length segment, overrun, or a lone trailing octet. */
export function parseAsPath(value: Buffer, fourOctet: boolean, name = 'AS_PATH'): AsPathSegment[] {
  const width = fourOctet ? 4 : 2;
  const segments: AsPathSegment[] = [];
  let i = 0;
  while (i < value.length) {
    if (value.length - i < 2)
      throw new Malformed(UpdateSubcode.MALFORMED_AS_PATH, `${name} ends in a lone octet`);
    const kind = segmentKinds[value[i]!];
    const count = value[i + 1]!;
    if (kind === undefined)
      throw new Malformed(UpdateSubcode.MALFORMED_AS_PATH, `${name} segment type ${value[i]} is not 1..4`);
    if (count === 0) throw new Malformed(UpdateSubcode.MALFORMED_AS_PATH, `${name} has an empty segment`);
    i += 2;
    if (value.length - i < count * width)
      throw new Malformed(
        UpdateSubcode.MALFORMED_AS_PATH,
        `${name} segment of ${count} ASNs overruns the attribute`,
      );
    const asns: number[] = [];
    for (let k = 0; k < count; k++, i += width)
      asns.push(fourOctet ? value.readUInt32BE(i) : value.readUInt16BE(i));
    segments.push({ type: kind, asns });
  }
  return segments;
}

function mpFamily(afi: number, safi: number): AddressFamily | undefined {
  if (safi !== Safi.UNICAST) return undefined;
  return afi === Afi.IPV4 ? 4 : afi === Afi.IPV6 ? 6 : undefined;
}

const mpError = (what: string) =>
  bgpUnderrun(what, ErrorCode.UPDATE_MESSAGE, UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR);

/** RFC 4760 §3. Returns undefined for an AFI/SAFI this codec does not model (kept raw). */
function parseMpReach(value: Buffer): MpReach | undefined {
  const r = new BufferReader(value, mpError('MP_REACH_NLRI'));
  const afi = r.u16();
  const safi = r.u8();
  const family = mpFamily(afi, safi);
  if (family === undefined) return undefined;
  const nhLen = r.u8();
  const nh = r.bytes(nhLen);
  r.u8(); // Reserved (RFC 4760 §3: ignored on receipt)
  let mp: MpReach;
  // RFC 2545 §3: 16 octets (global) or 32 (global + link-local); RFC 8950 allows IPv6 next hops for AFI 1.
  if (nhLen === 4 && family === 4) mp = { family, nextHop: formatIPv4(nh), nlri: [] };
  else if (nhLen === 16) mp = { family, nextHop: formatIPv6(nh), nlri: [] };
  else if (nhLen === 32)
    mp = { family, nextHop: formatIPv6(nh), linkLocalNextHop: formatIPv6(nh, 16), nlri: [] };
  else
    throw new BgpDecodeError(
      `MP_REACH_NLRI next hop length ${nhLen} does not fit AFI ${afi}`,
      ErrorCode.UPDATE_MESSAGE,
      UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR,
    );
  mp.nlri = readPrefixes(r, family, mpError('MP_REACH_NLRI NLRI'));
  return mp;
}

/** RFC 4760 §4. */
function parseMpUnreach(value: Buffer): MpUnreach | undefined {
  const r = new BufferReader(value, mpError('MP_UNREACH_NLRI'));
  const family = mpFamily(r.u16(), r.u8());
  if (family === undefined) return undefined;
  return { family, withdrawn: readPrefixes(r, family, mpError('MP_UNREACH_NLRI withdrawn routes')) };
}

/** NEXT_HOP addresses that can never be a next hop; RFC 4271 §6.3 calls them semantically
 * incorrect and RFC 7606 §7.3 keeps the route out of the RIB (treat-as-withdraw). */
function invalidNextHop(b: Buffer): boolean {
  return b[0] === 0 || b[0] === 127 || b[0]! >= 224;
}

/** Decodes an UPDATE body (after the 19-octet header). */
export function decodeUpdate(body: Buffer, ctx: CodecContext): DecodeResult {
  const reset = (subcode: number, reason: string, data: Buffer = Buffer.alloc(0)): DecodeResult => ({
    action: 'session-reset',
    notification: notification(ErrorCode.UPDATE_MESSAGE, subcode, data),
    reason: `UPDATE: ${reason}`,
  });
  // RFC 4271 §6.3: lengths that cannot both fit make the NLRI impossible to locate.
  const withdrawnLen = body.readUInt16BE(0);
  if (2 + withdrawnLen + 2 > body.length)
    return reset(
      UpdateSubcode.MALFORMED_ATTRIBUTE_LIST,
      `Withdrawn Routes Length ${withdrawnLen} overruns the message`,
    );
  const attrLen = body.readUInt16BE(2 + withdrawnLen);
  const attrStart = 4 + withdrawnLen;
  if (attrStart + attrLen > body.length)
    return reset(
      UpdateSubcode.MALFORMED_ATTRIBUTE_LIST,
      `Total Path Attribute Length ${attrLen} overruns the message`,
    );

  // RFC 7606 §5.3: NLRI that cannot be parsed cannot be treated as withdrawn: reset.
  const networkField = (what: string) =>
    bgpUnderrun(what, ErrorCode.UPDATE_MESSAGE, UpdateSubcode.INVALID_NETWORK_FIELD);
  let withdrawn: Prefix[];
  let nlri: Prefix[];
  try {
    withdrawn = readPrefixes(
      new BufferReader(body.subarray(2, 2 + withdrawnLen), networkField('Withdrawn Routes')),
      4,
      networkField('Withdrawn Routes'),
    );
    nlri = readPrefixes(
      new BufferReader(body.subarray(attrStart + attrLen), networkField('NLRI')),
      4,
      networkField('NLRI'),
    );
  } catch (e) {
    if (e instanceof BgpDecodeError) return reset(e.subcode, e.message);
    throw e;
  }

  const attrs: PathAttributes = {};
  const other: RawAttribute[] = [];
  const errors: UpdateError[] = [];
  const seen = new Set<number>();
  const attrBuf = body.subarray(attrStart, attrStart + attrLen);
  let i = 0;
  while (i < attrBuf.length) {
    // RFC 7606 §4: too few octets for a header, or a value overrunning the attribute field:
    // treat-as-withdraw, relying on the Total Path Attribute Length to find the NLRI.
    const flags = attrBuf[i]!;
    const headerLen = flags & AttrFlag.EXTENDED_LENGTH ? 4 : 3;
    if (attrBuf.length - i < headerLen) {
      errors.push({
        action: 'treat-as-withdraw',
        subcode: UpdateSubcode.MALFORMED_ATTRIBUTE_LIST,
        reason: `${attrBuf.length - i} octet(s) left in the path attributes, too few for an attribute header`,
        data: Buffer.alloc(0),
      });
      break;
    }
    const typeCode = attrBuf[i + 1]!;
    const len = headerLen === 4 ? attrBuf.readUInt16BE(i + 2) : attrBuf[i + 2]!;
    if (i + headerLen + len > attrBuf.length) {
      errors.push({
        action: 'treat-as-withdraw',
        subcode: UpdateSubcode.ATTRIBUTE_LENGTH_ERROR,
        typeCode,
        reason: `attribute ${typeCode} length ${len} overruns the path attributes`,
        data: attrBuf.subarray(i),
      });
      break;
    }
    const whole = attrBuf.subarray(i, i + headerLen + len);
    const value = whole.subarray(headerLen);
    i += headerLen + len;

    const rule = rules[typeCode];
    const name = rule?.name ?? `attribute ${typeCode}`;
    // RFC 7606 §3(g): a repeated MP_REACH/MP_UNREACH resets; any other repeat is dropped.
    if (seen.has(typeCode)) {
      if (typeCode === AttrType.MP_REACH_NLRI || typeCode === AttrType.MP_UNREACH_NLRI)
        return reset(UpdateSubcode.MALFORMED_ATTRIBUTE_LIST, `${name} appears more than once`);
      errors.push({
        action: 'attribute-discard',
        subcode: UpdateSubcode.MALFORMED_ATTRIBUTE_LIST,
        typeCode,
        reason: `${name} appears more than once; later copies discarded`,
        data: whole,
      });
      continue;
    }
    seen.add(typeCode);

    if (!rule) {
      // RFC 4271 §6.3: an unrecognised well-known attribute cannot be handled any other way.
      if (!(flags & AttrFlag.OPTIONAL))
        return reset(
          UpdateSubcode.UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE,
          `${name} is well-known but unrecognised`,
          whole,
        );
      other.push({ flags: flags & 0xf0, typeCode, value });
      continue;
    }

    try {
      // RFC 7606 §3(a): conflicting Optional/Transitive bits make the attribute malformed.
      if ((flags & (AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE)) !== rule.flags)
        throw new Malformed(
          UpdateSubcode.ATTRIBUTE_FLAGS_ERROR,
          `${name} flags 0x${flags.toString(16)} conflict with its type`,
        );
      parseKnown(typeCode, value, flags, ctx, attrs, other, errors, whole);
    } catch (e) {
      let m: Malformed;
      if (e instanceof Malformed) m = e;
      else if (e instanceof BgpDecodeError) m = new Malformed(e.subcode, e.message);
      else throw e;
      if (rule.malformed === 'session-reset')
        return reset(
          m.subcode === UpdateSubcode.ATTRIBUTE_FLAGS_ERROR
            ? m.subcode
            : UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR,
          m.reason,
          whole,
        );
      errors.push({ action: rule.malformed, subcode: m.subcode, typeCode, reason: m.reason, data: whole });
    }
  }

  // RFC 7606 §3(c) with RFC 4760 §3: ORIGIN and AS_PATH are required when the message carries
  // reachable NLRI anywhere, NEXT_HOP only when the NLRI field does. An UPDATE that only withdraws
  // needs none.
  const reachesMp =
    seen.has(AttrType.MP_REACH_NLRI) && (attrs.mpReach === undefined || attrs.mpReach.nlri.length > 0);
  if (nlri.length > 0 || reachesMp) {
    const required = [AttrType.ORIGIN, AttrType.AS_PATH, ...(nlri.length > 0 ? [AttrType.NEXT_HOP] : [])];
    for (const t of required)
      if (!seen.has(t))
        errors.push({
          action: 'treat-as-withdraw',
          subcode: UpdateSubcode.MISSING_WELL_KNOWN_ATTRIBUTE,
          typeCode: t,
          reason: `${rules[t]!.name} is missing`,
          data: Buffer.from([t]),
        });
  }

  // Attribute order carries no meaning (RFC 4271 §5); sorting makes decoded messages canonical.
  if (other.length > 0) attrs.other = other.sort((a, b) => a.typeCode - b.typeCode);
  const message: UpdateMessage = { type: 'update', withdrawn, attributes: attrs, nlri };
  if (errors.length === 0) return { action: 'ok', message };
  const worst = errors.reduce((a, e) => (actionStrength[e.action] > actionStrength[a.action] ? e : a));
  if (worst.action === 'attribute-discard') return { action: 'attribute-discard', message, errors };
  return {
    action: 'treat-as-withdraw',
    withdrawn: [...withdrawn, ...nlri, ...(attrs.mpReach?.nlri ?? []), ...(attrs.mpUnreach?.withdrawn ?? [])],
    errors,
  };
}

function parseKnown(
  typeCode: number,
  value: Buffer,
  flags: number,
  ctx: CodecContext,
  attrs: PathAttributes,
  other: RawAttribute[],
  errors: UpdateError[],
  whole: Buffer,
): void {
  switch (typeCode) {
    case AttrType.ORIGIN:
      exactLength('ORIGIN', value, 1);
      if (value[0]! > 2)
        throw new Malformed(UpdateSubcode.INVALID_ORIGIN, `ORIGIN value ${value[0]} is not 0..2`);
      attrs.origin = value[0] as OriginCode;
      return;
    case AttrType.AS_PATH:
      attrs.asPath = parseAsPath(value, ctx.fourOctetAs);
      return;
    case AttrType.NEXT_HOP:
      exactLength('NEXT_HOP', value, 4);
      if (invalidNextHop(value))
        throw new Malformed(
          UpdateSubcode.INVALID_NEXT_HOP,
          `NEXT_HOP ${formatIPv4(value)} is not a unicast host address`,
        );
      attrs.nextHop = formatIPv4(value);
      return;
    case AttrType.MULTI_EXIT_DISC:
      exactLength('MULTI_EXIT_DISC', value, 4);
      attrs.med = value.readUInt32BE(0);
      return;
    case AttrType.LOCAL_PREF:
      exactLength('LOCAL_PREF', value, 4);
      // RFC 7606 §7.5 (RFC 4271 §5.1.5): LOCAL_PREF from an external peer is discarded.
      if (ctx.external) {
        errors.push({
          action: 'attribute-discard',
          subcode: 0,
          typeCode,
          reason: 'LOCAL_PREF from an external peer discarded',
          data: whole,
        });
        return;
      }
      attrs.localPref = value.readUInt32BE(0);
      return;
    case AttrType.ATOMIC_AGGREGATE:
      exactLength('ATOMIC_AGGREGATE', value, 0);
      attrs.atomicAggregate = true;
      return;
    case AttrType.AGGREGATOR: {
      const width = ctx.fourOctetAs ? 4 : 2;
      exactLength('AGGREGATOR', value, width + 4);
      attrs.aggregator = {
        asn: width === 4 ? value.readUInt32BE(0) : value.readUInt16BE(0),
        address: formatIPv4(value, width),
      };
      return;
    }
    case AttrType.COMMUNITIES:
      multipleOf('COMMUNITIES', value, 4);
      attrs.communities = u32s(value);
      return;
    case AttrType.LARGE_COMMUNITY: {
      multipleOf('LARGE_COMMUNITY', value, 12);
      const v = u32s(value);
      const list: LargeCommunity[] = [];
      for (let k = 0; k < v.length; k += 3)
        list.push({ global: v[k]!, local1: v[k + 1]!, local2: v[k + 2]! });
      attrs.largeCommunities = list;
      return;
    }
    case AttrType.MP_REACH_NLRI: {
      const mp = parseMpReach(value);
      if (mp) attrs.mpReach = mp;
      else other.push({ flags: flags & 0xf0, typeCode, value });
      return;
    }
    case AttrType.MP_UNREACH_NLRI: {
      const mp = parseMpUnreach(value);
      if (mp) attrs.mpUnreach = mp;
      else other.push({ flags: flags & 0xf0, typeCode, value });
      return;
    }
    case AttrType.ORIGINATOR_ID:
      exactLength('ORIGINATOR_ID', value, 4);
      break;
    case AttrType.CLUSTER_LIST:
      multipleOf('CLUSTER_LIST', value, 4);
      break;
    case AttrType.EXTENDED_COMMUNITIES:
      multipleOf('EXTENDED_COMMUNITIES', value, 8);
      break;
    case AttrType.IPV6_EXTENDED_COMMUNITIES:
      multipleOf('IPV6_EXT_COMMUNITIES', value, 20);
      break;
    case AttrType.AS4_PATH:
      parseAsPath(value, true, 'AS4_PATH');
      break;
    case AttrType.AS4_AGGREGATOR:
      exactLength('AS4_AGGREGATOR', value, 8);
      break;
  }
  // Recognised and checked, but carried raw.
  other.push({ flags: flags & 0xf0, typeCode, value });
}
