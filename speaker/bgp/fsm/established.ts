// RFC 4271 §8.2.2, Established state. Received routes are not used (Beacon only announces):
// UPDATEs just keep the session alive and are counted, including RFC 7606 treat-as-withdraw and
// attribute-discard results.

import type { StateHandler } from './context.js';
import { collisionResolution, fsmError, holdTimerExpired } from './errors.js';

export const established: StateHandler = (fsm, ev) => {
  const conn = fsm.primary!;
  switch (ev.type) {
    case 'HoldTimer_Expires':
      return fsm.fail('hold timer expired', holdTimerExpired());
    case 'KeepaliveTimer_Expires':
      fsm.send(conn.id, { type: 'keepalive' });
      fsm.timer('KeepaliveTimer', keepaliveMs(fsm.primary!));
      return;
    case 'KeepAliveMsg':
      fsm.timer('HoldTimer', holdMs(conn));
      return;
    case 'UpdateMsg':
      fsm.counters.updatesReceived++;
      if (ev.result === 'treat-as-withdraw') fsm.counters.treatAsWithdraw++;
      if (ev.result === 'attribute-discard') fsm.counters.attributeDiscard++;
      fsm.timer('HoldTimer', holdMs(conn));
      return;
    case 'RouteRefreshMsg':
      fsm.counters.routeRefreshReceived++;
      return;
    case 'TcpConnectionConfirmed':
      // RFC 4271 §6.8: a collision with an Established session closes the new connection.
      fsm.notify(ev.conn, collisionResolution());
      fsm.close(ev.conn);
      return;
    case 'TcpConnectionFails':
      return fsm.fail(`connection closed${ev.reason ? `: ${ev.reason}` : ''}`);
    case 'BGPHeaderErr':
    case 'BGPOpenMsgErr':
    case 'UpdateMsgErr':
      return fsm.fail(ev.reason, ev.notification);
    case 'NotifMsg':
      return fsm.fail('NOTIFICATION received');
    case 'BGPOpen':
      return fsm.fail('unexpected OPEN in Established', fsmError('Established'));
    default:
      return;
  }
};

export const holdMs = (c: { negotiated?: { holdTime: number } }): number | undefined =>
  c.negotiated && c.negotiated.holdTime > 0 ? c.negotiated.holdTime * 1000 : undefined;

/** Set by BgpFsm.armSessionTimers: the keepalive interval in ms, undefined when hold time is 0. */
export const keepaliveMs = (c: { keepaliveMs?: number }): number | undefined => c.keepaliveMs;
