// Maps what the codec decoded (decodeMessage's DecodeResult) to the FSM event RFC 4271 §8.1.5
// names for it.

import type { DecodeResult } from '../wire/decode-result.js';
import { ErrorCode } from '../wire/notification-codes.js';
import type { ConnId, FsmEvent } from './types.js';

export function eventFromDecode(conn: ConnId, r: DecodeResult): FsmEvent | undefined {
  switch (r.action) {
    case 'session-reset': {
      const code = r.notification.code;
      const type =
        code === ErrorCode.OPEN_MESSAGE
          ? 'BGPOpenMsgErr'
          : code === ErrorCode.UPDATE_MESSAGE
            ? 'UpdateMsgErr'
            : 'BGPHeaderErr';
      return { type, conn, notification: r.notification, reason: r.reason };
    }
    case 'attribute-discard':
      return { type: 'UpdateMsg', conn, result: 'attribute-discard' };
    case 'treat-as-withdraw':
      return { type: 'UpdateMsg', conn, result: 'treat-as-withdraw' };
    case 'ok': {
      const m = r.message;
      switch (m.type) {
        case 'open':
          return { type: 'BGPOpen', conn, open: m };
        case 'keepalive':
          return { type: 'KeepAliveMsg', conn };
        case 'update':
          return { type: 'UpdateMsg', conn, result: 'ok' };
        case 'notification':
          return { type: 'NotifMsg', conn, notification: m };
        case 'route-refresh':
          return { type: 'RouteRefreshMsg', conn };
      }
    }
  }
  return undefined;
}
