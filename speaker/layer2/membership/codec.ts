// The heartbeat datagram: versioned, authenticated with HMAC-SHA256 under the cluster's
// membership key, so that a random UDP sender on the node network can neither forge nor
// alter membership. Pure: bytes in, typed message out (the shape of node-postgres' pg-protocol parser).
//
//  offset size
//  0      4    magic "BCNM"
//  4      1    version (1)
//  5      1    type (1 = heartbeat)
//  6      1    flags: 0x01 link up, 0x02 responder working, 0x04 ready, 0x08 leaving
//  7      1    node name length N (1..253, a DNS subdomain)
//  8      8    incarnation, unsigned, big-endian (the speaker's start time in ms)
//  16     4    sequence number within the incarnation
//  20     N    node name, UTF-8
//  20+N   2    claim count C
//  ...         C claims: family (1 byte: 4 or 6), address (4 or 16 bytes), term (4 bytes)
//  end-32 32   HMAC-SHA256(key, every byte before it)

import { createHmac, timingSafeEqual } from 'node:crypto';
import { formatIPValue, tryParseIP } from '../../../lib/ip/index.js';
import type { Heartbeat } from './types.js';

export const heartbeatMagic = Buffer.from('BCNM', 'ascii');
export const heartbeatVersion = 1;
const typeHeartbeat = 1;
const macLength = 32;
const headerLength = 20;
/** The largest UDP payload over IPv4; a heartbeat never exceeds it. */
export const maxDatagram = 65507;

const Flag = { LinkUp: 0x01, ResponderOk: 0x02, Ready: 0x04, Leaving: 0x08 } as const;

export type DecodeFailure = 'short' | 'magic' | 'version' | 'type' | 'mac' | 'malformed';

export type DecodeResult =
  | { readonly ok: true; readonly value: Heartbeat }
  | { readonly ok: false; readonly reason: DecodeFailure; readonly detail: string };

export function encodeHeartbeat(hb: Heartbeat, key: Buffer): Buffer {
  const name = Buffer.from(hb.node, 'utf8');
  if (name.length < 1 || name.length > 253)
    throw new RangeError(`heartbeat: node name ${JSON.stringify(hb.node)} must be 1..253 bytes`);
  const claims: Buffer[] = [];
  for (const [ip, term] of [...hb.claims].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const parsed = tryParseIP(ip);
    if (parsed === undefined)
      throw new RangeError(`heartbeat: claim ${JSON.stringify(ip)} is not an IP address`);
    if (!Number.isInteger(term) || term < 0 || term > 0xffff_ffff)
      throw new RangeError(`heartbeat: claim ${ip} term ${term} is not a uint32`);
    const bytes = parsed.family === 4 ? 4 : 16;
    const claim = Buffer.alloc(1 + bytes + 4);
    claim.writeUInt8(parsed.family, 0);
    for (let i = 0; i < bytes; i++)
      claim[1 + i] = Number((parsed.value >> BigInt(8 * (bytes - 1 - i))) & 0xffn);
    claim.writeUInt32BE(term, 1 + bytes);
    claims.push(claim);
  }
  if (claims.length > 0xffff) throw new RangeError(`heartbeat: ${claims.length} claims exceed 65535`);
  const header = Buffer.alloc(headerLength);
  heartbeatMagic.copy(header, 0);
  header.writeUInt8(heartbeatVersion, 4);
  header.writeUInt8(typeHeartbeat, 5);
  header.writeUInt8(
    (hb.linkUp ? Flag.LinkUp : 0) |
      (hb.responderOk ? Flag.ResponderOk : 0) |
      (hb.ready ? Flag.Ready : 0) |
      (hb.leaving ? Flag.Leaving : 0),
    6,
  );
  header.writeUInt8(name.length, 7);
  header.writeBigUInt64BE(BigInt(hb.incarnation), 8);
  header.writeUInt32BE(hb.seq >>> 0, 16);
  const count = Buffer.alloc(2);
  count.writeUInt16BE(claims.length, 0);
  const body = Buffer.concat([header, name, count, ...claims]);
  if (body.length + macLength > maxDatagram) {
    throw new RangeError(
      `heartbeat: ${body.length + macLength} bytes exceed one datagram (${claims.length} claims)`,
    );
  }
  return Buffer.concat([body, mac(key, body)]);
}

export function decodeHeartbeat(datagram: Buffer, key: Buffer): DecodeResult {
  const fail = (reason: DecodeFailure, detail: string): DecodeResult => ({ ok: false, reason, detail });
  if (datagram.length < headerLength + 2 + macLength) return fail('short', `${datagram.length} bytes`);
  if (!datagram.subarray(0, 4).equals(heartbeatMagic))
    return fail('magic', datagram.subarray(0, 4).toString('hex'));
  const version = datagram.readUInt8(4);
  if (version !== heartbeatVersion)
    return fail('version', `version ${version}, this speaker speaks ${heartbeatVersion}`);
  // Authenticate before parsing anything further: unauthenticated bytes reach no other code.
  const body = datagram.subarray(0, datagram.length - macLength);
  if (!timingSafeEqual(mac(key, body), datagram.subarray(datagram.length - macLength))) {
    return fail('mac', 'HMAC does not match the membership key');
  }
  const type = datagram.readUInt8(5);
  if (type !== typeHeartbeat) return fail('type', `type ${type}`);
  const flags = datagram.readUInt8(6);
  const nameLength = datagram.readUInt8(7);
  const incarnation = datagram.readBigUInt64BE(8);
  if (incarnation > BigInt(Number.MAX_SAFE_INTEGER)) return fail('malformed', `incarnation ${incarnation}`);
  const seq = datagram.readUInt32BE(16);
  let at = headerLength;
  if (nameLength === 0 || at + nameLength + 2 > body.length)
    return fail('malformed', `node name length ${nameLength}`);
  const node = body.toString('utf8', at, at + nameLength);
  at += nameLength;
  const count = body.readUInt16BE(at);
  at += 2;
  const claims = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    if (at + 1 > body.length) return fail('malformed', `claim ${i} truncated`);
    const family = body.readUInt8(at);
    if (family !== 4 && family !== 6) return fail('malformed', `claim ${i} family ${family}`);
    const bytes = family === 4 ? 4 : 16;
    if (at + 1 + bytes + 4 > body.length) return fail('malformed', `claim ${i} truncated`);
    let value = 0n;
    for (let j = 0; j < bytes; j++) value = (value << 8n) | BigInt(body[at + 1 + j] ?? 0);
    claims.set(formatIPValue(family, value), body.readUInt32BE(at + 1 + bytes));
    at += 1 + bytes + 4;
  }
  if (at !== body.length) return fail('malformed', `${body.length - at} trailing bytes`);
  return {
    ok: true,
    value: {
      node,
      incarnation: Number(incarnation),
      seq,
      linkUp: (flags & Flag.LinkUp) !== 0,
      responderOk: (flags & Flag.ResponderOk) !== 0,
      ready: (flags & Flag.Ready) !== 0,
      leaving: (flags & Flag.Leaving) !== 0,
      claims,
    },
  };
}

function mac(key: Buffer, body: Buffer): Buffer {
  return createHmac('sha256', key).update(body).digest();
}
