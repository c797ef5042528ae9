// Bounds-checked reading of big-endian fields, shared by every codec (BGP, BFD, ARP/NDP, the
// membership heartbeat). A read past the end throws the error the caller's Underrun builds, so
// a codec chooses what "truncated" means for it (BGP: a NOTIFICATION code/subcode; the others:
// a reject reason) and never sees a RangeError from Buffer or does its own length arithmetic.

export interface Underrun {
  /** Names the structure in the error message, e.g. "OPEN optional parameters". */
  readonly what: string;
  /** Builds the error thrown when a read would pass the end. */
  readonly fail: (message: string) => Error;
}

/** Thrown by readers built without an Underrun of their own. */
export class TruncatedError extends Error {
  override readonly name = 'TruncatedError';
}

const defaultUnderrun: Underrun = { what: 'data', fail: (message) => new TruncatedError(message) };

export class BufferReader {
  private pos = 0;

  constructor(
    private readonly buf: Uint8Array,
    private readonly underrun: Underrun = defaultUnderrun,
  ) {}

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  private need(n: number): void {
    if (this.buf.length - this.pos < n) {
      const u = this.underrun;
      throw u.fail(`${u.what} truncated: need ${n} octet(s) at offset ${this.pos}, ${this.remaining} left`);
    }
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  u16(): number {
    this.need(2);
    const v = (this.buf[this.pos]! << 8) | this.buf[this.pos + 1]!;
    this.pos += 2;
    return v;
  }

  u32(): number {
    this.need(4);
    const b = this.buf;
    const p = this.pos;
    const v = (b[p]! * 0x1000000 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!)) >>> 0;
    this.pos += 4;
    return v;
  }

  /** An unsigned 64-bit field (a bigint: above 2^53 a number would lose bits). */
  u64(): bigint {
    this.need(8);
    const hi = this.u32();
    const lo = this.u32();
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  /** A view (not a copy) of the next n octets. */
  bytes(n: number): Buffer {
    this.need(n);
    const v = Buffer.from(this.buf.buffer, this.buf.byteOffset + this.pos, n);
    this.pos += n;
    return v;
  }

  /** Advances past n octets without looking at them. */
  skip(n: number): void {
    this.need(n);
    this.pos += n;
  }

  /** A reader over the next n octets, with its own underrun error; advances this reader past them. */
  sub(n: number, underrun: Underrun = this.underrun): BufferReader {
    return new BufferReader(this.bytes(n), underrun);
  }
}
