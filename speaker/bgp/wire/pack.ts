// Packing many prefixes that share one attribute set into as few UPDATEs as the session's
// maximum message size allows: IPv4 in the NLRI / Withdrawn Routes fields (RFC 4271 §4.3), IPv6
// inside MP_REACH_NLRI / MP_UNREACH_NLRI (RFC 4760). The shared attributes are encoded once and
// each prefix once, then copied into place, so announcing 10,000 /32s is a few memcpys.

import { HEADER_LENGTH, MessageType, Afi, Safi, AttrFlag, AttrType } from './constants.js';
import { attributeHeaderLength, mpNextHop, writeAttribute, writeAttributes } from './encode-attributes.js';
import { finishMessage, startMessage } from './encode.js';
import { BgpEncodeError } from './errors.js';
import type { CodecContext, PathAttributes } from './messages.js';
import type { Prefix } from './prefix.js';
import { writePrefix } from './prefix.js';
import { bgpWriter } from './buffers.js';

/** Header + Withdrawn Routes Length + Total Path Attribute Length. */
const UPDATE_OVERHEAD = HEADER_LENGTH + 4;

/** Every prefix encoded back to back in one buffer, and the offset where each one ends: one
 * allocation for the whole table instead of one per prefix (the benchmark's hot spot). */
interface Encoded {
  bytes: Buffer;
  ends: number[];
}

function encodedPrefixes(prefixes: readonly Prefix[]): Encoded {
  const w = bgpWriter(Math.max(16, prefixes.length * 5)); // an IPv4 /32 takes 5 octets
  const ends: number[] = [];
  for (const p of prefixes) {
    writePrefix(w, p);
    ends.push(w.length);
  }
  return { bytes: w.toBuffer(), ends };
}

/**
 * Splits the encoded prefixes greedily into runs of octets [start, end); `fits(n)` says whether
 * a message whose prefixes take n octets is within the limit. Greedy in order is optimal here:
 * a run can only end where the next prefix would not fit.
 */
function groups(items: Encoded, fits: (octets: number) => boolean, what: string): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  let prev = 0;
  for (const end of items.ends) {
    if (!fits(end - start)) {
      if (prev === start) throw new BgpEncodeError(`${what}: the attributes leave no room for a prefix`);
      out.push(items.bytes.subarray(start, prev));
      start = prev;
      if (!fits(end - start)) throw new BgpEncodeError(`${what}: the attributes leave no room for a prefix`);
    }
    prev = end;
  }
  if (prev > start) out.push(items.bytes.subarray(start, prev));
  return out;
}

const afiOf = (family: 4 | 6): number => (family === 4 ? Afi.IPV4 : Afi.IPV6);

/**
 * UPDATEs announcing every prefix with `attributes`. IPv4 prefixes need `attributes.nextHop`;
 * IPv6 prefixes need `attributes.mpReach` (its `nlri` is ignored: the prefixes go there).
 */
export function packAnnouncements(
  prefixes: readonly Prefix[],
  attributes: PathAttributes,
  ctx: CodecContext,
): Buffer[] {
  const v4 = prefixes.filter((p) => p.family === 4);
  const v6 = prefixes.filter((p) => p.family === 6);
  const out: Buffer[] = [];
  const { mpReach, mpUnreach: _unused, ...shared } = attributes;
  if (v4.length > 0) {
    if (shared.nextHop === undefined)
      throw new BgpEncodeError('announcing IPv4 prefixes needs attributes.nextHop');
    const attrs = bgpWriter(128);
    writeAttributes(attrs, shared, ctx.fourOctetAs);
    const attrBytes = attrs.toBuffer();
    const base = UPDATE_OVERHEAD + attrBytes.length;
    for (const group of groups(encodedPrefixes(v4), (n) => base + n <= ctx.maxMessageSize, 'IPv4 UPDATE')) {
      const w = startMessage(MessageType.UPDATE, ctx.maxMessageSize);
      w.u16(0).u16(attrBytes.length).bytes(attrBytes).bytes(group);
      out.push(finishMessage(w, ctx.maxMessageSize, 'UPDATE'));
    }
  }
  if (v6.length > 0) {
    if (!mpReach || mpReach.family !== 6)
      throw new BgpEncodeError('announcing IPv6 prefixes needs attributes.mpReach with an IPv6 next hop');
    const { nextHop: _v4NextHop, ...rest } = shared;
    const attrs = bgpWriter(128);
    writeAttributes(attrs, rest, ctx.fourOctetAs);
    const restBytes = attrs.toBuffer();
    // MP_REACH_NLRI value: AFI, SAFI, next hop length + address(es), Reserved, then NLRI.
    const mpHead = Buffer.concat([
      Buffer.from([0, Afi.IPV6, Safi.UNICAST]),
      mpNextHop(mpReach),
      Buffer.from([0]),
    ]);
    const base = UPDATE_OVERHEAD + restBytes.length;
    const size = (n: number) => base + attributeHeaderLength(mpHead.length + n) + mpHead.length + n;
    for (const group of groups(encodedPrefixes(v6), (n) => size(n) <= ctx.maxMessageSize, 'IPv6 UPDATE')) {
      out.push(mpMessage(AttrType.MP_REACH_NLRI, mpHead, group, restBytes, ctx.maxMessageSize));
    }
  }
  return out;
}

/** UPDATEs withdrawing every prefix: the Withdrawn Routes field for IPv4, MP_UNREACH_NLRI for IPv6. */
export function packWithdrawals(prefixes: readonly Prefix[], ctx: CodecContext): Buffer[] {
  const out: Buffer[] = [];
  const v4 = prefixes.filter((p) => p.family === 4);
  const v6 = prefixes.filter((p) => p.family === 6);
  for (const group of groups(
    encodedPrefixes(v4),
    (n) => UPDATE_OVERHEAD + n <= ctx.maxMessageSize,
    'IPv4 withdrawal',
  )) {
    const w = startMessage(MessageType.UPDATE, ctx.maxMessageSize);
    w.u16(group.length).bytes(group).u16(0);
    out.push(finishMessage(w, ctx.maxMessageSize, 'UPDATE'));
  }
  const mpHead = Buffer.from([0, afiOf(6), Safi.UNICAST]);
  const size = (n: number) => UPDATE_OVERHEAD + attributeHeaderLength(mpHead.length + n) + mpHead.length + n;
  for (const group of groups(encodedPrefixes(v6), (n) => size(n) <= ctx.maxMessageSize, 'IPv6 withdrawal'))
    out.push(mpMessage(AttrType.MP_UNREACH_NLRI, mpHead, group, Buffer.alloc(0), ctx.maxMessageSize));
  return out;
}

/** An UPDATE whose only NLRI are in an MP attribute, written first (RFC 7606 §5.1). */
function mpMessage(typeCode: number, head: Buffer, group: Buffer, restAttrs: Buffer, max: number): Buffer {
  const w = startMessage(MessageType.UPDATE, max);
  w.u16(0);
  const at = w.placeholder(2);
  writeAttribute(w, AttrFlag.OPTIONAL, typeCode, Buffer.concat([head, group]));
  w.bytes(restAttrs);
  w.patchLength(at, 2, 'Path Attributes');
  return finishMessage(w, max, 'UPDATE');
}
