// A growable big-endian writer. Length fields are written as placeholders and patched once
// the enclosed data is known, so encoders never compute sizes twice. A value out of its field's
// range or a length that overflows its field is a bug in the encoder's caller: EncodeRangeError.

/** A value does not fit its field. */
export class EncodeRangeError extends RangeError {
  override readonly name = 'EncodeRangeError';
}

export class BufferWriter {
  private buf: Buffer;
  private pos = 0;

  /** `fail` builds the error for a value that does not fit (a codec passes its own error type). */
  constructor(
    initialSize = 256,
    private readonly fail: (message: string) => Error = (message) => new EncodeRangeError(message),
  ) {
    this.buf = Buffer.allocUnsafe(initialSize);
  }

  get length(): number {
    return this.pos;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  u8(v: number): this {
    this.check(v, 0xff, 'octet');
    this.ensure(1);
    this.buf[this.pos++] = v;
    return this;
  }

  u16(v: number): this {
    this.check(v, 0xffff, '2-octet field');
    this.ensure(2);
    this.buf.writeUInt16BE(v, this.pos);
    this.pos += 2;
    return this;
  }

  u32(v: number): this {
    this.check(v, 0xffffffff, '4-octet field');
    this.ensure(4);
    this.buf.writeUInt32BE(v, this.pos);
    this.pos += 4;
    return this;
  }

  u64(v: bigint): this {
    if (v < 0n || v > 0xffffffffffffffffn)
      throw this.fail(`8-octet field value ${v} is out of range 0..2^64-1`);
    this.ensure(8);
    this.buf.writeBigUInt64BE(v, this.pos);
    this.pos += 8;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  fill(value: number, n: number): this {
    this.ensure(n);
    this.buf.fill(value, this.pos, this.pos + n);
    this.pos += n;
    return this;
  }

  /** Reserves a length field of `width` octets at the current offset; returns its offset. */
  placeholder(width: 1 | 2): number {
    const at = this.pos;
    this.fill(0, width);
    return at;
  }

  /** Writes into the placeholder at `at` the number of octets written since it ended. */
  patchLength(at: number, width: 1 | 2, what: string): void {
    const n = this.pos - at - width;
    const max = width === 1 ? 0xff : 0xffff;
    if (n > max) throw this.fail(`${what} is ${n} octets; its length field holds at most ${max}`);
    if (width === 1) this.buf[at] = n;
    else this.buf.writeUInt16BE(n, at);
  }

  /** Overwrites a 2-octet field written earlier (the message header's length). */
  setU16(at: number, v: number): void {
    this.buf.writeUInt16BE(v, at);
  }

  private check(v: number, max: number, what: string): void {
    if (!Number.isInteger(v) || v < 0 || v > max)
      throw this.fail(`${what} value ${v} is out of range 0..${max}`);
  }

  /** A copy of what was written (the writer can be reused afterwards). */
  toBuffer(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.pos));
  }
}
