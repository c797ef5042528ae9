// NOTIFICATIONs the FSM itself sends (RFC 4271 §6.5, §6.6, §6.7; RFC 6608; RFC 4486).

import { notification } from '../wire/messages.js';
import type { NotificationMessage } from '../wire/messages.js';
import { CeaseSubcode, ErrorCode, FsmSubcode } from '../wire/notification-codes.js';
import type { State } from './types.js';

/** RFC 4271 §6.5: Hold Timer Expired has no subcode. */
export const holdTimerExpired = (): NotificationMessage => notification(ErrorCode.HOLD_TIMER_EXPIRED, 0);

/** RFC 6608 §4: which state received the unexpected message. */
export function fsmError(state: State): NotificationMessage {
  const sub =
    state === 'OpenSent'
      ? FsmSubcode.UNEXPECTED_IN_OPEN_SENT
      : state === 'OpenConfirm'
        ? FsmSubcode.UNEXPECTED_IN_OPEN_CONFIRM
        : state === 'Established'
          ? FsmSubcode.UNEXPECTED_IN_ESTABLISHED
          : FsmSubcode.UNSPECIFIED;
  return notification(ErrorCode.FSM, sub);
}

/** RFC 4486 §4 */
export const cease = (subcode: number): NotificationMessage => notification(ErrorCode.CEASE, subcode);
export const collisionResolution = (): NotificationMessage =>
  cease(CeaseSubcode.CONNECTION_COLLISION_RESOLUTION);
