import { createHmac } from 'node:crypto';
import { decodeHeartbeat, encodeHeartbeat } from './codec.js';
import type { Heartbeat } from './types.js';

const key = Buffer.from('membership-secret-key');
const hb: Heartbeat = {
  node: 'node-1.example',
  incarnation: 1_700_000_123_456,
  seq: 42,
  linkUp: true,
  responderOk: false,
  ready: true,
  leaving: false,
  claims: new Map([
    ['192.168.10.222', 3],
    ['fd00::1', 4_000_000_000],
  ]),
};

describe('heartbeat codec', () => {
  it('round-trips every field', () => {
    const decoded = decodeHeartbeat(encodeHeartbeat(hb, key), key);
    expect(decoded).toEqual({ ok: true, value: hb });
  });

  it('has a fixed layout: magic, version, flags, name, claims, then a 32-byte HMAC', () => {
    const bytes = encodeHeartbeat({ ...hb, claims: new Map([['10.0.0.1', 1]]) }, key);
    expect(bytes.subarray(0, 8).toString('hex')).toBe('42434e4d' + '01' + '01' + '05' + '0e');
    expect(bytes.length).toBe(20 + 14 + 2 + 9 + 32);
    expect(bytes.subarray(36, 45).toString('hex')).toBe('04' + '0a000001' + '00000001');
  });

  it('refuses a heartbeat signed with another key', () => {
    const decoded = decodeHeartbeat(encodeHeartbeat(hb, Buffer.from('other')), key);
    expect(decoded).toMatchObject({ ok: false, reason: 'mac' });
  });

  it('refuses any single flipped bit', () => {
    const bytes = encodeHeartbeat(hb, key);
    for (let i = 0; i < bytes.length; i++) {
      const copy = Buffer.from(bytes);
      copy[i] = (copy[i] ?? 0) ^ 0x10;
      expect(decodeHeartbeat(copy, key).ok).toBe(false);
    }
  });

  const bad: { name: string; bytes: () => Buffer; reason: string }[] = [
    { name: 'an empty datagram', bytes: () => Buffer.alloc(0), reason: 'short' },
    { name: 'random bytes', bytes: () => Buffer.alloc(80, 7), reason: 'magic' },
    {
      name: 'a future version',
      bytes: () => {
        const b = encodeHeartbeat(hb, key);
        b[4] = 2;
        return b;
      },
      reason: 'version',
    },
    { name: 'a truncated datagram', bytes: () => encodeHeartbeat(hb, key).subarray(0, 60), reason: 'mac' },
  ];
  it.each(bad)('drops $name without throwing', ({ bytes, reason }) => {
    expect(decodeHeartbeat(bytes(), key)).toMatchObject({ ok: false, reason });
  });

  it('drops a correctly signed datagram whose claims are cut short', () => {
    // An authenticated but malformed body (a buggy or future sender) is still refused cleanly.
    const good = encodeHeartbeat({ ...hb, claims: new Map([['10.0.0.1', 1]]) }, key);
    const body = Buffer.concat([good.subarray(0, good.length - 32 - 3)]);
    const forged = Buffer.concat([body, createHmac('sha256', key).update(body).digest()]);
    expect(decodeHeartbeat(forged, key)).toMatchObject({ ok: false, reason: 'malformed' });
  });

  it('refuses to encode a claim that is not an IP', () => {
    expect(() => encodeHeartbeat({ ...hb, claims: new Map([['nope', 1]]) }, key)).toThrow(/not an IP/);
  });
});
