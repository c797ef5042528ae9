// The membership datagram: authenticated first, parsed second, never larger than one frame.
//
//  offset size
//  0      4    magic "BCN2"
//  4      1    version (2)
//  5      1    kind: 1 heartbeat, 2 ack, 3 sync, 4 sync-ack, 5 push
//  6      1    flags: 0x01 sender healthy, 0x02 monitor me (heartbeat)
//  7      1    sender name length N (1..253)
//  8      8    sender incarnation (unsigned, big-endian)
//  16     4    sequence number
//  20     8    sent at, sender's wall clock in ms (replay window across receiver restarts)
//  28     8    ack: the acknowledged seq; sync-ack: the joiner's incarnation; else 0
//  36     N    sender name, UTF-8
//  36+N   1    rumour count R
//  ...         R × (name length n, name, incarnation 8, status 1: 0 alive, 1 dead, 2 left; +4 healthy)
//  end-16 16   HMAC-SHA256(key, every byte before it), first 128 bits (RFC 2104 §5)
//
// Cost of hostile input: a datagram of the wrong size, magic or version is refused before any
// cryptography; everything else costs one HMAC over at most 1,400 bytes before it is refused.
// Nothing unauthenticated is parsed. Replays are the state machine's business (per-sender
// sequence window, member.ts) plus the sent-at window checked here.

import { createHmac, timingSafeEqual } from 'node:crypto';
import {
  fixedHeaderBytes,
  macBytes,
  maxDatagramBytes,
  type MemberStatus,
  type Message,
  type Rumour,
} from './messages.js';

export const datagramMagic = Buffer.from('BCN2', 'ascii');
export const datagramVersion = 2;

const kinds = ['heartbeat', 'ack', 'sync', 'sync-ack', 'push'] as const;
const statuses: readonly MemberStatus[] = ['alive', 'dead', 'left'];
const Flag = { Healthy: 0x01, Monitor: 0x02 } as const;
/** Smallest valid datagram: header, a one-byte name, the rumour count, the MAC. */
const minBytes = fixedHeaderBytes + 1 + 1 + macBytes;

export type DropCause = 'size' | 'magic' | 'version' | 'auth' | 'malformed' | 'old';

export type Decoded =
  | { readonly ok: true; readonly message: Message; readonly sentAt: number }
  | { readonly ok: false; readonly cause: DropCause; readonly detail: string };

export function encodeDatagram(m: Message, key: Buffer, sentAt: number): Buffer {
  const from = Buffer.from(m.from, 'utf8');
  if (from.length < 1 || from.length > 253)
    throw new RangeError(`membership datagram: sender name ${JSON.stringify(m.from)} must be 1..253 bytes`);
  if (m.rumours.length > 255)
    throw new RangeError(`membership datagram: ${m.rumours.length} rumours, at most 255`);
  const names = m.rumours.map((r) => Buffer.from(r.node, 'utf8'));
  let size = fixedHeaderBytes + from.length + 1 + macBytes;
  for (const n of names) size += 1 + n.length + 9;
  if (size > maxDatagramBytes)
    throw new RangeError(
      `membership datagram: ${size} bytes exceed ${maxDatagramBytes} (${m.rumours.length} rumours)`,
    );
  const b = Buffer.alloc(size);
  datagramMagic.copy(b, 0);
  b[4] = datagramVersion;
  b[5] = kinds.indexOf(m.kind) + 1;
  b[6] = (m.healthy ? Flag.Healthy : 0) | (m.kind === 'heartbeat' && m.monitor ? Flag.Monitor : 0);
  b[7] = from.length;
  b.writeBigUInt64BE(BigInt(m.incarnation), 8);
  b.writeUInt32BE(m.seq >>> 0, 16);
  b.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(sentAt))), 20);
  const extra = m.kind === 'ack' ? m.ack : m.kind === 'sync-ack' ? m.joined : 0;
  b.writeBigUInt64BE(BigInt(extra), 28);
  let at = fixedHeaderBytes;
  at += from.copy(b, at);
  b[at++] = m.rumours.length;
  for (const [i, r] of m.rumours.entries()) {
    const n = names[i] as Buffer;
    if (n.length < 1 || n.length > 253)
      throw new RangeError(`membership datagram: rumour node ${JSON.stringify(r.node)} must be 1..253 bytes`);
    b[at++] = n.length;
    at += n.copy(b, at);
    b.writeBigUInt64BE(BigInt(r.incarnation), at);
    at += 8;
    b[at++] = statuses.indexOf(r.status) | (r.healthy ? 4 : 0);
  }
  mac(key, b.subarray(0, at)).copy(b, at, 0, macBytes);
  return b;
}

/**
 * `now` is this node's wall clock in ms; datagrams sent more than `maxAgeMs` before it (or
 * after it) are refused as replays from an earlier time.
 */
export function decodeDatagram(d: Buffer, key: Buffer, now: number, maxAgeMs = 30_000): Decoded {
  const fail = (cause: DropCause, detail: string): Decoded => ({ ok: false, cause, detail });
  if (d.length < minBytes || d.length > maxDatagramBytes) return fail('size', `${d.length} bytes`);
  if (d[0] !== 0x42 || d[1] !== 0x43 || d[2] !== 0x4e || d[3] !== 0x32)
    return fail('magic', d.subarray(0, 4).toString('hex'));
  if (d[4] !== datagramVersion)
    return fail('version', `version ${d[4]}, this speaker speaks ${datagramVersion}`);
  const body = d.subarray(0, d.length - macBytes);
  if (!timingSafeEqual(mac(key, body).subarray(0, macBytes), d.subarray(d.length - macBytes)))
    return fail('auth', 'HMAC does not match the membership key');
  const kind = kinds[(d[5] ?? 0) - 1];
  if (kind === undefined) return fail('malformed', `kind ${d[5]}`);
  const flags = d[6] ?? 0;
  const nameLength = d[7] ?? 0;
  const incarnation = readSafe(body, 8);
  const sentAt = readSafe(body, 20);
  const extra = readSafe(body, 28);
  if (incarnation === undefined || sentAt === undefined || extra === undefined)
    return fail('malformed', 'a 64-bit field is beyond 2^53');
  if (Math.abs(now - sentAt) > maxAgeMs) return fail('old', `sent ${Math.round(now - sentAt)} ms from now`);
  let at = fixedHeaderBytes;
  if (nameLength < 1 || at + nameLength + 1 > body.length)
    return fail('malformed', `sender name length ${nameLength}`);
  const from = body.toString('utf8', at, at + nameLength);
  at += nameLength;
  const count = body[at++] ?? 0;
  const rumours: Rumour[] = [];
  for (let i = 0; i < count; i++) {
    const n = body[at] ?? 0;
    if (n < 1 || at + 1 + n + 9 > body.length) return fail('malformed', `rumour ${i} truncated`);
    const node = body.toString('utf8', at + 1, at + 1 + n);
    at += 1 + n;
    const inc = readSafe(body, at);
    const flagsByte = body[at + 8] ?? 0;
    const status = statuses[flagsByte & 3];
    if (inc === undefined || status === undefined || (flagsByte & ~7) !== 0)
      return fail('malformed', `rumour ${i} about ${JSON.stringify(node)}`);
    rumours.push({ node, incarnation: inc, status, healthy: (flagsByte & 4) !== 0 });
    at += 9;
  }
  if (at !== body.length) return fail('malformed', `${body.length - at} trailing bytes`);
  const seq = body.readUInt32BE(16);
  const healthy = (flags & Flag.Healthy) !== 0;
  const base = { from, incarnation, seq, healthy, rumours };
  let message: Message;
  switch (kind) {
    case 'heartbeat':
      message = { ...base, kind, monitor: (flags & Flag.Monitor) !== 0 };
      break;
    case 'ack':
      message = { ...base, kind, ack: extra };
      break;
    case 'sync-ack':
      message = { ...base, kind, joined: extra };
      break;
    default:
      message = { ...base, kind };
  }
  return { ok: true, message, sentAt };
}

function readSafe(b: Buffer, at: number): number | undefined {
  const v = b.readBigUInt64BE(at);
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? undefined : Number(v);
}

function mac(key: Buffer, body: Buffer): Buffer {
  return createHmac('sha256', key).update(body).digest();
}
