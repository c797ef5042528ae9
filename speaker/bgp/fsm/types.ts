// The BGP finite state machine's vocabulary (RFC 4271 §8): states, events in, actions out.
// Pure data: the FSM turns (event, now) into actions; the session edge (peer-session.ts)
// owns the sockets and the timers and turns their happenings back into events.

import type { NotificationMessage, OpenMessage, KeepaliveMessage, Capability } from '../wire/messages.js';
import type { Negotiated } from '../wire/open.js';

/** RFC 4271 §8.2.2 */
export type State = 'Idle' | 'Connect' | 'Active' | 'OpenSent' | 'OpenConfirm' | 'Established';

/** RFC 4271 §8.1.3 (IdleHoldTimer: §8.1.1 DampPeerOscillations, used as the reconnect backoff). */
export type TimerName = 'ConnectRetryTimer' | 'HoldTimer' | 'KeepaliveTimer' | 'IdleHoldTimer';

/** A TCP connection as the FSM knows it: an id the FSM hands out (see BgpFsm.connectionId). */
export type ConnId = number;

/** RFC 4271 §8.1.2-§8.1.5, named as the RFC names them. */
export type FsmEvent =
  /** Event 1 (Event 5 when `passive`: ManualStart_with_PassiveTcpEstablishment). */
  | { type: 'ManualStart' }
  /** Event 2. Sends Cease with `subcode` (default 2, Administrative Shutdown, RFC 4486 §4);
   * `restart` starts again after the idle hold time (Administrative Reset, subcode 4). */
  | { type: 'ManualStop'; subcode?: number; restart?: boolean }
  /** Event 9 */
  | { type: 'ConnectRetryTimer_Expires' }
  /** Event 10 */
  | { type: 'HoldTimer_Expires' }
  /** Event 11 */
  | { type: 'KeepaliveTimer_Expires' }
  /** Event 13 (IdleHoldTimer_Expires): the automatic restart after a failure (Event 3/4). */
  | { type: 'IdleHoldTimer_Expires' }
  /** Event 16: our outgoing connection is up. */
  | { type: 'Tcp_CR_Acked'; conn: ConnId }
  /** Event 17: the peer's incoming connection was accepted. */
  | { type: 'TcpConnectionConfirmed'; conn: ConnId }
  /** Event 18: connect failed, or an established connection closed. */
  | { type: 'TcpConnectionFails'; conn: ConnId; reason?: string }
  /** Event 19 (the OPEN decoded; validateOpen runs inside the FSM). */
  | { type: 'BGPOpen'; conn: ConnId; open: OpenMessage }
  /** Event 21 / 22 / 28: a message failed to decode; `notification` is the one to send. */
  | {
      type: 'BGPHeaderErr' | 'BGPOpenMsgErr' | 'UpdateMsgErr';
      conn: ConnId;
      notification: NotificationMessage;
      reason: string;
    }
  /** Event 24/25 */
  | { type: 'NotifMsg'; conn: ConnId; notification: NotificationMessage }
  /** Event 26 */
  | { type: 'KeepAliveMsg'; conn: ConnId }
  /** Event 27; `result` is how RFC 7606 classified it (routes received are ignored, only counted). */
  | { type: 'UpdateMsg'; conn: ConnId; result: 'ok' | 'attribute-discard' | 'treat-as-withdraw' }
  /** RFC 2918: we never change our Adj-RIB-Out on request (it is always fully sent), so only counted. */
  | { type: 'RouteRefreshMsg'; conn: ConnId };

export type FsmAction =
  /** Open a TCP connection to the peer; report Tcp_CR_Acked or TcpConnectionFails. */
  | { type: 'connect'; conn: ConnId; timeoutMs: number }
  /** Write a message on the connection, ahead of any queued UPDATEs. */
  | { type: 'send'; conn: ConnId; message: OpenMessage | KeepaliveMessage | NotificationMessage }
  /** Close (or abandon the attempt of) the connection, after writing what was queued. */
  | { type: 'close'; conn: ConnId }
  /** (Re)arm the timer to fire at `at` (ms, same clock as `now`), or cancel it (undefined). */
  | { type: 'timer'; timer: TimerName; at: number | undefined }
  | { type: 'state'; from: State; to: State; reason: string }
  /** The session is up on `conn`: send the Adj-RIB-Out. */
  | { type: 'established'; conn: ConnId; negotiated: Negotiated; peerOpen: OpenMessage }
  /** The Established session ended: forget what was sent. */
  | { type: 'down'; conn: ConnId; reason: string };

export interface FsmConfig {
  localAsn: number;
  /** Undefined accepts any peer AS (other than 0), or any of the kind `dynamicAsn` says. */
  peerAsn?: number;
  /** Without `peerAsn`: `internal` accepts only localAsn, `external` any other AS (a
   * BGPPeer's dynamicASN); another one is refused with OPEN Message Error / Bad Peer AS. */
  dynamicAsn?: 'internal' | 'external';
  routerId: string;
  /** Seconds offered in our OPEN: 0, or at least 3 (RFC 4271 §4.2). Default 90. */
  holdTime?: number;
  /** Seconds between KEEPALIVEs; default a third of the negotiated hold time (RFC 4271 §10). */
  keepaliveTime?: number;
  /** Wait for the peer to connect (RFC 4271 §8.1.1 PassiveTcpEstablishment); default false. */
  passive?: boolean;
  /** First ConnectRetryTimer / idle hold delay in ms (default 1000); doubled after every
   * consecutive failure up to maxConnectRetryMs (default 60000); reset once Established. */
  connectRetryMs?: number;
  maxConnectRetryMs?: number;
  /** How long one TCP connect attempt may take (default 5000 ms). */
  connectTimeoutMs?: number;
  /** Capabilities for our OPEN (four-octet-as is added). A graceful-restart capability with
   * `restarting` set carries the Restart State bit until the session is first Established. */
  capabilities?: Capability[];
  /** Capabilities the peer must advertise (RFC 5492 §5). */
  requiredCapabilities?: Capability[];
}

export interface FsmCounters {
  updatesReceived: number;
  treatAsWithdraw: number;
  attributeDiscard: number;
  routeRefreshReceived: number;
  notificationsSent: number;
  notificationsReceived: number;
  establishedTransitions: number;
  /** The last NOTIFICATION we sent or received, for status and logs. */
  lastError?: string;
}
