import { BufferReader, TruncatedError } from './reader.js';
import { BufferWriter, EncodeRangeError } from './writer.js';

describe('lib/wire reader and writer', () => {
  it('round-trips every field width, big-endian, growing past the initial size', () => {
    const w = new BufferWriter(2);
    w.u8(0xab)
      .u16(0x1234)
      .u32(0xdeadbeef)
      .u64(0x0102030405060708n)
      .u64(0xffffffffffffffffn)
      .bytes(Buffer.from('hi'));
    const b = w.toBuffer();
    expect(b.subarray(0, 7).toString('hex')).toBe('ab1234deadbeef');
    expect(b.subarray(7, 15).toString('hex')).toBe('0102030405060708');
    const r = new BufferReader(b);
    expect([r.u8(), r.u16(), r.u32()]).toEqual([0xab, 0x1234, 0xdeadbeef]);
    expect(r.u64()).toBe(0x0102030405060708n);
    expect(r.u64()).toBe(0xffffffffffffffffn);
    expect(r.bytes(2).toString()).toBe('hi');
    expect(r.remaining).toBe(0);
  });

  it('a read past the end throws the caller’s error, naming the structure and offset', () => {
    expect(() => new BufferReader(Buffer.alloc(7)).u64()).toThrow(TruncatedError);
    const r = new BufferReader(Buffer.alloc(10), { what: 'test header', fail: (m) => new SyntaxError(m) });
    r.skip(4);
    expect(() => r.u64()).toThrow(
      new SyntaxError('test header truncated: need 8 octet(s) at offset 4, 6 left'),
    );
  });

  it('a value that does not fit its field is the encoder’s error, not a silent wrap', () => {
    expect(() => new BufferWriter().u64(1n << 64n)).toThrow(EncodeRangeError);
    expect(() => new BufferWriter().u64(-1n)).toThrow(EncodeRangeError);
    expect(() => new BufferWriter().u8(256)).toThrow(/octet value 256 is out of range/);
  });
});
