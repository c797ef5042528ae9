// Splits a TCP byte stream into BGP messages (RFC 4271 §4.1). Chunks may end at any octet; the
// leftover of a partial message is kept until the rest arrives. Header errors (§6.1: marker
// not all ones, length outside 19..max) throw a BgpDecodeError; the stream cannot be resynchronised
// after one, so the framer stays failed and the session must send the error's NOTIFICATION.

import { checkHeader } from './decode.js';
import { HEADER_LENGTH, MAX_MESSAGE_SIZE } from './constants.js';
import type { BgpDecodeError } from './errors.js';

export class BgpFramer {
  /** Octets of an incomplete message, in pending[0..pendingLength). */
  private pending = Buffer.alloc(0);
  private pendingLength = 0;
  private failure: BgpDecodeError | undefined;

  /** 4096 until Extended Messages (RFC 8654) is negotiated; then call setMaxMessageSize(65535). */
  constructor(private maxMessageSize = MAX_MESSAGE_SIZE) {}

  setMaxMessageSize(size: number): void {
    this.maxMessageSize = size;
  }

  /** Octets held back waiting for the rest of a message. */
  get buffered(): number {
    return this.pendingLength;
  }

  /**
   * Returns the complete messages (header included) that `chunk` finishes. Messages wholly inside
   * `chunk` are views into it; a message that spanned chunks is a fresh copy.
   */
  push(chunk: Buffer): Buffer[] {
    if (this.failure) throw this.failure;
    try {
      return this.frame(chunk);
    } catch (e) {
      this.failure = e as BgpDecodeError;
      throw e;
    }
  }

  private frame(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let data = chunk;
    // Complete the held-back message first, copying only the octets it still needs.
    while (this.pendingLength > 0 && data.length > 0) {
      const known = checkHeader(this.pending.subarray(0, this.pendingLength), 0, this.maxMessageSize);
      const take = Math.min(data.length, (known ?? HEADER_LENGTH) - this.pendingLength);
      this.append(data.subarray(0, take));
      data = data.subarray(take);
      const held = this.pending.subarray(0, this.pendingLength);
      if (checkHeader(held, 0, this.maxMessageSize) === this.pendingLength) {
        out.push(Buffer.from(held));
        this.pendingLength = 0;
      }
    }
    let off = 0;
    for (;;) {
      const total = checkHeader(data, off, this.maxMessageSize);
      if (total === undefined || data.length - off < total) break;
      out.push(data.subarray(off, off + total));
      off += total;
    }
    this.append(data.subarray(off));
    return out;
  }

  private append(b: Buffer): void {
    if (b.length === 0) return;
    if (this.pendingLength + b.length > this.pending.length) {
      const next = Buffer.alloc(Math.max(this.pendingLength + b.length, this.pending.length * 2, 64));
      this.pending.copy(next, 0, 0, this.pendingLength);
      this.pending = next;
    }
    b.copy(this.pending, this.pendingLength);
    this.pendingLength += b.length;
  }
}
