// RFC 4271 §8.2.2, Idle state: refuse incoming connections; start on ManualStart, or
// automatically when the IdleHoldTimer (the backoff after a failure, §8.1.1) expires.

import type { StateHandler } from './context.js';

export const idle: StateHandler = (fsm, ev) => {
  switch (ev.type) {
    case 'ManualStart':
    case 'IdleHoldTimer_Expires':
      if (fsm.passive) fsm.setState('Active', `${ev.type}, passive: waiting for the peer to connect`);
      else fsm.connect();
      return;
    case 'TcpConnectionConfirmed':
      // "the local system refuses all incoming BGP connections for this peer"
      fsm.close(ev.conn);
      return;
    default:
      return;
  }
};
