// A whole L2 cluster in one test: 3–5 speakers, each with its own Membership and ownership
// election, exchanging real encoded (HMAC'd) heartbeats over a fake network with delays, drops
// and partitions, driven by a fake clock. "Announcing" is what the speaker would do: its
// election says it owns the IP.

import type { L2Plan } from '../plan/index.js';
import { electOwners } from '../plan/index.js';
import { parseIP } from '../../../lib/ip/index.js';
import { decodeHeartbeat, encodeHeartbeat } from './codec.js';
import { Membership } from './membership.js';
import type { Peer } from './types.js';

const key = Buffer.from('0123456789abcdef');

function planFor(ips: string[], eligible: string[]): L2Plan {
  return {
    ips: ips.map((ip) => ({
      ip,
      address: parseIP(ip),
      services: [`ns/${ip}`],
      eligible,
      weights: new Map(),
      interfaces: new Map(eligible.map((n) => [n, 'all' as const])),
    })),
    notAnnounced: new Map(),
  };
}

interface SimNode {
  name: string;
  m: Membership;
  running: boolean;
  linkUp: boolean;
  deadline: number;
  owns: Set<string>;
}

interface Packet {
  at: number;
  to: string;
  bytes: Buffer;
}

/** A small deterministic PRNG (mulberry32), so every run sees the same drops and delays. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Sim {
  now = 0;
  readonly nodes = new Map<string, SimNode>();
  private queue: Packet[] = [];
  private groups = new Map<string, number>();
  private readonly random: () => number;
  /** IP → owner changes seen (node names, in order), for stickiness checks. */
  readonly history = new Map<string, string[]>();
  /** Largest number of simultaneous announcers of one IP seen since `resetSplitBrain`. */
  maxAnnouncers = 0;

  constructor(
    public plan: L2Plan,
    private readonly dropRate = 0,
    seed = 1,
  ) {
    this.random = prng(seed);
  }

  peers(): Peer[] {
    return [...this.nodes.keys()].map((name) => ({ name, address: `10.0.0.${name.slice(1)}` }));
  }

  add(name: string): void {
    const m = new Membership({ self: name, incarnation: 1_700_000_000_000 + this.now }, this.now);
    this.nodes.set(name, { name, m, running: true, linkUp: true, deadline: this.now, owns: new Set() });
    const peers = this.peers();
    for (const n of this.nodes.values()) n.m.setPeers(peers);
  }

  kill(name: string): void {
    this.node(name).running = false;
    this.record();
  }

  stop(name: string): void {
    const n = this.node(name);
    for (const out of n.m.leave(this.now))
      this.transmit(name, out.peer.name, encodeHeartbeat(out.heartbeat, key));
    n.running = false;
    this.record();
  }

  setLink(name: string, up: boolean): void {
    const n = this.node(name);
    n.linkUp = up;
    n.m.setLocalHealth({ linkUp: up, responderOk: true }, this.now);
    this.elect(n);
    n.deadline = this.now;
  }

  partition(...sides: string[][]): void {
    this.groups = new Map(sides.flatMap((side, i) => side.map((n) => [n, i] as const)));
  }

  heal(): void {
    this.groups = new Map();
  }

  owners(ip: string): string[] {
    return [...this.nodes.values()].filter((n) => n.running && n.linkUp && n.owns.has(ip)).map((n) => n.name);
  }

  resetSplitBrain(): void {
    this.maxAnnouncers = 0;
  }

  /** Runs until `until`, processing every deadline and delivery in time order. */
  run(until: number): void {
    for (;;) {
      const nextPacket = this.queue.reduce((t, p) => Math.min(t, p.at), Infinity);
      const nextTick = [...this.nodes.values()]
        .filter((n) => n.running)
        .reduce((t, n) => Math.min(t, n.deadline), Infinity);
      const next = Math.min(nextPacket, nextTick);
      if (next > until) break;
      this.now = Math.max(this.now, next);
      const due = this.queue.filter((p) => p.at <= this.now);
      this.queue = this.queue.filter((p) => p.at > this.now);
      for (const p of due) this.deliver(p);
      for (const n of this.nodes.values()) if (n.running && n.deadline <= this.now) this.tick(n);
    }
    this.now = until;
  }

  private node(name: string): SimNode {
    const n = this.nodes.get(name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  }

  private tick(n: SimNode): void {
    const r = n.m.tick(this.now);
    for (const out of r.send) this.transmit(n.name, out.peer.name, encodeHeartbeat(out.heartbeat, key));
    this.elect(n);
    // A claim change asks for an immediate heartbeat: tick again now if so.
    const again = n.m.tick(this.now);
    for (const out of again.send) this.transmit(n.name, out.peer.name, encodeHeartbeat(out.heartbeat, key));
    n.deadline = again.nextDeadline;
  }

  private deliver(p: Packet): void {
    const n = this.node(p.to);
    if (!n.running || !n.linkUp) return;
    const decoded = decodeHeartbeat(p.bytes, key);
    if (!decoded.ok) throw new Error(`bad datagram: ${decoded.reason}`);
    const verdict = n.m.onHeartbeat(decoded.value, this.now);
    if (!verdict.accepted) return;
    this.elect(n);
    n.deadline = Math.min(n.deadline, this.now);
  }

  private transmit(from: string, to: string, bytes: Buffer): void {
    const src = this.node(from);
    if (!src.linkUp) return;
    const side = (name: string): number => this.groups.get(name) ?? -1;
    if (side(from) !== side(to)) return;
    if (this.random() < this.dropRate) return;
    this.queue.push({ at: this.now + 1 + Math.floor(this.random() * 4), to, bytes });
  }

  private elect(n: SimNode): void {
    const e = electOwners(this.plan, n.m.members(this.now), n.name, n.m.ready(this.now));
    n.m.setLocalClaims(e.claims, this.now);
    n.owns = new Set(e.claims.keys());
    this.record();
  }

  private record(): void {
    for (const { ip } of this.plan.ips) {
      const owners = this.owners(ip);
      this.maxAnnouncers = Math.max(this.maxAnnouncers, owners.length);
      const h = this.history.get(ip) ?? [];
      const current = owners.join('+');
      if (owners.length > 0 && h[h.length - 1] !== current) h.push(current);
      this.history.set(ip, h);
    }
  }
}

const ips = [
  '192.168.10.1',
  '192.168.10.2',
  '192.168.10.3',
  '192.168.10.4',
  '192.168.10.5',
  'fd00::1',
  'fd00::2',
  'fd00::3',
];

function cluster(names: string[], dropRate = 0, seed = 1): Sim {
  const sim = new Sim(planFor(ips, names), dropRate, seed);
  for (const n of names) sim.add(n);
  sim.run(2000);
  return sim;
}

function expectOneOwnerEach(sim: Sim): Map<string, string> {
  const owners = new Map<string, string>();
  for (const ip of ips) {
    expect({ ip, owners: sim.owners(ip) }).toEqual({ ip, owners: [expect.any(String)] });
    owners.set(ip, sim.owners(ip)[0] ?? '');
  }
  return owners;
}

describe('an L2 speaker cluster', () => {
  it('settles on exactly one owner per IP and spreads the IPs over the nodes', () => {
    const sim = cluster(['n1', 'n2', 'n3', 'n4', 'n5']);
    const owners = expectOneOwnerEach(sim);
    expect(new Set(owners.values()).size).toBeGreaterThan(1);
    expect(sim.maxAnnouncers).toBe(1);
  });

  it.each([1, 2, 3, 4, 5])(
    'moves every IP of a SIGKILLed owner within 400 ms (seed %i, 2%% loss)',
    (seed) => {
      const sim = cluster(['n1', 'n2', 'n3', 'n4'], 0.02, seed);
      const before = expectOneOwnerEach(sim);
      const victim = before.get('192.168.10.1') ?? '';
      const killedAt = sim.now;
      sim.kill(victim);
      const orphans = ips.filter((ip) => before.get(ip) === victim);
      let t = killedAt;
      while (orphans.some((ip) => sim.owners(ip).length !== 1) && t < killedAt + 2000) sim.run((t += 5));
      expect(t - killedAt).toBeLessThanOrEqual(400);
      const after = expectOneOwnerEach(sim);
      // Only the victim's IPs moved.
      for (const ip of ips) if (before.get(ip) !== victim) expect(after.get(ip)).toBe(before.get(ip));
    },
  );

  it('hands the IPs over at once when the owner leaves on SIGTERM', () => {
    const sim = cluster(['n1', 'n2', 'n3']);
    const before = expectOneOwnerEach(sim);
    const victim = before.get('fd00::1') ?? '';
    const stoppedAt = sim.now;
    sim.stop(victim);
    sim.run(stoppedAt + 20);
    expectOneOwnerEach(sim);
    expect(sim.owners('fd00::1')).not.toEqual([victim]);
  });

  it('moves the IPs of a node whose link goes down within 400 ms, and keeps them there when it returns', () => {
    const sim = cluster(['n1', 'n2', 'n3']);
    const before = expectOneOwnerEach(sim);
    const victim = before.get('192.168.10.2') ?? '';
    const downAt = sim.now;
    sim.setLink(victim, false);
    sim.run(downAt + 400);
    const during = expectOneOwnerEach(sim);
    expect([...during.values()]).not.toContain(victim);
    sim.setLink(victim, true);
    sim.run(sim.now + 3000);
    expect(expectOneOwnerEach(sim)).toEqual(during);
  });

  it('keeps the IPs with the successor when an owner returns after a long link outage', () => {
    // Unplugged for longer than the recovery hold-down: the returning node, which saw every
    // peer die meanwhile, must hear their claims before it may claim anything again.
    const sim = cluster(['n1', 'n2', 'n3']);
    const before = expectOneOwnerEach(sim);
    const victim = before.get('192.168.10.2') ?? '';
    sim.setLink(victim, false);
    sim.run(sim.now + 2000);
    const during = expectOneOwnerEach(sim);
    expect([...during.values()]).not.toContain(victim);
    sim.setLink(victim, true);
    for (let t = 0; t < 3000; t += 10) {
      sim.run(sim.now + 10);
      for (const ip of during.keys()) expect(sim.owners(ip).length).toBeLessThanOrEqual(1);
    }
    expect(expectOneOwnerEach(sim)).toEqual(during);
  });

  it('never moves an IP because a node joined', () => {
    const sim = cluster(['n1', 'n2', 'n3']);
    const before = expectOneOwnerEach(sim);
    sim.plan = planFor(ips, ['n1', 'n2', 'n3', 'n4', 'n5']);
    sim.add('n4');
    sim.add('n5');
    sim.run(sim.now + 3000);
    expect(expectOneOwnerEach(sim)).toEqual(before);
    for (const ip of ips) expect(sim.history.get(ip)).toHaveLength(1);
    expect(sim.maxAnnouncers).toBe(1);
  });

  it('has one owner per IP within 1 s after a partition heals', () => {
    const sim = cluster(['n1', 'n2', 'n3', 'n4', 'n5']);
    const before = expectOneOwnerEach(sim);
    sim.partition(['n1', 'n2'], ['n3', 'n4', 'n5']);
    sim.run(sim.now + 2000);
    // Each side answers for every IP: a side cut from the owner must.
    for (const ip of ips) expect(sim.owners(ip)).toHaveLength(2);
    sim.heal();
    const healedAt = sim.now;
    sim.resetSplitBrain();
    let t = healedAt;
    while (ips.some((ip) => sim.owners(ip).length !== 1) && t < healedAt + 3000) sim.run((t += 5));
    expect(t - healedAt).toBeLessThanOrEqual(1000);
    // The owner from before the partition keeps its IPs (lowest term wins).
    expect(expectOneOwnerEach(sim)).toEqual(before);
    sim.run(sim.now + 2000);
    expect(expectOneOwnerEach(sim)).toEqual(before);
  });

  it('has no split brain while the owner link flaps', () => {
    const sim = cluster(['n1', 'n2', 'n3']);
    const before = expectOneOwnerEach(sim);
    const victim = before.get('192.168.10.3') ?? '';
    sim.resetSplitBrain();
    for (let i = 0; i < 20; i++) {
      sim.setLink(victim, i % 2 === 1);
      sim.run(sim.now + 40 + ((i * 37) % 200));
    }
    sim.setLink(victim, true);
    sim.run(sim.now + 2000);
    expect(sim.maxAnnouncers).toBe(1);
    expectOneOwnerEach(sim);
  });

  it('does not move IPs on a false suspicion from packet loss', () => {
    const sim = cluster(['n1', 'n2', 'n3', 'n4'], 0.1, 7);
    const before = expectOneOwnerEach(sim);
    sim.run(sim.now + 10_000);
    expect(expectOneOwnerEach(sim)).toEqual(before);
  });
});
