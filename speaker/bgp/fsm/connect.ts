// RFC 4271 §8.2.2, Connect state: our TCP connection attempt is in flight.

import type { StateHandler } from './context.js';

export const connect: StateHandler = (fsm, ev) => {
  const mine = fsm.primary;
  switch (ev.type) {
    case 'ConnectRetryTimer_Expires':
      // "drops the TCP connection, restarts the ConnectRetryTimer, initiates a TCP connection".
      if (mine) fsm.close(mine.id);
      fsm.connect();
      return;
    case 'Tcp_CR_Acked':
      if (mine?.id !== ev.conn) return fsm.close(ev.conn);
      fsm.timer('ConnectRetryTimer', undefined);
      fsm.sendOpen(mine);
      return;
    case 'TcpConnectionConfirmed':
      // The peer got through first: use its connection, abandon ours.
      if (mine) fsm.close(mine.id);
      fsm.timer('ConnectRetryTimer', undefined);
      fsm.primary = { id: ev.conn, dir: 'in', stage: 'Connect' };
      fsm.sendOpen(fsm.primary);
      return;
    case 'TcpConnectionFails':
      if (mine?.id !== ev.conn) return;
      fsm.connectFailed(`TCP connection failed${ev.reason ? `: ${ev.reason}` : ''}`);
      return;
    default:
      return;
  }
};
