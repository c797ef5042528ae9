// The two error types of the codec. Decoding never throws anything else on any input: a
// BgpDecodeError carries the NOTIFICATION (RFC 4271 §6) the session must send before closing.

import { describeNotification } from './notification-codes.js';

export class BgpDecodeError extends Error {
  override readonly name = 'BgpDecodeError';
  constructor(
    message: string,
    readonly code: number,
    readonly subcode: number,
    readonly data: Buffer = Buffer.alloc(0),
  ) {
    super(`${describeNotification(code, subcode)}: ${message}`);
  }
}

/** The caller asked to encode something BGP cannot carry (a bug upstream, not a peer's fault). */
export class BgpEncodeError extends Error {
  override readonly name = 'BgpEncodeError';
}
