// RFC 4271 §8.2.2, OpenSent state: our OPEN is out, waiting for the peer's.

import type { StateHandler } from './context.js';
import { fsmError, holdTimerExpired } from './errors.js';

export const openSent: StateHandler = (fsm, ev) => {
  switch (ev.type) {
    case 'HoldTimer_Expires':
      return fsm.fail('hold timer expired waiting for OPEN', holdTimerExpired());
    case 'TcpConnectionConfirmed':
      return fsm.incomingDuringSession(ev.conn);
    case 'TcpConnectionFails':
      return fsm.fail(`connection closed in OpenSent${ev.reason ? `: ${ev.reason}` : ''}`);
    case 'BGPOpen': {
      const conn = fsm.primary!;
      const err = fsm.acceptOpen(conn, ev.open);
      if (err) return fsm.fail(err.reason, err.notification);
      fsm.armSessionTimers(conn);
      fsm.setState('OpenConfirm', 'OPEN accepted');
      if (fsm.secondary?.peerOpen) fsm.resolveCollision();
      return;
    }
    case 'BGPHeaderErr':
    case 'BGPOpenMsgErr':
    case 'UpdateMsgErr':
      return fsm.fail(ev.reason, ev.notification);
    case 'NotifMsg':
      return fsm.fail('NOTIFICATION received in OpenSent');
    case 'KeepAliveMsg':
    case 'UpdateMsg':
    case 'RouteRefreshMsg':
      return fsm.fail(`unexpected ${ev.type} in OpenSent`, fsmError('OpenSent'));
    default:
      return;
  }
};
