// Drives every RFC 4271 §8 transition of the pure FSM with a fake clock: no sockets, no timers.

import { BgpFsm } from './fsm.js';
import { eventFromDecode } from './decode-event.js';
import type { FsmAction, FsmConfig, FsmEvent } from './types.js';
import type { Capability, OpenMessage } from '../wire/messages.js';
import { encodeMessage } from '../wire/encode.js';
import { buildOpen } from '../wire/open.js';
import { decodeMessage } from '../wire/decode.js';

const LOCAL_ID = '10.0.0.11';

function harness(cfg: Partial<FsmConfig> = {}) {
  const fsm = new BgpFsm({ localAsn: 64512, peerAsn: 64500, routerId: LOCAL_ID, holdTime: 9, ...cfg });
  let now = 0;
  const log: FsmAction[] = [];
  const step = (ev: FsmEvent): FsmAction[] => {
    const out = fsm.step(ev, now);
    log.push(...out);
    return out;
  };
  const sent = (out: FsmAction[]) =>
    out.flatMap((a) => (a.type === 'send' ? [{ conn: a.conn, message: a.message }] : []));
  const notifications = (out: FsmAction[]) =>
    sent(out).flatMap((s) =>
      s.message.type === 'notification' ? [[s.message.code, s.message.subcode, s.conn] as const] : [],
    );
  const closed = (out: FsmAction[]) => out.flatMap((a) => (a.type === 'close' ? [a.conn] : []));
  const timerAt = (out: FsmAction[], t: string) => {
    const a = out.filter((x) => x.type === 'timer' && x.timer === t).pop();
    return a?.type === 'timer' ? a.at : 'untouched';
  };
  return {
    fsm,
    log,
    step,
    sent,
    notifications,
    closed,
    timerAt,
    advance: (ms: number) => (now += ms),
    get now() {
      return now;
    },
  };
}

const peerOpen = (o: Partial<OpenMessage> = {}): OpenMessage => ({
  ...buildOpen({ asn: 64500, holdTime: 3, bgpId: '10.0.0.1', capabilities: [] }),
  ...o,
});

type H = ReturnType<typeof harness>;

/** Active mode up to OpenSent on connection 1. */
function toOpenSent(h: H): number {
  const out = h.step({ type: 'ManualStart' });
  const c = out.find((a) => a.type === 'connect');
  if (c?.type !== 'connect') throw new Error('no connect');
  h.step({ type: 'Tcp_CR_Acked', conn: c.conn });
  return c.conn;
}
function toOpenConfirm(h: H, open = peerOpen()): number {
  const conn = toOpenSent(h);
  h.step({ type: 'BGPOpen', conn, open });
  return conn;
}
function toEstablished(h: H, open = peerOpen()): number {
  const conn = toOpenConfirm(h, open);
  h.step({ type: 'KeepAliveMsg', conn });
  return conn;
}

describe('BGP FSM (RFC 4271 §8)', () => {
  it('starts in Idle and does nothing until ManualStart', () => {
    const h = harness();
    expect(h.fsm.state).toBe('Idle');
    expect(h.step({ type: 'ConnectRetryTimer_Expires' })).toEqual([]);
  });

  it('refuses incoming connections in Idle', () => {
    const h = harness();
    const conn = h.fsm.connectionId();
    expect(h.closed(h.step({ type: 'TcpConnectionConfirmed', conn }))).toEqual([conn]);
    expect(h.fsm.state).toBe('Idle');
  });

  it('goes Idle -> Connect -> OpenSent -> OpenConfirm -> Established in active mode', () => {
    const h = harness();
    let out = h.step({ type: 'ManualStart' });
    expect(h.fsm.state).toBe('Connect');
    const c = out.find((a) => a.type === 'connect');
    expect(c).toMatchObject({ type: 'connect', timeoutMs: 5000 });
    const conn = c!.type === 'connect' ? c!.conn : -1;
    out = h.step({ type: 'Tcp_CR_Acked', conn });
    expect(h.fsm.state).toBe('OpenSent');
    expect(h.sent(out)[0]!.message).toMatchObject({
      type: 'open',
      myAs: 64512,
      holdTime: 9,
      bgpId: LOCAL_ID,
    });
    // §8.2.2: a large HoldTimer (4 minutes) while waiting for the OPEN.
    expect(h.timerAt(out, 'HoldTimer')).toBe(240_000);
    expect(h.timerAt(out, 'ConnectRetryTimer')).toBeUndefined();
    out = h.step({ type: 'BGPOpen', conn, open: peerOpen() });
    expect(h.fsm.state).toBe('OpenConfirm');
    expect(h.sent(out).map((s) => s.message.type)).toEqual(['keepalive']);
    // Hold time negotiated to min(9, 3) = 3 s; keepalive a third of it.
    expect(h.timerAt(out, 'HoldTimer')).toBe(3000);
    expect(h.timerAt(out, 'KeepaliveTimer')).toBe(1000);
    h.advance(200);
    out = h.step({ type: 'KeepAliveMsg', conn });
    expect(h.fsm.state).toBe('Established');
    const est = out.find((a) => a.type === 'established');
    expect(est).toMatchObject({
      conn,
      negotiated: { holdTime: 3, context: { fourOctetAs: true, external: true } },
    });
    expect(h.timerAt(out, 'HoldTimer')).toBe(3200);
    expect(h.fsm.counters.establishedTransitions).toBe(1);
  });

  it('waits in Active and answers the peer in passive mode (PassiveTcpEstablishment)', () => {
    const h = harness({ passive: true });
    let out = h.step({ type: 'ManualStart' });
    expect(h.fsm.state).toBe('Active');
    expect(out.some((a) => a.type === 'connect')).toBe(false);
    expect(h.timerAt(out, 'ConnectRetryTimer')).toBe('untouched');
    const conn = h.fsm.connectionId();
    out = h.step({ type: 'TcpConnectionConfirmed', conn });
    expect(h.fsm.state).toBe('OpenSent');
    expect(h.sent(out)).toEqual([{ conn, message: h.fsm.localOpen }]);
    h.step({ type: 'BGPOpen', conn, open: peerOpen() });
    h.step({ type: 'KeepAliveMsg', conn });
    expect(h.fsm.state).toBe('Established');
  });

  it('retries a hanging connect when the ConnectRetryTimer expires', () => {
    const h = harness({ connectRetryMs: 1000, connectTimeoutMs: 500 });
    const first = h.step({ type: 'ManualStart' });
    expect(h.timerAt(first, 'ConnectRetryTimer')).toBe(1000);
    h.advance(1000);
    const out = h.step({ type: 'ConnectRetryTimer_Expires' });
    expect(h.closed(out)).toEqual([1]);
    expect(out.find((a) => a.type === 'connect')).toMatchObject({ conn: 2 });
    expect(h.fsm.state).toBe('Connect');
    // The abandoned attempt completing late is closed, not used.
    expect(h.closed(h.step({ type: 'Tcp_CR_Acked', conn: 1 }))).toEqual([1]);
    expect(h.fsm.state).toBe('Connect');
  });

  it('backs off exponentially up to the cap after consecutive connect failures', () => {
    const h = harness({ connectRetryMs: 1000, maxConnectRetryMs: 5000 });
    h.step({ type: 'ManualStart' });
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      const conn = h.fsm.primary!.id;
      const out = h.step({ type: 'TcpConnectionFails', conn, reason: 'ECONNREFUSED' });
      // Waiting in Active, not Idle: the peer's own connection is still taken meanwhile.
      expect(h.fsm.state).toBe('Active');
      const at = h.timerAt(out, 'ConnectRetryTimer') as number;
      delays.push(at - h.now);
      h.advance(at - h.now);
      h.step({ type: 'ConnectRetryTimer_Expires' });
      expect(h.fsm.state).toBe('Connect');
    }
    expect(delays).toEqual([2000, 4000, 5000, 5000, 5000]);
  });

  it("takes the peer's connection while waiting to dial again after a failed dial", () => {
    const h = harness({ connectRetryMs: 1000 });
    h.step({ type: 'ManualStart' });
    const ours = h.fsm.primary!.id;
    let out = h.step({ type: 'TcpConnectionFails', conn: ours, reason: 'ECONNREFUSED' });
    expect(out).toContainEqual({ type: 'close', conn: ours });
    expect(h.fsm.state).toBe('Active');
    const theirs = h.fsm.connectionId();
    out = h.step({ type: 'TcpConnectionConfirmed', conn: theirs });
    expect(h.fsm.state).toBe('OpenSent');
    expect(h.sent(out).map((m) => [m.conn, m.message.type])).toEqual([[theirs, 'open']]);
    // The retry timer is off: no second dial while the peer's connection is in use.
    expect(h.timerAt(out, 'ConnectRetryTimer')).toBeUndefined();
  });

  it('resets the backoff once Established', () => {
    const h = harness({ connectRetryMs: 1000 });
    h.step({ type: 'ManualStart' });
    h.step({ type: 'TcpConnectionFails', conn: h.fsm.primary!.id });
    h.step({ type: 'ConnectRetryTimer_Expires' });
    const conn = h.fsm.primary!.id;
    h.step({ type: 'Tcp_CR_Acked', conn });
    h.step({ type: 'BGPOpen', conn, open: peerOpen() });
    h.step({ type: 'KeepAliveMsg', conn });
    const out = h.step({ type: 'TcpConnectionFails', conn });
    expect(out.find((a) => a.type === 'down')).toMatchObject({ conn });
    expect(h.timerAt(out, 'IdleHoldTimer')).toBe(h.now + 2000);
  });

  it('sends KEEPALIVEs every keepalive interval and restarts the HoldTimer on KEEPALIVE and UPDATE', () => {
    const h = harness();
    const conn = toEstablished(h);
    h.advance(1000);
    let out = h.step({ type: 'KeepaliveTimer_Expires' });
    expect(h.sent(out)).toEqual([{ conn, message: { type: 'keepalive' } }]);
    expect(h.timerAt(out, 'KeepaliveTimer')).toBe(2000);
    h.advance(500);
    out = h.step({ type: 'UpdateMsg', conn, result: 'ok' });
    expect(h.timerAt(out, 'HoldTimer')).toBe(4500);
    out = h.step({ type: 'KeepAliveMsg', conn });
    expect(h.timerAt(out, 'HoldTimer')).toBe(4500);
  });

  it('uses the configured keepaliveTime when it is below a third of the hold time', () => {
    const h = harness({ holdTime: 90, keepaliveTime: 10 });
    toOpenSent(h);
    const out = h.step({ type: 'BGPOpen', conn: h.fsm.primary!.id, open: peerOpen({ holdTime: 90 }) });
    expect(h.timerAt(out, 'KeepaliveTimer')).toBe(10_000);
    expect(h.timerAt(out, 'HoldTimer')).toBe(90_000);
  });

  it('runs no hold timer and sends no keepalives when the negotiated hold time is 0', () => {
    const h = harness();
    toOpenSent(h);
    const conn = h.fsm.primary!.id;
    const out = h.step({ type: 'BGPOpen', conn, open: peerOpen({ holdTime: 0 }) });
    expect(h.timerAt(out, 'HoldTimer')).toBeUndefined();
    expect(h.timerAt(out, 'KeepaliveTimer')).toBe('untouched');
    h.step({ type: 'KeepAliveMsg', conn });
    expect(h.fsm.state).toBe('Established');
    expect(h.fsm.deadline('HoldTimer')).toBeUndefined();
    expect(h.fsm.deadline('KeepaliveTimer')).toBeUndefined();
  });

  it('rejects a configured hold time of 1 or 2 seconds', () => {
    expect(() => harness({ holdTime: 2 })).toThrow(/holdTime 2: want 0 or 3..65535/);
  });

  it('ignores a timer event whose timer was cancelled', () => {
    const h = harness();
    toEstablished(h);
    h.step({ type: 'ManualStop' });
    expect(h.step({ type: 'HoldTimer_Expires' })).toEqual([]);
  });

  it('counts treat-as-withdraw and attribute-discard UPDATEs and stays Established', () => {
    const h = harness();
    const conn = toEstablished(h);
    h.step({ type: 'UpdateMsg', conn, result: 'treat-as-withdraw' });
    h.step({ type: 'UpdateMsg', conn, result: 'attribute-discard' });
    h.step({ type: 'UpdateMsg', conn, result: 'ok' });
    h.step({ type: 'RouteRefreshMsg', conn });
    expect(h.fsm.state).toBe('Established');
    expect(h.fsm.counters).toMatchObject({
      updatesReceived: 3,
      treatAsWithdraw: 1,
      attributeDiscard: 1,
      routeRefreshReceived: 1,
      notificationsSent: 0,
    });
  });

  it('goes Idle without a NOTIFICATION when the peer sends one', () => {
    const h = harness();
    const conn = toEstablished(h);
    const out = h.step({
      type: 'NotifMsg',
      conn,
      notification: { type: 'notification', code: 6, subcode: 2, data: Buffer.alloc(0) },
    });
    expect(h.notifications(out)).toEqual([]);
    expect(h.closed(out)).toEqual([conn]);
    expect(h.fsm.state).toBe('Idle');
    expect(h.fsm.counters.lastError).toBe('received NOTIFICATION 6/2');
  });

  it('restarts automatically after the idle hold time once the session failed', () => {
    const h = harness({ connectRetryMs: 500 });
    const conn = toEstablished(h);
    const out = h.step({ type: 'TcpConnectionFails', conn });
    expect(h.fsm.state).toBe('Idle');
    h.advance((h.timerAt(out, 'IdleHoldTimer') as number) - h.now);
    h.step({ type: 'IdleHoldTimer_Expires' });
    expect(h.fsm.state).toBe('Connect');
  });

  it('sets the Restart State bit (RFC 4724 §3) in OPENs until the first Established, and not on a later reconnect', () => {
    const gr: Capability = {
      kind: 'graceful-restart',
      restarting: true,
      notification: false,
      restartTime: 120,
      families: [{ afi: 1, safi: 1, forwardingState: true }],
    };
    const h = harness({ connectRetryMs: 500, capabilities: [gr] });
    const openSentOn = (out: FsmAction[]): Buffer => {
      const open = h.sent(out).find((x) => x.message.type === 'open')?.message;
      if (open?.type !== 'open') throw new Error('no OPEN sent');
      return encodeMessage(open);
    };
    // The first attempt fails after its OPEN: the restart is not over, the retry still says so.
    h.step({ type: 'ManualStart' });
    let out = h.step({ type: 'Tcp_CR_Acked', conn: h.fsm.primary!.id });
    expect(restartFlags(openSentOn(out))).toEqual({ restarting: true, restartTime: 120 });
    out = h.step({ type: 'TcpConnectionFails', conn: h.fsm.primary!.id });
    h.advance((h.timerAt(out, 'IdleHoldTimer') as number) - h.now);
    h.step({ type: 'IdleHoldTimer_Expires' });
    let conn = h.fsm.primary!.id;
    out = h.step({ type: 'Tcp_CR_Acked', conn });
    expect(restartFlags(openSentOn(out))).toEqual({ restarting: true, restartTime: 120 });
    h.step({ type: 'BGPOpen', conn, open: peerOpen() });
    h.step({ type: 'KeepAliveMsg', conn });
    expect(h.fsm.state).toBe('Established');
    // The session drops and comes back: a reconnect, not a restart.
    out = h.step({ type: 'TcpConnectionFails', conn });
    h.advance((h.timerAt(out, 'IdleHoldTimer') as number) - h.now);
    h.step({ type: 'IdleHoldTimer_Expires' });
    conn = h.fsm.primary!.id;
    out = h.step({ type: 'Tcp_CR_Acked', conn });
    expect(restartFlags(openSentOn(out))).toEqual({ restarting: false, restartTime: 120 });
    // So does the OPEN on a connection the peer opens.
    const incoming = h.fsm.connectionId();
    out = h.step({ type: 'TcpConnectionConfirmed', conn: incoming });
    expect(restartFlags(openSentOn(out))).toEqual({ restarting: false, restartTime: 120 });
  });

  it('never sets the Restart State bit when the capability is configured without it', () => {
    const h = harness({
      capabilities: [
        { kind: 'graceful-restart', restarting: false, notification: false, restartTime: 90, families: [] },
      ],
    });
    h.step({ type: 'ManualStart' });
    const out = h.step({ type: 'Tcp_CR_Acked', conn: h.fsm.primary!.id });
    const open = h.sent(out)[0]!.message;
    expect(restartFlags(encodeMessage(open))).toEqual({ restarting: false, restartTime: 90 });
  });

  describe('NOTIFICATIONs we send', () => {
    const cases: Array<{
      name: string;
      setup: (h: H) => number;
      ev: (conn: number) => FsmEvent;
      want: [number, number];
    }> = [
      {
        name: 'Hold Timer Expired (4/0) in OpenSent',
        setup: toOpenSent,
        ev: () => ({ type: 'HoldTimer_Expires' }),
        want: [4, 0],
      },
      {
        name: 'Hold Timer Expired (4/0) in OpenConfirm',
        setup: (h) => toOpenConfirm(h),
        ev: () => ({ type: 'HoldTimer_Expires' }),
        want: [4, 0],
      },
      {
        name: 'Hold Timer Expired (4/0) in Established',
        setup: (h) => toEstablished(h),
        ev: () => ({ type: 'HoldTimer_Expires' }),
        want: [4, 0],
      },
      {
        name: 'FSM error 5/1 for a KEEPALIVE in OpenSent',
        setup: toOpenSent,
        ev: (conn) => ({ type: 'KeepAliveMsg', conn }),
        want: [5, 1],
      },
      {
        name: 'FSM error 5/1 for an UPDATE in OpenSent',
        setup: toOpenSent,
        ev: (conn) => ({ type: 'UpdateMsg', conn, result: 'ok' }),
        want: [5, 1],
      },
      {
        name: 'FSM error 5/2 for an UPDATE in OpenConfirm',
        setup: (h) => toOpenConfirm(h),
        ev: (conn) => ({ type: 'UpdateMsg', conn, result: 'ok' }),
        want: [5, 2],
      },
      {
        name: 'FSM error 5/2 for a second OPEN in OpenConfirm',
        setup: (h) => toOpenConfirm(h),
        ev: (conn) => ({ type: 'BGPOpen', conn, open: peerOpen() }),
        want: [5, 2],
      },
      {
        name: 'FSM error 5/3 for an OPEN in Established',
        setup: (h) => toEstablished(h),
        ev: (conn) => ({ type: 'BGPOpen', conn, open: peerOpen() }),
        want: [5, 3],
      },
      {
        name: 'Bad Peer AS (2/2) for the wrong ASN',
        setup: toOpenSent,
        ev: (conn) => ({ type: 'BGPOpen', conn, open: peerOpen({ myAs: 64999, capabilities: [] }) }),
        want: [2, 2],
      },
      {
        name: 'Unacceptable Hold Time (2/6) for a hold time of 2',
        setup: toOpenSent,
        ev: (conn) => ({ type: 'BGPOpen', conn, open: peerOpen({ holdTime: 2 }) }),
        want: [2, 6],
      },
      {
        name: 'Bad BGP Identifier (2/3) for 0.0.0.0',
        setup: toOpenSent,
        ev: (conn) => ({ type: 'BGPOpen', conn, open: peerOpen({ bgpId: '0.0.0.0' }) }),
        want: [2, 3],
      },
      {
        name: 'Unsupported Version (2/1)',
        setup: toOpenSent,
        ev: (conn) => ({ type: 'BGPOpen', conn, open: peerOpen({ version: 3 }) }),
        want: [2, 1],
      },
      {
        name: 'Cease / Administrative Shutdown (6/2) on ManualStop',
        setup: (h) => toEstablished(h),
        ev: () => ({ type: 'ManualStop' }),
        want: [6, 2],
      },
      {
        name: 'Cease / Administrative Reset (6/4) on reset',
        setup: (h) => toEstablished(h),
        ev: () => ({ type: 'ManualStop', subcode: 4, restart: true }),
        want: [6, 4],
      },
      {
        name: 'Cease (6/2) on ManualStop in OpenSent',
        setup: toOpenSent,
        ev: () => ({ type: 'ManualStop' }),
        want: [6, 2],
      },
    ];
    it.each(cases)('$name', ({ setup, ev, want }) => {
      const h = harness();
      const conn = setup(h);
      const out = h.step(ev(conn));
      expect(h.notifications(out)).toEqual([[...want, conn]]);
      expect(h.closed(out)).toEqual([conn]);
      expect(h.fsm.state).toBe('Idle');
      expect(h.fsm.counters.notificationsSent).toBe(1);
    });

    it('sends what the codec says for a malformed UPDATE (3/x) and a bad header (1/x)', () => {
      for (const [bytes, want] of [
        [malformedUpdate(), [3, 1]],
        [Buffer.concat([Buffer.alloc(16, 0xff), Buffer.from([0, 19, 9])]), [1, 3]],
      ] as const) {
        const h = harness();
        const conn = toEstablished(h);
        const ev = eventFromDecode(conn, decodeMessage(bytes, { fourOctetAs: true, maxMessageSize: 4096 }))!;
        expect(ev.type).toBe(want[0] === 3 ? 'UpdateMsgErr' : 'BGPHeaderErr');
        const out = h.step(ev);
        expect(h.notifications(out)).toEqual([[...want, conn]]);
        expect(h.fsm.state).toBe('Idle');
      }
    });

    it('sends Cease (6/2) on ManualStop and stays Idle (no automatic restart)', () => {
      const h = harness();
      toEstablished(h);
      const out = h.step({ type: 'ManualStop' });
      expect(out.find((a) => a.type === 'down')).toBeDefined();
      expect(h.timerAt(out, 'IdleHoldTimer')).toBe('untouched');
      expect(h.step({ type: 'IdleHoldTimer_Expires' })).toEqual([]);
    });

    it('starts again after an Administrative Reset (6/4)', () => {
      const h = harness({ connectRetryMs: 300 });
      toEstablished(h);
      const out = h.step({ type: 'ManualStop', subcode: 4, restart: true });
      expect(h.timerAt(out, 'IdleHoldTimer')).toBe(h.now + 300);
      h.advance(300);
      h.step({ type: 'IdleHoldTimer_Expires' });
      expect(h.fsm.state).toBe('Connect');
    });

    it('keeps the automatic restart when a reset comes after the peer already closed the session', () => {
      // The router disables the neighbor: its NOTIFICATION arrives first, BFD's Down (which
      // resets the session, RFC 5882 §4.3) a detection time later. The session must come back.
      const h = harness({ connectRetryMs: 300 });
      const conn = toEstablished(h);
      h.step({
        type: 'NotifMsg',
        conn,
        notification: { type: 'notification', code: 6, subcode: 2, data: Buffer.alloc(0) },
      });
      h.advance(100);
      const out = h.step({ type: 'ManualStop', subcode: 4, restart: true });
      expect(h.notifications(out)).toEqual([]);
      expect(h.timerAt(out, 'IdleHoldTimer')).toBe('untouched');
      h.advance(200);
      h.step({ type: 'IdleHoldTimer_Expires' });
      expect(h.fsm.state).toBe('Connect');
    });

    it('cancels the automatic restart on ManualStop while Idle after a failure', () => {
      const h = harness({ connectRetryMs: 300 });
      const conn = toEstablished(h);
      h.step({ type: 'TcpConnectionFails', conn });
      h.step({ type: 'ManualStop' });
      h.advance(300);
      expect(h.step({ type: 'IdleHoldTimer_Expires' })).toEqual([]);
      expect(h.fsm.state).toBe('Idle');
      h.step({ type: 'ManualStart' });
      expect(h.fsm.state).toBe('Connect');
    });

    it('closes a connection attempt without a NOTIFICATION on ManualStop in Connect', () => {
      const h = harness();
      h.step({ type: 'ManualStart' });
      const out = h.step({ type: 'ManualStop' });
      expect(h.notifications(out)).toEqual([]);
      expect(h.closed(out)).toEqual([1]);
    });
  });

  describe('connection collisions (RFC 4271 §6.8)', () => {
    it('uses the peer connection and abandons ours when it arrives while connecting', () => {
      const h = harness();
      h.step({ type: 'ManualStart' });
      const incoming = h.fsm.connectionId();
      const out = h.step({ type: 'TcpConnectionConfirmed', conn: incoming });
      expect(h.closed(out)).toEqual([1]);
      expect(h.sent(out)).toEqual([{ conn: incoming, message: h.fsm.localOpen }]);
      expect(h.fsm.state).toBe('OpenSent');
    });

    it('keeps our connection when our BGP Identifier is higher', () => {
      const h = harness({ routerId: '10.0.0.200' });
      const ours = toOpenSent(h);
      const theirs = h.fsm.connectionId();
      const out1 = h.step({ type: 'TcpConnectionConfirmed', conn: theirs });
      expect(h.sent(out1)).toEqual([{ conn: theirs, message: h.fsm.localOpen }]);
      h.step({ type: 'BGPOpen', conn: ours, open: peerOpen() });
      const out = h.step({ type: 'BGPOpen', conn: theirs, open: peerOpen() });
      expect(h.notifications(out)).toEqual([[6, 7, theirs]]);
      expect(h.closed(out)).toEqual([theirs]);
      h.step({ type: 'KeepAliveMsg', conn: ours });
      expect(h.fsm.state).toBe('Established');
      expect(h.fsm.primary?.id).toBe(ours);
    });

    it("keeps the peer's connection when our BGP Identifier is lower", () => {
      const h = harness({ routerId: '10.0.0.0' });
      const ours = toOpenSent(h);
      const theirs = h.fsm.connectionId();
      h.step({ type: 'TcpConnectionConfirmed', conn: theirs });
      h.step({ type: 'BGPOpen', conn: theirs, open: peerOpen() });
      const out = h.step({ type: 'BGPOpen', conn: ours, open: peerOpen() });
      expect(h.notifications(out)).toEqual([[6, 7, ours]]);
      expect(h.fsm.primary?.id).toBe(theirs);
      expect(h.fsm.state).toBe('OpenConfirm');
      h.step({ type: 'KeepAliveMsg', conn: theirs });
      expect(h.fsm.state).toBe('Established');
    });

    it('closes a new connection with Cease 6/7 when the session is Established', () => {
      const h = harness();
      toEstablished(h);
      const extra = h.fsm.connectionId();
      const out = h.step({ type: 'TcpConnectionConfirmed', conn: extra });
      expect(h.notifications(out)).toEqual([[6, 7, extra]]);
      expect(h.fsm.state).toBe('Established');
    });

    it('rejects a third connection with Cease / Connection Rejected (6/5)', () => {
      const h = harness();
      toOpenSent(h);
      h.step({ type: 'TcpConnectionConfirmed', conn: h.fsm.connectionId() });
      const third = h.fsm.connectionId();
      expect(h.notifications(h.step({ type: 'TcpConnectionConfirmed', conn: third }))).toEqual([
        [6, 5, third],
      ]);
    });

    it('sends the OPEN error on the second connection only', () => {
      const h = harness();
      const ours = toOpenSent(h);
      const theirs = h.fsm.connectionId();
      h.step({ type: 'TcpConnectionConfirmed', conn: theirs });
      const out = h.step({ type: 'BGPOpen', conn: theirs, open: peerOpen({ holdTime: 1 }) });
      expect(h.notifications(out)).toEqual([[2, 6, theirs]]);
      expect(h.fsm.state).toBe('OpenSent');
      expect(h.fsm.primary?.id).toBe(ours);
    });

    it('follows the peer when it completes the handshake on the second connection first', () => {
      const h = harness();
      const ours = toOpenSent(h);
      const theirs = h.fsm.connectionId();
      h.step({ type: 'TcpConnectionConfirmed', conn: theirs });
      h.step({ type: 'BGPOpen', conn: theirs, open: peerOpen() });
      const out = h.step({ type: 'KeepAliveMsg', conn: theirs });
      expect(h.notifications(out)).toEqual([[6, 7, ours]]);
      expect(h.fsm.state).toBe('Established');
      expect(h.fsm.primary?.id).toBe(theirs);
    });
  });
});

/** RFC 4271 §6.3: a Total Path Attribute Length running past the message is a Malformed
 * Attribute List (3/1), which RFC 7606 still resets the session for. */
function malformedUpdate(): Buffer {
  const frame = Buffer.alloc(23, 0xff);
  frame.writeUInt16BE(23, 16);
  frame[18] = 2;
  frame.writeUInt16BE(0, 19);
  frame.writeUInt16BE(10, 21);
  return frame;
}

/** The Graceful Restart capability (code 64) of an encoded OPEN, read from the wire bytes
 * (RFC 4271 §4.2 layout, RFC 5492 capabilities, RFC 4724 §3 flags). */
function restartFlags(open: Buffer): { restarting: boolean; restartTime: number } | undefined {
  const end = 29 + open[28]!;
  for (let p = 29; p < end; p += 2 + open[p + 1]!) {
    if (open[p] !== 2) continue; // Capabilities optional parameter
    const capsEnd = p + 2 + open[p + 1]!;
    for (let c = p + 2; c < capsEnd; c += 2 + open[c + 1]!) {
      if (open[c] !== 64) continue;
      const head = open.readUInt16BE(c + 2);
      return { restarting: (head & 0x8000) !== 0, restartTime: head & 0x0fff };
    }
  }
  return undefined;
}
