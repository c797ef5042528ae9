// The framer must give the same messages however TCP cuts the stream.

import { Rng, fromHex, randomMessage } from '../../../test/fuzz/bgp-messages.js';
import { encodeMessage } from './encode.js';
import { BgpDecodeError } from './errors.js';
import { BgpFramer } from './framer.js';
import type { CodecContext } from './messages.js';
import { ErrorCode, HeaderSubcode } from './notification-codes.js';

const ctx: CodecContext = { fourOctetAs: true, maxMessageSize: 4096 };

function streamOf(count: number, seed: number): { stream: Buffer; messages: Buffer[] } {
  const rng = new Rng(seed);
  const messages = Array.from({ length: count }, () => encodeMessage(randomMessage(rng, ctx), ctx));
  return { stream: Buffer.concat(messages), messages };
}

function catchError(fn: () => unknown): BgpDecodeError {
  try {
    fn();
  } catch (e) {
    if (e instanceof BgpDecodeError) return e;
    throw e;
  }
  throw new Error('expected a BgpDecodeError');
}

describe('BgpFramer', () => {
  const { stream, messages } = streamOf(12, 3);

  test('yields the same messages when the stream is split in two at every offset', () => {
    const badCuts: number[] = [];
    for (let cut = 0; cut <= stream.length; cut++) {
      const f = new BgpFramer();
      const got = [...f.push(stream.subarray(0, cut)), ...f.push(stream.subarray(cut))];
      const same = got.length === messages.length && got.every((m, i) => m.equals(messages[i]!));
      if (!same || f.buffered !== 0) badCuts.push(cut);
    }
    expect(stream.length).toBeGreaterThan(1000);
    expect(badCuts).toEqual([]);
  });

  test('yields the same messages when fed one octet at a time', () => {
    const f = new BgpFramer();
    const got: Buffer[] = [];
    for (let i = 0; i < stream.length; i++) got.push(...f.push(stream.subarray(i, i + 1)));
    expect(Buffer.concat(got).equals(stream)).toBe(true);
    expect(got.map((m) => m.length)).toEqual(messages.map((m) => m.length));
  });

  test('yields the same messages for random chunk sizes', () => {
    const rng = new Rng(11);
    for (let round = 0; round < 200; round++) {
      const f = new BgpFramer();
      const got: Buffer[] = [];
      for (let i = 0; i < stream.length;) {
        const n = rng.int(1, 600);
        got.push(...f.push(stream.subarray(i, i + n)));
        i += n;
      }
      expect(got.length).toBe(messages.length);
      got.forEach((m, i) => expect(m.equals(messages[i]!)).toBe(true));
    }
  });

  test('a message that spanned chunks is a copy that later chunks cannot change', () => {
    const keepalive = fromHex('ff*16 0013 04');
    const f = new BgpFramer();
    const first = Buffer.from(keepalive.subarray(0, 10));
    expect(f.push(first)).toEqual([]);
    const [msg] = f.push(Buffer.from(keepalive.subarray(10)));
    first.fill(0);
    expect(msg).toEqual(keepalive);
  });

  test('a bad marker is Connection Not Synchronized as soon as the octet arrives', () => {
    const f = new BgpFramer();
    const e = catchError(() => f.push(fromHex('ff ff ff fe')));
    expect([e.code, e.subcode]).toEqual([
      ErrorCode.MESSAGE_HEADER,
      HeaderSubcode.CONNECTION_NOT_SYNCHRONIZED,
    ]);
    // The stream is lost; the framer keeps failing.
    expect(() => f.push(fromHex('ff*16 0013 04'))).toThrow(BgpDecodeError);
  });

  test.each([
    ['18', 18],
    ['4097', 4097],
  ])('a length of %s is Bad Message Length with the length as data', (_t, length) => {
    const header = fromHex('ff*16 0000 04');
    header.writeUInt16BE(length, 16);
    const e = catchError(() => new BgpFramer().push(header.subarray(0, 18)));
    expect([e.code, e.subcode]).toEqual([ErrorCode.MESSAGE_HEADER, HeaderSubcode.BAD_MESSAGE_LENGTH]);
    expect(e.data.readUInt16BE(0)).toBe(length);
  });

  test('accepts messages up to 65535 octets once Extended Messages is negotiated', () => {
    const big = Buffer.alloc(5000, 0);
    fromHex('ff*16 1388 03 06 00').copy(big); // a 5000-octet NOTIFICATION
    expect(() => new BgpFramer().push(big)).toThrow(BgpDecodeError);
    const f = new BgpFramer(4096);
    f.setMaxMessageSize(65535);
    expect(f.push(big.subarray(0, 2500))).toEqual([]);
    expect(f.push(big.subarray(2500))).toEqual([big]);
  });
});
