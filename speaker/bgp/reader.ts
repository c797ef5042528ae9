// Bounds-checked reading of big-endian fields. Every read past the end throws a BgpDecodeError
// with the NOTIFICATION code/subcode the caller chose for "this structure is truncated", so the
// parsers never see a RangeError from Buffer and never need their own length arithmetic for it.

import { BgpDecodeError } from './errors.js';
import { ErrorCode, HeaderSubcode } from './notification-codes.js';

export interface UnderrunError {
  /** Names the structure in the error message, e.g. "OPEN optional parameters". */
  what: string;
  code: number;
  subcode: number;
}

const defaultUnderrun: UnderrunError = {
  what: 'message',
  code: ErrorCode.MESSAGE_HEADER,
  subcode: HeaderSubcode.BAD_MESSAGE_LENGTH,
};

export class BufferReader {
  private pos = 0;

  constructor(
    private readonly buf: Buffer,
    private readonly underrun: UnderrunError = defaultUnderrun,
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
      throw new BgpDecodeError(
        `${u.what} truncated: need ${n} octet(s) at offset ${this.pos}, ${this.remaining} left`,
        u.code,
        u.subcode,
      );
    }
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  /** A view (not a copy) of the next n octets. */
  bytes(n: number): Buffer {
    this.need(n);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  /** A reader over the next n octets, with its own underrun error; advances this reader past them. */
  sub(n: number, underrun: UnderrunError = this.underrun): BufferReader {
    return new BufferReader(this.bytes(n), underrun);
  }
}
