// The session manager over loopback TCP against a small in-process BGP router built from the
// codec: sessions follow the desired set, routes follow the planner's output, a changed session
// field resets only that session, a removed peer withdraws before its Cease, and stop() either
// withdraws or (graceful restart) closes without a NOTIFICATION.

import net from 'node:net';
import { Registry } from 'prom-client';
import type { BFDProfile } from '../../../lib/config/types.js';
import { createLogger } from '../../../lib/log.js';
import { decodeMessage } from '../wire/decode.js';
import { encodeMessage } from '../wire/encode.js';
import { BgpFramer } from '../wire/framer.js';
import type { BgpMessage, Capability, CodecContext } from '../wire/messages.js';
import { CeaseSubcode } from '../wire/notification-codes.js';
import { buildOpen } from '../wire/open.js';
import { formatPrefix } from '../wire/prefix.js';
import { BgpMetrics } from '../metrics.js';
import type { SessionSpec } from './session-spec.js';
import { BgpSessions, type DesiredSession } from './sessions.js';

const ctx: CodecContext = { fourOctetAs: true, maxMessageSize: 4096 };

interface Conn {
  opens: number;
  /** prefix → communities as the router holds them. */
  routes: Map<string, number[] | undefined>;
  log: string[];
  closed: boolean;
  /** The Restart State bit of the Graceful Restart capability in the speaker's OPEN. */
  restartBit?: boolean;
}

/** A router: answers OPEN, KEEPALIVEs every second, records every connection's messages, those
 * it accepts and those it makes (dial). */
async function fakeRouter(capabilities: Capability[] = [], asn = 64500) {
  const conns: Conn[] = [];
  const sockets = new Set<net.Socket>();
  const handle = (s: net.Socket): void => {
    sockets.add(s);
    const conn: Conn = { opens: 0, routes: new Map(), log: [], closed: false };
    conns.push(conn);
    const framer = new BgpFramer();
    const send = (m: BgpMessage): void => void (!s.destroyed && s.write(encodeMessage(m, ctx)));
    const ka = setInterval(() => send({ type: 'keepalive' }), 1000);
    s.on('error', () => undefined);
    s.on('close', () => {
      clearInterval(ka);
      conn.closed = true;
      conn.log.push('closed');
    });
    s.on('data', (chunk: Buffer) => {
      for (const frame of framer.push(chunk)) {
        const r = decodeMessage(frame, ctx);
        // Over loopback our next hop is 127.0.0.1, which RFC 7606 treats as a withdrawal: the
        // prefixes are still what was announced.
        if (r.action === 'treat-as-withdraw' && r.errors.every((e) => e.typeCode === 3)) {
          for (const p of r.withdrawn) conn.routes.set(formatPrefix(p), undefined);
          conn.log.push(`announce ${r.withdrawn.map(formatPrefix).join(',')}`);
          continue;
        }
        if (r.action !== 'ok') throw new Error(`router could not decode: ${JSON.stringify(r)}`);
        const m = r.message;
        if (m.type === 'open') {
          conn.opens++;
          const gr = m.capabilities.find((c) => c.kind === 'graceful-restart');
          if (gr?.kind === 'graceful-restart') conn.restartBit = gr.restarting;
          conn.log.push(`open ${m.capabilities.map((c) => c.kind).join(',')}`);
          send(buildOpen({ asn, holdTime: 3, bgpId: '10.0.0.1', capabilities }));
          send({ type: 'keepalive' });
        } else if (m.type === 'update') {
          for (const p of m.withdrawn) conn.routes.delete(formatPrefix(p));
          for (const p of m.nlri) conn.routes.set(formatPrefix(p), m.attributes.communities);
          if (m.withdrawn.length) conn.log.push(`withdraw ${m.withdrawn.map(formatPrefix).join(',')}`);
          if (m.nlri.length) conn.log.push(`announce ${m.nlri.map(formatPrefix).join(',')}`);
        } else if (m.type === 'notification') conn.log.push(`notification ${m.code}/${m.subcode}`);
      }
    });
  };
  const server = net.createServer(handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    conns,
    /** Connects to the speaker's listener on 127.0.0.1:`port` from `localAddress`; the
     * connection is the next entry of `conns`. */
    dial(port: number, localAddress: string): Conn {
      handle(net.connect({ host: '127.0.0.1', port, localAddress }));
      return conns[conns.length - 1]!;
    },
    /** Drops every connection without a NOTIFICATION (as a router that lost them). */
    drop() {
      sockets.forEach((s) => s.destroy());
    },
    async close() {
      sockets.forEach((s) => s.destroy());
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

async function until(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const spec = (port: number, over: Partial<SessionSpec> = {}): SessionSpec => ({
  name: 'router',
  peerAddress: '127.0.0.1',
  port,
  localAsn: 64512,
  peerAsn: 64500,
  routerId: '10.77.0.11',
  holdTime: 3,
  connectRetryMs: 200,
  gracefulRestart: false,
  ...over,
});

const desired = (...sessions: DesiredSession[]): Map<string, DesiredSession> =>
  new Map(sessions.map((d) => [d.spec.name, d]));

const silent = createLogger({
  level: (process.env.BGM_DEBUG ? 'debug' : 'error') as 'debug',
  component: 'test',
  write: (l: string) => (process.env.BGM_DEBUG ? console.log(l) : undefined),
});

/** A port on `host` nothing listens on: a connection to it is refused at once. */
async function closedPort(host: string): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, host, () => r()));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

describe('BgpSessions', () => {
  let routers: Array<Awaited<ReturnType<typeof fakeRouter>>> = [];
  let sessions: BgpSessions | undefined;
  const registry = new Registry();

  afterEach(async () => {
    await sessions?.stop('withdraw');
    sessions = undefined;
    await Promise.all(routers.map((r) => r.close()));
    routers = [];
    registry.clear();
  });

  async function metric(name: string, peer: string): Promise<number | undefined> {
    const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
    return m?.values.find((v) => v.labels.peer === peer)?.value;
  }

  it('announces the routes, follows route changes, and withdraws before the Cease when the peer goes', async () => {
    const r = await fakeRouter();
    routers.push(r);
    sessions = new BgpSessions({ log: silent, metrics: new BgpMetrics(registry) });
    const s = spec(r.port);
    sessions.apply(desired({ spec: s, routes: [{ prefix: '10.77.100.1/32', communities: [0xfc000001] }] }));
    await until('the route', () => r.conns[0]?.routes.has('10.77.100.1/32') === true);
    const label = `127.0.0.1:${r.port}`;
    expect(await metric('metallb_bgp_session_up', label)).toBe(1);
    expect(await metric('metallb_bgp_announced_prefixes_total', label)).toBe(1);

    sessions.apply(desired({ spec: s, routes: [{ prefix: '10.77.100.2/32' }] }));
    await until('the new route', () => r.conns[0]?.routes.has('10.77.100.2/32') === true);
    await until('the old one gone', () => r.conns[0]?.routes.has('10.77.100.1/32') === false);
    expect(r.conns).toHaveLength(1);
    expect(await metric('metallb_bgp_updates_total', label)).toBeGreaterThanOrEqual(3);

    sessions.apply(desired());
    await until('the close', () => r.conns[0]?.closed === true);
    const log = r.conns[0]!.log;
    expect(log.slice(-3)).toEqual([
      'withdraw 10.77.100.2/32',
      `notification 6/${CeaseSubcode.PEER_DECONFIGURED}`,
      'closed',
    ]);
    // The series goes once the speaker's side of the close is done too, which may be just
    // after the router saw the connection close.
    const deadline = Date.now() + 5000;
    while ((await metric('metallb_bgp_session_up', label)) !== undefined && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    expect(await metric('metallb_bgp_session_up', label)).toBeUndefined();
  });

  it('starts the other peers when one BGPPeer cannot have a session, and names it once', async () => {
    const r = await fakeRouter();
    routers.push(r);
    const lines: string[] = [];
    const log = createLogger({ level: 'error', component: 'test', write: (l: string) => lines.push(l) });
    sessions = new BgpSessions({ log });
    const routes = [{ prefix: '10.77.100.1/32' }];
    // Hold time 1 s is refused by the FSM (RFC 4271 §4.2: 0 or at least 3 s); the bad peer
    // comes first in the desired set.
    const bad = { spec: spec(r.port, { name: 'bad-peer', holdTime: 1 }), routes };
    const good = { spec: spec(r.port, { name: 'good-peer' }), routes };
    sessions.apply(desired(bad, good));
    sessions.apply(desired(bad, good));
    await until('the good peer’s route', () => r.conns[0]?.routes.has('10.77.100.1/32') === true);
    expect(sessions.status().map((s) => s.name)).toEqual(['good-peer']);
    const errors = lines.filter((l) => l.includes('bad-peer'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('holdTime 1');
  });

  it('resets only the session whose BGPPeer changed', async () => {
    const a = await fakeRouter();
    const b = await fakeRouter();
    routers.push(a, b);
    sessions = new BgpSessions({ log: silent });
    const routes = [{ prefix: '10.77.100.1/32' }];
    const sa = spec(a.port, { name: 'a' });
    const sb = spec(b.port, { name: 'b' });
    sessions.apply(desired({ spec: sa, routes }, { spec: sb, routes }));
    await until('both up', () => a.conns[0]?.routes.size === 1 && b.conns[0]?.routes.size === 1);

    sessions.apply(desired({ spec: { ...sa, holdTime: 9 }, routes }, { spec: sb, routes }));
    await until('a second session to a', () => a.conns[1]?.routes.size === 1);
    expect(a.conns[0]?.log).toContain(`notification 6/${CeaseSubcode.OTHER_CONFIGURATION_CHANGE}`);
    expect(a.conns[0]?.closed).toBe(true);
    expect(b.conns).toHaveLength(1);
    expect(b.conns[0]?.closed).toBe(false);
  });

  it('advertises Graceful Restart and, stopping with "keep", closes without withdrawing or a NOTIFICATION', async () => {
    const gr: Capability = {
      kind: 'graceful-restart',
      restarting: false,
      notification: false,
      restartTime: 120,
      families: [],
    };
    const r = await fakeRouter([gr]);
    routers.push(r);
    const mgr = new BgpSessions({ log: silent });
    mgr.apply(
      desired({ spec: spec(r.port, { gracefulRestart: true }), routes: [{ prefix: '10.77.100.1/32' }] }),
    );
    await until('the route', () => r.conns[0]?.routes.size === 1);
    expect(r.conns[0]?.log[0]).toMatch(/graceful-restart/);
    await mgr.stop('keep');
    await until('the close', () => r.conns[0]?.closed === true);
    expect(r.conns[0]?.log.filter((l) => /^(withdraw|notification)/.test(l))).toEqual([]);
    expect(r.conns[0]?.routes.size).toBe(1);
  });

  it('sets the Restart State bit on the first session to a router after the speaker starts, not on a reset or a reconnect', async () => {
    const gr: Capability = {
      kind: 'graceful-restart',
      restarting: false,
      notification: false,
      restartTime: 120,
      families: [],
    };
    const r = await fakeRouter([gr]);
    routers.push(r);
    const routes = [{ prefix: '10.77.100.1/32' }];
    const s = spec(r.port, { gracefulRestart: true });
    sessions = new BgpSessions({ log: silent });
    sessions.apply(desired({ spec: s, routes }));
    await until('the first session', () => r.conns[0]?.routes.size === 1);
    // A changed BGPPeer: a new session in the same process.
    sessions.apply(desired({ spec: { ...s, holdTime: 9 }, routes }));
    await until('the session after the reset', () => r.conns[1]?.routes.size === 1);
    // The router loses the connection: the speaker reconnects.
    r.drop();
    await until('the session after the reconnect', () => r.conns[2]?.routes.size === 1);
    expect(r.conns.map((c) => c.restartBit)).toEqual([true, false, false]);
    // A new speaker process (a restart): its first OPEN says it restarted.
    await sessions.stop('keep');
    sessions = new BgpSessions({ log: silent });
    sessions.apply(desired({ spec: s, routes }));
    await until('the session of the restarted speaker', () => r.conns[3]?.routes.size === 1);
    expect(r.conns[3]?.restartBit).toBe(true);
  });

  it('sends no Graceful Restart capability (so no Restart State bit) without enableGracefulRestart', async () => {
    const r = await fakeRouter();
    routers.push(r);
    sessions = new BgpSessions({ log: silent });
    sessions.apply(desired({ spec: spec(r.port), routes: [{ prefix: '10.77.100.1/32' }] }));
    await until('the route', () => r.conns[0]?.routes.size === 1);
    expect(r.conns[0]?.log[0]).not.toMatch(/graceful-restart/);
    expect(r.conns[0]?.restartBit).toBeUndefined();
  });

  it.each([
    ['external', 64512, 'peer AS is 64512, our own AS: dynamicASN external accepts only an external peer'],
    [
      'internal',
      64500,
      'peer AS is 64500, not our AS 64512: dynamicASN internal accepts only an internal peer',
    ],
  ] as const)(
    'dynamicASN %s refuses a router in AS %i with Bad Peer AS (2/2) and says why in the session status',
    async (dynamicAsn, routerAs, why) => {
      const r = await fakeRouter([], routerAs);
      routers.push(r);
      sessions = new BgpSessions({ log: silent });
      const { peerAsn: _, ...s } = spec(r.port, { dynamicAsn });
      sessions.apply(desired({ spec: s, routes: [{ prefix: '10.77.100.1/32' }] }));
      await until('the refusal', () => r.conns[0]?.closed === true);
      expect(r.conns[0]?.log).toContain('notification 2/2');
      expect(r.conns[0]?.routes.size).toBe(0);
      const status = sessions.status()[0];
      expect(status?.established).toBe(false);
      expect(status?.lastError).toBe(`OPEN: ${why} (sent NOTIFICATION 2/2)`);
    },
  );

  it('dynamicASN accepts a router of the kind it names', async () => {
    const ext = await fakeRouter([], 64500);
    const int = await fakeRouter([], 64512);
    routers.push(ext, int);
    sessions = new BgpSessions({ log: silent });
    const routes = [{ prefix: '10.77.100.1/32' }];
    const { peerAsn: _a, ...e } = spec(ext.port, { name: 'ext', dynamicAsn: 'external' });
    // The router's identifier differs from ours: an internal peer may not share it (RFC 6286).
    const { peerAsn: _b, ...i } = spec(int.port, { name: 'int', dynamicAsn: 'internal' });
    sessions.apply(desired({ spec: e, routes }, { spec: i, routes }));
    await until(
      'both sessions with the route',
      () => ext.conns[0]?.routes.size === 1 && int.conns[0]?.routes.size === 1,
    );
  });

  it('starts BFD when a bfdProfile is added, without resetting the session; BFD Down resets it', async () => {
    const r = await fakeRouter();
    routers.push(r);
    const started: string[] = [];
    let down: ((reason: string) => void) | undefined;
    sessions = new BgpSessions({
      log: silent,
      bfd: (sp, onDown) => {
        started.push(sp.bfdProfile?.ref.name ?? '');
        down = onDown;
        return { stop: () => undefined };
      },
    });
    const routes = [{ prefix: '10.77.100.1/32' }];
    const s = spec(r.port);
    sessions.apply(desired({ spec: s, routes }));
    await until('the route', () => r.conns[0]?.routes.size === 1);
    const bfdProfile: BFDProfile = {
      ref: { kind: 'BFDProfile', namespace: 'metallb-system', name: 'fast' },
      receiveInterval: 100,
      transmitInterval: 100,
      detectMultiplier: 3,
      echoInterval: 50,
      echoMode: false,
      passiveMode: false,
      minimumTtl: 254,
    };
    sessions.apply(desired({ spec: { ...s, bfdProfile }, routes }));
    expect(started).toEqual(['fast']);
    expect(r.conns).toHaveLength(1);
    down?.('BFD Up → Down (Control Detection Time Expired)');
    await until('the reset', () => r.conns[0]?.closed === true);
    expect(r.conns[0]?.log).toContain(`notification 6/${CeaseSubcode.ADMINISTRATIVE_RESET}`);
    await until('a new session with the route', () => r.conns[1]?.routes.size === 1);
  });

  it('withdraws on "keep" when the router did not advertise Graceful Restart', async () => {
    const r = await fakeRouter();
    routers.push(r);
    const mgr = new BgpSessions({ log: silent });
    mgr.apply(
      desired({ spec: spec(r.port, { gracefulRestart: true }), routes: [{ prefix: '10.77.100.1/32' }] }),
    );
    await until('the route', () => r.conns[0]?.routes.size === 1);
    await mgr.stop('keep');
    await until('the close', () => r.conns[0]?.closed === true);
    expect(r.conns[0]?.log.slice(-3)).toEqual([
      'withdraw 10.77.100.1/32',
      `notification 6/${CeaseSubcode.ADMINISTRATIVE_SHUTDOWN}`,
      'closed',
    ]);
  });

  describe('with a listen port (--bgp-listen-port)', () => {
    // A refused dial waits in Active, which takes the router's connection (fsm.ts
    // connectFailed); in Idle (RFC 4271 §8.2.2) the router's connection would be refused.
    it("takes the router's connection from the peer's address when its own dial cannot get through, and announces", async () => {
      const r = await fakeRouter();
      routers.push(r);
      // The peer is 127.0.0.2 (a loopback alias), and nothing listens where we dial it.
      const s = spec(await closedPort('127.0.0.2'), { peerAddress: '127.0.0.2' });
      sessions = new BgpSessions({ log: silent, listenPort: 0 });
      const port = await sessions.listening;
      expect(port).toBeGreaterThan(0);
      sessions.apply(desired({ spec: s, routes: [{ prefix: '10.77.100.1/32' }] }));
      const mgr = sessions;
      // Long enough for the first dial to be refused (loopback answers at once).
      await new Promise((res) => setTimeout(res, 100));
      const conn = r.dial(port!, '127.0.0.2');
      await until("the route over the router's connection", () => conn.routes.has('10.77.100.1/32'));
      expect(mgr.status()[0]).toMatchObject({ state: 'Established', established: true, announced: 1 });
      expect(conn.opens).toBe(1);
    });

    it("refuses a connection from an address no session is for, and gives one from the peer's address to its session", async () => {
      const r = await fakeRouter();
      routers.push(r);
      sessions = new BgpSessions({ log: silent, listenPort: 0 });
      const port = (await sessions.listening)!;
      // Our dial to the router (127.0.0.1) brings the session up.
      sessions.apply(desired({ spec: spec(r.port), routes: [{ prefix: '10.77.100.1/32' }] }));
      await until('the route', () => r.conns[0]?.routes.size === 1);

      const stranger = r.dial(port, '127.0.0.3');
      await until('the stranger closed', () => stranger.closed);
      expect(stranger.log).toEqual(['closed']);

      // The same from the peer's address reaches the session, which already is Established:
      // RFC 4271 §6.8, the new connection gets Cease / Connection Collision Resolution.
      const second = r.dial(port, '127.0.0.1');
      await until('the second connection closed', () => second.closed);
      expect(second.log).toContain(`notification 6/${CeaseSubcode.CONNECTION_COLLISION_RESOLUTION}`);
      expect(r.conns[0]?.closed).toBe(false);
      expect(sessions.status()[0]?.established).toBe(true);
    });

    it('logs why it cannot listen when the port is taken, and the sessions still dial and announce', async () => {
      const blocker = net.createServer();
      await new Promise<void>((res) => blocker.listen(0, () => res()));
      const taken = (blocker.address() as net.AddressInfo).port;
      try {
        const r = await fakeRouter();
        routers.push(r);
        const lines: string[] = [];
        const log = createLogger({ level: 'info', component: 'test', write: (l) => lines.push(l) });
        sessions = new BgpSessions({ log, listenPort: taken });
        sessions.apply(desired({ spec: spec(r.port), routes: [{ prefix: '10.77.100.1/32' }] }));
        expect(await sessions.listening).toBeUndefined();
        await until('the route', () => r.conns[0]?.routes.size === 1);
        expect(sessions.status()[0]?.established).toBe(true);
        const errors = lines
          .map((l) => JSON.parse(l) as Record<string, unknown>)
          .filter((l) => l.level === 'error');
        expect(errors).toEqual([
          expect.objectContaining({
            msg: expect.stringMatching(new RegExp(`TCP port ${taken}: the port is in use .*only dial out`)),
            port: taken,
            code: 'EADDRINUSE',
          }),
        ]);
      } finally {
        await new Promise<void>((res) => blocker.close(() => res()));
      }
    });
  });
});
