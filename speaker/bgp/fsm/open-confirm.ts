// RFC 4271 §8.2.2, OpenConfirm state: OPENs exchanged, waiting for the peer's KEEPALIVE.

import type { StateHandler } from './context.js';
import { fsmError, holdTimerExpired } from './errors.js';

export const openConfirm: StateHandler = (fsm, ev) => {
  switch (ev.type) {
    case 'HoldTimer_Expires':
      return fsm.fail('hold timer expired in OpenConfirm', holdTimerExpired());
    case 'KeepaliveTimer_Expires':
      fsm.send(fsm.primary!.id, { type: 'keepalive' });
      fsm.armSessionTimers(fsm.primary!);
      return;
    case 'KeepAliveMsg':
      return fsm.established();
    case 'TcpConnectionConfirmed':
      return fsm.incomingDuringSession(ev.conn);
    case 'TcpConnectionFails':
      return fsm.fail(`connection closed in OpenConfirm${ev.reason ? `: ${ev.reason}` : ''}`);
    case 'BGPHeaderErr':
    case 'BGPOpenMsgErr':
    case 'UpdateMsgErr':
      return fsm.fail(ev.reason, ev.notification);
    case 'NotifMsg':
      return fsm.fail('NOTIFICATION received in OpenConfirm');
    case 'BGPOpen':
    case 'UpdateMsg':
    case 'RouteRefreshMsg':
      return fsm.fail(`unexpected ${ev.type} in OpenConfirm`, fsmError('OpenConfirm'));
    default:
      return;
  }
};
