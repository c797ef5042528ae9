// The session manager over loopback TCP against a small in-process BGP router built from the
// codec: sessions follow the desired set, routes follow the planner's output, a changed session
// field resets only that session, a removed peer withdraws before its Cease, and stop() either
// withdraws or (graceful restart) closes without a NOTIFICATION.

import net from 'node:net';
import { Registry } from 'prom-client';
import type { BFDProfile } from '../../lib/config/types.js';
import { createLogger } from '../../lib/log.js';
import { decodeMessage } from '../bgp/decode.js';
import { encodeMessage } from '../bgp/encode.js';
import { BgpFramer } from '../bgp/framer.js';
import type { BgpMessage, Capability, CodecContext } from '../bgp/messages.js';
import { CeaseSubcode } from '../bgp/notification-codes.js';
import { buildOpen } from '../bgp/open.js';
import { formatPrefix } from '../bgp/prefix.js';
import { BgpMetrics } from './metrics.js';
import type { SessionSpec } from './session-spec.js';
import { BgpSessions, type DesiredSession } from './sessions.js';

const ctx: CodecContext = { fourOctetAs: true, maxMessageSize: 4096 };

interface Conn {
  opens: number;
  /** prefix → communities as the router holds them. */
  routes: Map<string, number[] | undefined>;
  log: string[];
  closed: boolean;
}

/** A router: answers OPEN, KEEPALIVEs every second, records every connection's messages. */
async function fakeRouter(capabilities: Capability[] = []) {
  const conns: Conn[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
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
          conn.log.push(`open ${m.capabilities.map((c) => c.kind).join(',')}`);
          send(buildOpen({ asn: 64500, holdTime: 3, bgpId: '10.0.0.1', capabilities }));
          send({ type: 'keepalive' });
        } else if (m.type === 'update') {
          for (const p of m.withdrawn) conn.routes.delete(formatPrefix(p));
          for (const p of m.nlri) conn.routes.set(formatPrefix(p), m.attributes.communities);
          if (m.withdrawn.length) conn.log.push(`withdraw ${m.withdrawn.map(formatPrefix).join(',')}`);
          if (m.nlri.length) conn.log.push(`announce ${m.nlri.map(formatPrefix).join(',')}`);
        } else if (m.type === 'notification') conn.log.push(`notification ${m.code}/${m.subcode}`);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    conns,
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
    expect(await metric('metallb_bgp_session_up', label)).toBeUndefined();
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
});
