// The shared reader and writer (lib/wire) with BGP's errors: a truncated structure becomes the
// NOTIFICATION code/subcode its parser names (RFC 4271 §6), an encoder value out of range a
// BgpEncodeError.

import { BufferReader, type Underrun } from '../../../lib/wire/reader.js';
import { BufferWriter } from '../../../lib/wire/writer.js';
import { BgpDecodeError, BgpEncodeError } from './errors.js';

export { BufferReader, BufferWriter };

export interface BgpUnderrun extends Underrun {
  readonly code: number;
  readonly subcode: number;
}

/** What a read past the end of `what` throws: a BgpDecodeError carrying code/subcode. */
export function bgpUnderrun(what: string, code: number, subcode: number): BgpUnderrun {
  return { what, code, subcode, fail: (message) => new BgpDecodeError(message, code, subcode) };
}

/** A writer whose range errors are BgpEncodeErrors. */
export function bgpWriter(initialSize?: number): BufferWriter {
  return new BufferWriter(initialSize, (message) => new BgpEncodeError(message));
}
