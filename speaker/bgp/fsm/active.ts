// RFC 4271 §8.2.2, Active state: listening for the peer's connection (PassiveTcpEstablishment,
// §8.1.1); a non-passive session also gets here while waiting out its ConnectRetryTimer.

import type { StateHandler } from './context.js';

export const active: StateHandler = (fsm, ev) => {
  switch (ev.type) {
    case 'ConnectRetryTimer_Expires':
      if (!fsm.passive) fsm.connect();
      return;
    case 'TcpConnectionConfirmed':
      fsm.timer('ConnectRetryTimer', undefined);
      fsm.primary = { id: ev.conn, dir: 'in', stage: 'Active' };
      fsm.sendOpen(fsm.primary);
      return;
    case 'Tcp_CR_Acked':
      fsm.close(ev.conn);
      return;
    default:
      return;
  }
};
