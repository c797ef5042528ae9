// encode → decode round trips for every message kind, then the same over seeded random messages.

import { isDeepStrictEqual } from 'node:util';
import {
  Rng,
  randomContext,
  randomMessage,
  randomOpen,
  randomUpdate,
} from '../../../test/fuzz/bgp-messages.js';
import { decodeMessage } from './decode.js';
import { encodeMessage } from './encode.js';
import type { BgpMessage, CodecContext } from './messages.js';
import { formatIPv6, parseIPv6 } from './address.js';
import { formatPrefix, parsePrefix } from './prefix.js';
import { BgpEncodeError } from './errors.js';

const contexts: CodecContext[] = [
  { fourOctetAs: true, maxMessageSize: 4096 },
  { fourOctetAs: false, maxMessageSize: 4096 },
  { fourOctetAs: true, maxMessageSize: 65535 },
];

function roundTrip(msg: BgpMessage, ctx: CodecContext): void {
  const bytes = encodeMessage(msg, ctx);
  const r = decodeMessage(bytes, ctx);
  if (r.action !== 'ok') throw new Error(`decode gave ${r.action}: ${JSON.stringify(r)}`);
  // isDeepStrictEqual first: Jest's toEqual is slow on thousands of Buffers; it only runs for the diff.
  if (!isDeepStrictEqual(r.message, msg)) expect(r.message).toEqual(msg);
  // Canonical form: encoding the decoded message gives the same bytes.
  expect(encodeMessage(r.message, ctx).equals(bytes)).toBe(true);
}

describe('round trips', () => {
  const fixed: BgpMessage[] = [
    { type: 'keepalive' },
    { type: 'notification', code: 3, subcode: 1, data: Buffer.alloc(0) },
    { type: 'route-refresh', afi: 1, safi: 1, subtype: 0 },
    {
      type: 'open',
      version: 4,
      myAs: 64512,
      holdTime: 0,
      bgpId: '192.0.2.1',
      capabilities: [{ kind: 'unknown', code: 73, data: Buffer.from('host') }],
    },
    {
      type: 'update',
      withdrawn: [parsePrefix('10.0.0.0/8'), parsePrefix('0.0.0.0/0')],
      attributes: {
        origin: 2,
        asPath: [
          { type: 'set', asns: [1, 2] },
          { type: 'confed-sequence', asns: [3] },
          { type: 'confed-set', asns: [4] },
        ],
        nextHop: '192.0.2.1',
        med: 0xffffffff,
        localPref: 100,
        atomicAggregate: true,
        aggregator: { asn: 65000, address: '192.0.2.9' },
        mpUnreach: { family: 6, withdrawn: [parsePrefix('2001:db8::/32')] },
        other: [{ flags: 0xf0, typeCode: 200, value: Buffer.alloc(300, 7) }],
      },
      nlri: [parsePrefix('198.51.100.0/24')],
    },
  ];

  test.each(fixed.map((m) => [m.type, m] as const))('a %s message survives encode and decode', (_t, msg) => {
    for (const ctx of contexts) roundTrip(msg, ctx);
  });

  test('an unknown attribute over 255 octets gets the Extended Length flag on its own', () => {
    const msg = fixed[4]!;
    const bytes = encodeMessage(msg, contexts[0]);
    const at = bytes.indexOf(Buffer.from([0xf0, 200, 0x01, 0x2c]));
    expect(at).toBeGreaterThan(0); // flags O|T|P|Extended, type 200, length 300
  });

  test('1,500 random messages per context survive encode and decode (seeded)', () => {
    for (const [i, ctx] of contexts.entries()) {
      const rng = new Rng(0xbeac0 + i);
      for (let n = 0; n < 1500; n++) roundTrip(randomMessage(rng, ctx), ctx);
    }
  });

  test('random OPENs large enough to need RFC 9072 use the extended length form and decode back', () => {
    const rng = new Rng(7);
    let extended = 0;
    for (let n = 0; n < 2000; n++) {
      const open = randomOpen(rng);
      let bytes: Buffer;
      try {
        bytes = encodeMessage(open);
      } catch (e) {
        // More capabilities than a 4096-octet OPEN can hold is a caller error.
        expect(e).toBeInstanceOf(BgpEncodeError);
        continue;
      }
      if (bytes[28] === 255 && bytes[29] === 255) extended++;
      const r = decodeMessage(bytes);
      expect(r.action === 'ok' && isDeepStrictEqual(r.message, open)).toBe(true);
    }
    expect(extended).toBeGreaterThan(50);
  });

  test('random UPDATEs decode under the context they were encoded for, including eBGP', () => {
    const rng = new Rng(99);
    for (let n = 0; n < 1000; n++) {
      const ctx = randomContext(rng);
      roundTrip(randomUpdate(rng, ctx), ctx);
    }
  });
});

describe('addresses and prefixes', () => {
  test.each([
    ['10.77.100.10/32', '10.77.100.10/32'],
    ['10.77.100.10', '10.77.100.10/32'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['2001:DB8::/32', '2001:db8::/32'],
    ['2001:db8:0:0:1:0:0:1/128', '2001:db8::1:0:0:1/128'],
    // RFC 5952 §5: IPv4-mapped addresses are written with the dotted quad.
    ['::ffff:c000:201/128', '::ffff:192.0.2.1/128'],
    ['::/0', '::/0'],
  ])('%s reads back as %s', (text, canonical) => {
    expect(formatPrefix(parsePrefix(text))).toBe(canonical);
  });

  test.each([
    '10.0.0.1/24',
    '10.0.0.0/33',
    '2001:db8::/129',
    '10.0.0.0/-1',
    '10.0.0/8',
    'fe80::1%eth0/128',
    '10.0.0.0/08x',
  ])('parsePrefix refuses %s', (text) => {
    expect(() => parsePrefix(text)).toThrow(BgpEncodeError);
  });

  test('IPv6 text follows RFC 5952 for random addresses and parses back', () => {
    const rng = new Rng(5);
    for (let n = 0; n < 2000; n++) {
      const b = rng.bytes(16);
      if (rng.bool()) b.fill(0, rng.int(0, 15), rng.int(0, 16));
      const text = formatIPv6(b);
      expect(parseIPv6(text)).toEqual(b);
      expect(text).not.toMatch(/:0\d|[A-F]|:::/);
    }
    expect(formatIPv6(parseIPv6('2001:db8:0:1:1:1:1:1'))).toBe('2001:db8:0:1:1:1:1:1');
    expect(formatIPv6(parseIPv6('2001:0:0:1:0:0:0:1'))).toBe('2001:0:0:1::1');
  });
});
