// What decoding a received message yields. UPDATE errors are classified per RFC 7606 §2:
// the session survives "attribute-discard" and "treat-as-withdraw"; only "session-reset"
// sends a NOTIFICATION. Every other message type either decodes or resets the session.

import type { BgpMessage, NotificationMessage, UpdateMessage } from './messages.js';
import { notification } from './messages.js';
import type { Prefix } from './prefix.js';
import type { BgpDecodeError } from './errors.js';

export type UpdateErrorAction = 'attribute-discard' | 'treat-as-withdraw' | 'session-reset';

/** One problem found in an UPDATE. `subcode` is the UPDATE Message Error subcode RFC 4271 §6.3
 * would use (sent only for session-reset; logged otherwise) and `data` its Data field. */
export interface UpdateError {
  action: UpdateErrorAction;
  subcode: number;
  /** The path attribute at fault, when there is one. */
  typeCode?: number;
  reason: string;
  data: Buffer;
}

export type DecodeResult =
  | { action: 'ok'; message: BgpMessage }
  /** RFC 7606 §2: the malformed/duplicate attributes were dropped; process the rest as usual. */
  | { action: 'attribute-discard'; message: UpdateMessage; errors: UpdateError[] }
  /** RFC 7606 §2: every prefix in the message (withdrawn, NLRI, MP_REACH, MP_UNREACH) is withdrawn. */
  | { action: 'treat-as-withdraw'; withdrawn: Prefix[]; errors: UpdateError[] }
  /** Send `notification`, then close the connection (RFC 4271 §6). */
  | { action: 'session-reset'; notification: NotificationMessage; reason: string };

export function sessionReset(e: BgpDecodeError): DecodeResult {
  return {
    action: 'session-reset',
    notification: notification(e.code, e.subcode, e.data),
    reason: e.message,
  };
}

/** RFC 7606 §3: with several errors, the strongest action wins. */
export const actionStrength: Record<UpdateErrorAction, number> = {
  'attribute-discard': 1,
  'treat-as-withdraw': 2,
  'session-reset': 3,
};
