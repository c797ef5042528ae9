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
//  ...         R × (name length n, name, incarnation 8, status 1: 0 alive, 1 dead, 2 left,
//                   3 restarting; +4 healthy; then, for restarting only, hold ms 2)
//  end-16 16   HMAC-SHA256(key, every byte before it), first 128 bits (RFC 2104 §5)
//
// Cost of hostile input: a datagram of the wrong size, magic or version is refused before any
// cryptography; everything else costs one HMAC over at most 1,400 bytes before it is refused.
// Nothing unauthenticated is parsed. Replays are the state machine's business (per-sender
// sequence window, member.ts) plus the sent-at window checked here. Fields are read and written
// with lib/wire's bounds-checked reader and writer, like every other codec.

import { createHmac, timingSafeEqual } from 'node:crypto';
import { BufferReader } from '../../../lib/wire/reader.js';
import { BufferWriter } from '../../../lib/wire/writer.js';
import {
  fixedHeaderBytes,
  macBytes,
  maxDatagramBytes,
  rumourBytes,
  wireHoldMs,
  type MemberStatus,
  type Message,
  type Rumour,
} from './messages.js';

export const datagramMagic = Buffer.from('BCN2', 'ascii');
export const datagramVersion = 2;

const kinds = ['heartbeat', 'ack', 'sync', 'sync-ack', 'push'] as const;
const statuses: readonly MemberStatus[] = ['alive', 'dead', 'left', 'restarting'];
const Flag = { Healthy: 0x01, Monitor: 0x02 } as const;
/** Rumour byte: bits 0–1 the status, bit 2 healthy; the rest must be 0. */
const RumourHealthy = 0x04;
/** Smallest valid datagram: header, a one-byte name, the rumour count, the MAC. */
const minBytes = fixedHeaderBytes + 1 + 1 + macBytes;

export type DropCause = 'size' | 'magic' | 'version' | 'auth' | 'malformed' | 'old';

export type Decoded =
  | { readonly ok: true; readonly message: Message; readonly sentAt: number }
  | { readonly ok: false; readonly cause: DropCause; readonly detail: string };

/** An authenticated datagram whose body does not parse (a peer's bug, not an attack). */
class Malformed extends Error {}

const encodeError = (message: string): Error => new RangeError(`membership datagram: ${message}`);

export function encodeDatagram(m: Message, key: Buffer, sentAt: number): Buffer {
  const from = Buffer.from(m.from, 'utf8');
  if (from.length < 1 || from.length > 253)
    throw encodeError(`sender name ${JSON.stringify(m.from)} must be 1..253 bytes`);
  if (m.rumours.length > 255) throw encodeError(`${m.rumours.length} rumours, at most 255`);
  const names = m.rumours.map((r) => Buffer.from(r.node, 'utf8'));
  let size = fixedHeaderBytes + from.length + 1 + macBytes;
  for (const r of m.rumours) size += rumourBytes(r);
  if (size > maxDatagramBytes)
    throw encodeError(`${size} bytes exceed ${maxDatagramBytes} (${m.rumours.length} rumours)`);
  const w = new BufferWriter(size, encodeError);
  w.bytes(datagramMagic)
    .u8(datagramVersion)
    .u8(kinds.indexOf(m.kind) + 1)
    .u8((m.healthy ? Flag.Healthy : 0) | (m.kind === 'heartbeat' && m.monitor ? Flag.Monitor : 0))
    .u8(from.length)
    .u64(BigInt(m.incarnation))
    .u32(m.seq >>> 0)
    .u64(BigInt(Math.max(0, Math.floor(sentAt))))
    .u64(BigInt(m.kind === 'ack' ? m.ack : m.kind === 'sync-ack' ? m.joined : 0))
    .bytes(from)
    .u8(m.rumours.length);
  for (const [i, r] of m.rumours.entries()) {
    const n = names[i] as Buffer;
    if (n.length < 1 || n.length > 253)
      throw encodeError(`rumour node ${JSON.stringify(r.node)} must be 1..253 bytes`);
    w.u8(n.length)
      .bytes(n)
      .u64(BigInt(r.incarnation))
      .u8(statuses.indexOf(r.status) | (r.healthy ? RumourHealthy : 0));
    if (r.status === 'restarting') w.u16(wireHoldMs(r.holdMs ?? 0));
  }
  const body = w.toBuffer();
  return Buffer.concat([body, mac(key, body).subarray(0, macBytes)], size);
}

/**
 * `now` is this node's wall clock in ms; datagrams sent more than `maxAgeMs` before it (or
 * after it) are refused as replays from an earlier time.
 */
export function decodeDatagram(d: Buffer, key: Buffer, now: number, maxAgeMs = 30_000): Decoded {
  const fail = (cause: DropCause, detail: string): Decoded => ({ ok: false, cause, detail });
  if (d.length < minBytes || d.length > maxDatagramBytes) return fail('size', `${d.length} bytes`);
  if (!d.subarray(0, 4).equals(datagramMagic)) return fail('magic', d.subarray(0, 4).toString('hex'));
  if (d[4] !== datagramVersion)
    return fail('version', `version ${d[4]}, this speaker speaks ${datagramVersion}`);
  const body = d.subarray(0, d.length - macBytes);
  if (!timingSafeEqual(mac(key, body).subarray(0, macBytes), d.subarray(d.length - macBytes)))
    return fail('auth', 'HMAC does not match the membership key');
  try {
    const { message, sentAt } = parseBody(body);
    if (Math.abs(now - sentAt) > maxAgeMs) return fail('old', `sent ${Math.round(now - sentAt)} ms from now`);
    return { ok: true, message, sentAt };
  } catch (err) {
    if (err instanceof Malformed) return fail('malformed', err.message);
    throw err;
  }
}

/** The authenticated bytes before the MAC; throws Malformed. */
function parseBody(body: Buffer): { message: Message; sentAt: number } {
  const r = new BufferReader(body, { what: 'membership datagram', fail: (m) => new Malformed(m) });
  r.skip(5); // magic and version, checked before the MAC
  const kindByte = r.u8();
  const kind = kinds[kindByte - 1];
  if (kind === undefined) throw new Malformed(`kind ${kindByte}`);
  const flags = r.u8();
  const nameLength = r.u8();
  const incarnation = safe(r.u64(), 'incarnation');
  const seq = r.u32();
  const sentAt = safe(r.u64(), 'sent at');
  const extra = safe(r.u64(), 'ack/joined');
  if (nameLength < 1) throw new Malformed(`sender name length ${nameLength}`);
  const from = r.bytes(nameLength).toString('utf8');
  const count = r.u8();
  const rumours: Rumour[] = [];
  for (let i = 0; i < count; i++) {
    const n = r.u8();
    if (n < 1) throw new Malformed(`rumour ${i}: node name length 0`);
    const node = r.bytes(n).toString('utf8');
    const inc = safe(r.u64(), `rumour ${i} incarnation`);
    const flagsByte = r.u8();
    const status = statuses[flagsByte & 3];
    if (status === undefined || (flagsByte & ~7) !== 0)
      throw new Malformed(`rumour ${i} about ${JSON.stringify(node)}: flags 0x${flagsByte.toString(16)}`);
    const healthy = (flagsByte & RumourHealthy) !== 0;
    rumours.push(
      status === 'restarting'
        ? { node, incarnation: inc, status, healthy, holdMs: r.u16() }
        : { node, incarnation: inc, status, healthy },
    );
  }
  if (r.remaining !== 0) throw new Malformed(`${r.remaining} trailing bytes`);
  const healthy = (flags & Flag.Healthy) !== 0;
  const base = { from, incarnation, seq, healthy, rumours };
  switch (kind) {
    case 'heartbeat':
      return { message: { ...base, kind, monitor: (flags & Flag.Monitor) !== 0 }, sentAt };
    case 'ack':
      return { message: { ...base, kind, ack: extra }, sentAt };
    case 'sync-ack':
      return { message: { ...base, kind, joined: extra }, sentAt };
    default:
      return { message: { ...base, kind }, sentAt };
  }
}

/** A 64-bit field as a number; above 2^53 it would lose bits, so it is refused. */
function safe(v: bigint, what: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Malformed(`${what} is beyond 2^53`);
  return Number(v);
}

function mac(key: Buffer, body: Buffer): Buffer {
  return createHmac('sha256', key).update(body).digest();
}
