// Three membership runtimes on loopback UDP (127.0.0.1, one port each): real sockets, real
// timers, real HMAC. What the speaker's worker runs, without the worker.

import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { MembershipRuntime } from './runtime.js';
import { encodeDatagram } from './datagram.js';
import type { Message } from './messages.js';

const key = Buffer.alloc(32, 3);
const ips = Array.from({ length: 60 }, (_, i) => `198.51.100.${i}`);
const names = ['n1', 'n2', 'n3'];
/** Eligible on n3 only (a Service whose endpoints are all there): unowned once n3 is gone. */
const pinned = '198.51.100.200';

interface Node {
  name: string;
  socket: dgram.Socket;
  port: number;
  runtime: MembershipRuntime;
  owned: Set<string>;
  unowned: Set<string>;
  until: number;
}

async function open(): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  return s;
}

async function waitFor(what: string, ms: number, ok: () => boolean): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('MembershipRuntime on loopback', () => {
  const nodes: Node[] = [];

  beforeAll(async () => {
    const sockets = await Promise.all(names.map(() => open()));
    const ports = sockets.map((s) => s.address().port);
    for (const [i, name] of names.entries()) {
      const socket = sockets[i] as dgram.Socket;
      const node = {
        name,
        socket,
        port: ports[i] as number,
        owned: new Set<string>(),
        unowned: new Set<string>(),
        until: -Infinity,
      } as Node;
      node.runtime = new MembershipRuntime({
        self: name,
        incarnation: Date.now(),
        key,
        port: 0,
        now: () => performance.now(),
        wallNow: () => Date.now(),
        send: (address, port, bytes) => socket.send(bytes, port, address),
        setTimer: (fn, ms) => {
          const t = setTimeout(fn, ms);
          return { cancel: () => clearTimeout(t) };
        },
        onOwned: (owned, post) => {
          node.owned = new Set(owned);
          node.runtime.applied(post);
        },
        onAnswerUntil: (until) => (node.until = until),
        onUnowned: (unowned) => (node.unowned = new Set(unowned)),
      });
      socket.on('message', (msg) => node.runtime.onDatagram(msg));
      nodes.push(node);
    }
    for (const n of nodes) {
      n.runtime.setPeers(names.map((name, i) => ({ name, address: '127.0.0.1', port: ports[i] as number })));
      n.runtime.setPlan([
        ...ips.map((ip) => ({ ip, eligible: names, weights: new Map() })),
        { ip: pinned, eligible: ['n3'], weights: new Map() },
      ]);
    }
  });

  afterAll(() => {
    for (const n of nodes) {
      n.runtime.stop();
      n.socket.close();
    }
  });

  const answering = (n: Node): boolean => performance.now() < n.until;

  it('joins, splits the IPs between the nodes, one owner each, and holds a lease', async () => {
    await waitFor('every node answering', 10_000, () => nodes.every(answering));
    await waitFor('all IPs owned exactly once', 10_000, () =>
      ips.every((ip) => nodes.filter((n) => n.owned.has(ip)).length === 1),
    );
    for (const n of nodes) expect(n.owned.size).toBeGreaterThan(0);
    await waitFor('every IP owned in every view', 10_000, () => nodes.every((n) => n.unowned.size === 0));
    expect(nodes[2]?.owned.has(pinned)).toBe(true);
  });

  it('drops garbage and forged datagrams by cause; ownership does not move', async () => {
    const before = new Map(ips.map((ip) => [ip, nodes.find((n) => n.owned.has(ip))?.name]));
    const attacker = await open();
    const target = nodes[0] as Node;
    // Forged: right magic and version, wrong key.
    const forged = Buffer.concat([Buffer.from('BCN2'), Buffer.from([2]), randomBytes(100)]);
    const sent = 200;
    for (let i = 0; i < sent; i++)
      attacker.send(i % 2 === 0 ? randomBytes(64 + (i % 900)) : forged, target.port, '127.0.0.1');
    const count = (): number => {
      const d = target.runtime.counters.dropped;
      return d.size + d.magic + d.version + d.auth + d.malformed;
    };
    await waitFor('every datagram counted', 5000, () => count() >= sent);
    attacker.close();
    expect(target.runtime.counters.dropped.auth).toBeGreaterThanOrEqual(sent / 2);
    expect(new Map(ips.map((ip) => [ip, nodes.find((n) => n.owned.has(ip))?.name]))).toEqual(before);
  });

  it('a silent node stops answering on its own; its IPs move to the others', async () => {
    const victim = nodes[2] as Node;
    const moved = [...victim.owned].filter((ip) => ip !== pinned);
    victim.runtime.stop();
    victim.socket.removeAllListeners('message');
    // Stopped runtimes send nothing: its lease lapses, its monitors declare it dead.
    await waitFor('the others to own its IPs', 20_000, () =>
      moved.every((ip) => nodes.slice(0, 2).some((n) => n.owned.has(ip) && answering(n))),
    );
    expect(answering(victim)).toBe(false);
    // Nobody else may answer the IP only the victim was eligible for: it has no owner now.
    await waitFor('the pinned IP reported unowned', 10_000, () =>
      nodes.slice(0, 2).every((n) => n.unowned.has(pinned)),
    );
    for (const n of nodes.slice(0, 2)) expect([...n.unowned]).toEqual([pinned]);
    for (const ip of ips) expect(nodes.slice(0, 2).filter((n) => n.owned.has(ip)).length).toBe(1);
  });
});

describe('MembershipRuntime that cannot answer', () => {
  it('says why in one report every few seconds while it stays silent, with its view', () => {
    // Time and timers by hand: a peer that spoke once and never again, and never asked this
    // node to watch it (so this node can never declare it dead): the node cannot join nor
    // hold a lease, and must say so instead of staying silent without a trace.
    let now = 0;
    const timers: { at: number; fn: () => void }[] = [];
    const reports: Record<string, unknown>[] = [];
    const rt = new MembershipRuntime({
      self: 'n1',
      incarnation: 1,
      key,
      port: 7946,
      now: () => now,
      wallNow: () => 1_700_000_000_000 + now,
      send: () => undefined,
      setTimer: (fn, ms) => {
        const t = { at: now + ms, fn };
        timers.push(t);
        return {
          cancel: () => {
            const i = timers.indexOf(t);
            if (i >= 0) timers.splice(i, 1);
          },
        };
      },
      onOwned: (_owned, post) => rt.applied(post),
      onAnswerUntil: () => undefined,
      onSilent: (details) => reports.push(details),
    });
    rt.setPeers([{ name: 'n2', address: '127.0.0.1' }]);
    rt.setPlan(ips.slice(0, 4).map((ip) => ({ ip, eligible: ['n1', 'n2'], weights: new Map() })));
    const push: Message = { kind: 'push', from: 'n2', incarnation: 5, seq: 1, healthy: true, rumours: [] };
    rt.onDatagram(encodeDatagram(push, key, 1_700_000_000_000));
    for (; now <= 12_000; now++) {
      for (const t of timers.filter((x) => x.at <= now)) {
        timers.splice(timers.indexOf(t), 1);
        t.fn();
      }
    }
    rt.stop();
    expect(reports.length).toBe(2);
    const first = reports[0] as Record<string, unknown>;
    expect(first.reason).toMatch(/joining/);
    expect(first.waitingFor).toEqual(['n2']);
    expect(first.peers).toEqual(['n2:alive@5']);
    expect(first.silentMs).toBeGreaterThanOrEqual(5000);
    expect(Object.values(first.owners as Record<string, number>).reduce((a, b) => a + b)).toBe(4);
  });
});
