import { Member } from './member.js';
import type { Message, Outgoing } from './messages.js';

/** A loss-free network of members with 1 ms delay, stepped by hand. */
class Net {
  readonly members = new Map<string, Member>();
  now = 0;
  private inFlight: { at: number; to: string; message: Message }[] = [];
  cut = new Set<string>();
  /** One-way loss: datagrams from `from` to `to` are dropped while this says so. */
  drop: (from: string, to: string) => boolean = () => false;
  /** Per node: its timers fire this many ms after the deadline it asked for (a loaded node). */
  lag = new Map<string, number>();
  /** Per node: the view changes it reported, in order (node → candidate, at time). */
  readonly changes = new Map<string, { at: number; node: string; candidate: boolean }[]>();

  constructor(names: readonly string[]) {
    for (const [i, name] of names.entries()) {
      const m = new Member({ self: name, incarnation: 1, random: () => ((i * 7 + this.now) % 10) / 10 }, 0);
      m.setPeers(names);
      this.members.set(name, m);
    }
  }

  /** Whether `viewer` counts `node` as an ownership candidate, from the changes it reported. */
  candidate(viewer: string, node: string): boolean | undefined {
    return this.changes
      .get(viewer)
      ?.filter((c) => c.node === node)
      .at(-1)?.candidate;
  }

  /** Puts a member in (a restarted node: same name, new incarnation); it knows `names`. */
  add(m: Member, names: readonly string[]): void {
    m.setPeers(names);
    this.members.set(m.self, m);
    this.changes.delete(m.self);
    this.collect(m);
  }

  /** SIGTERM of `name`: its news goes out, then the process is gone. */
  stop(name: string, restartHoldMs = 0): void {
    const m = this.get(name);
    m.leave(this.now, restartHoldMs);
    this.collect(m);
    this.members.delete(name);
  }

  private collect(m: Member): void {
    const d = m.drain();
    const log = this.changes.get(m.self) ?? [];
    for (const c of d.changes) log.push({ at: this.now, node: c.node, candidate: c.candidate });
    this.changes.set(m.self, log);
    // The data plane follows at once in this test network.
    m.applied(d.version);
    for (const j of m.waitingJoiners()) m.release(j);
    const out: Outgoing[] = [...d.out, ...m.drain().out];
    for (const o of out)
      if (!this.cut.has(m.self) && !this.cut.has(o.to) && !this.drop(m.self, o.to))
        this.inFlight.push({ at: this.now + 1, to: o.to, message: o.message });
  }

  run(untilMs: number): void {
    for (; this.now <= untilMs; this.now++) {
      const due = this.inFlight.filter((f) => f.at <= this.now);
      this.inFlight = this.inFlight.filter((f) => f.at > this.now);
      for (const f of due) {
        const m = this.members.get(f.to);
        if (m === undefined) continue;
        m.onMessage(f.message, this.now);
        this.collect(m);
      }
      for (const m of this.members.values())
        if (m.nextDeadline() + (this.lag.get(m.self) ?? 0) <= this.now) {
          m.tick(this.now);
          this.collect(m);
        }
    }
  }

  get(name: string): Member {
    return this.members.get(name) as Member;
  }
}

describe('Member', () => {
  it('rejects a lease that is not shorter than the detection timeout', () => {
    expect(() => new Member({ self: 'a', incarnation: 1, leaseMs: 500, deadAfterMs: 500 }, 0)).toThrow(
      /leaseMs 500 \+ marginMs 10 must be below deadAfterMs 500/,
    );
  });

  it('cold start: joins only after every peer answered, then holds a renewed lease', () => {
    const net = new Net(['a', 'b', 'c']);
    expect(net.get('a').joined).toBe(false);
    expect(net.get('a').canAnswer(0)).toBe(false);
    net.run(1000);
    for (const m of net.members.values()) {
      expect(m.joined).toBe(true);
      expect(m.canAnswer(net.now)).toBe(true);
      expect(m.monitorsOfSelf().length).toBe(2);
      expect(m.answerUntil()).toBeGreaterThan(net.now);
      expect(m.answerUntil()).toBeLessThanOrEqual(net.now + 350);
    }
    expect(net.get('a').status('b')).toBe('alive');
  });

  it('a cut-off node stops answering before its monitors declare it dead, then rejoins when back', () => {
    const net = new Net(['a', 'b', 'c']);
    net.run(1000);
    const c0 = net.get('c').incarnation;
    net.cut.add('c');
    let stoppedAt: number | undefined;
    let declaredAt: number | undefined;
    const c = net.get('c');
    for (let t = 0; t < 1000; t++) {
      net.run(net.now);
      if (stoppedAt === undefined && !c.canAnswer(net.now)) stoppedAt = net.now;
      if (declaredAt === undefined && net.get('a').status('c') === 'dead') declaredAt = net.now;
    }
    expect(stoppedAt).toBeDefined();
    expect(declaredAt).toBeDefined();
    expect(stoppedAt as number).toBeLessThan(declaredAt as number);
    net.cut.clear();
    net.run(net.now + 2000);
    expect(c.incarnation).toBeGreaterThan(c0);
    expect(net.get('a').peerIncarnation('c')).toBe(c.incarnation);
    expect(net.get('a').status('c')).toBe('alive');
    expect(c.canAnswer(net.now)).toBe(true);
  });

  it('nodes whose every timer fires late still declare a silent peer dead', () => {
    const net = new Net(['a', 'b', 'c']);
    net.run(1000);
    // A CPU hog beside them: each tick runs well past the half interval counted as a stall.
    for (const name of ['a', 'b']) net.lag.set(name, 80);
    net.run(net.now + 1000);
    net.cut.add('c');
    const from = net.now;
    let declaredAt: number | undefined;
    while (declaredAt === undefined && net.now < from + 20_000) {
      net.run(net.now);
      if (net.get('a').status('c') === 'dead' && net.get('b').status('c') === 'dead') declaredAt = net.now;
    }
    expect(declaredAt).toBeDefined();
    expect(net.get('a').counters.lateTicks).toBeGreaterThan(0);
  });

  it('a slow node that joins is watched by its monitors before its next tick', () => {
    const net = new Net(['a', 'b', 'c']);
    // Every node's first tick sends its syncs before it has heard of anyone (no monitors yet).
    net.run(0);
    // From then on c's timers fire 400 ms late: it hears its peers, and joins, long before it
    // ticks again.
    net.lag.set('c', 400);
    const c = net.get('c');
    while (!c.joined) net.run(net.now);
    expect(net.now).toBeLessThan(100);
    // Silent from the moment it joined: its monitors must still be able to declare it dead.
    net.cut.add('c');
    net.run(net.now + 5000);
    expect(net.get('a').status('c')).toBe('dead');
    expect(net.get('b').status('c')).toBe('dead');
  });

  it('a peer falsely declared dead and back at once is watched again, so a sole survivor can declare the others dead', () => {
    const net = new Net(['a', 'b', 'c']);
    net.run(1000);
    // b stops hearing c for a while (one-way loss, or b stalled): b declares c dead and the
    // news reaches a, while c goes on hearing a and acknowledging its heartbeats. c refutes at
    // once; a hears it alive again before c acknowledged the heartbeat that released it.
    const from = net.now;
    net.drop = (src, dst) => src === 'c' && dst === 'b' && net.now < from + 700;
    net.run(from + 3000);
    expect(net.get('a').status('c')).toBe('alive');
    expect(net.get('b').status('c')).toBe('alive');
    // Every node is monitored by both others again (k = 3 monitors, three nodes).
    for (const [name, m] of net.members)
      expect(m.monitorsOfSelf().sort()).toEqual(['a', 'b', 'c'].filter((n) => n !== name));
    // a and b are killed together: c, their only other monitor, must declare both dead, and
    // then answer alone.
    net.cut.add('a');
    net.cut.add('b');
    net.run(net.now + 10_000);
    const c = net.get('c');
    expect(c.status('a')).toBe('dead');
    expect(c.status('b')).toBe('dead');
    expect(c.joined).toBe(true);
    expect(c.canAnswer(net.now)).toBe(true);
  });

  it('drops replays, unknown senders and older incarnations, and counts them by reason', () => {
    const m = new Member({ self: 'a', incarnation: 1 }, 0);
    m.setPeers(['a', 'b']);
    const hb: Message = { kind: 'push', from: 'b', incarnation: 5, seq: 9, healthy: true, rumours: [] };
    expect(m.onMessage(hb, 1)).toBeUndefined();
    expect(m.onMessage(hb, 2)).toBe('replay');
    expect(m.onMessage({ ...hb, seq: 10, incarnation: 4 }, 3)).toBe('stale-incarnation');
    expect(m.onMessage({ ...hb, from: 'x' }, 4)).toBe('unknown-peer');
    expect(m.counters.drops).toMatchObject({ replay: 1, 'stale-incarnation': 1, 'unknown-peer': 1 });
    expect(m.status('b')).toBe('alive');
  });

  it('refutes a rumour of its own death with a new incarnation and joins again', () => {
    const net = new Net(['a', 'b']);
    net.run(500);
    const a = net.get('a');
    const inc = a.incarnation;
    a.onMessage(
      {
        kind: 'push',
        from: 'b',
        incarnation: net.get('b').incarnation,
        seq: 1e6,
        healthy: true,
        rumours: [{ node: 'a', incarnation: inc, status: 'dead', healthy: false }],
      },
      net.now,
    );
    expect(a.incarnation).toBeGreaterThan(inc);
    expect(a.joined).toBe(false);
    expect(a.canAnswer(net.now)).toBe(false);
    net.run(net.now + 500);
    expect(a.joined).toBe(true);
    expect(net.get('b').peerIncarnation('a')).toBe(a.incarnation);
  });

  it('losing health is a new incarnation peers see at once; regaining it goes through the barrier', () => {
    const net = new Net(['a', 'b', 'c']);
    net.run(800);
    const a = net.get('a');
    a.setHealthy(false, net.now);
    expect(a.canAnswer(net.now)).toBe(false);
    net.run(net.now + 50);
    const changes = net.get('b');
    expect(changes.status('a')).toBe('alive');
    a.setHealthy(true, net.now);
    expect(a.joined).toBe(false);
    net.run(net.now + 300);
    expect(a.joined).toBe(true);
    expect(a.canAnswer(net.now)).toBe(true);
  });

  describe('SIGTERM', () => {
    const names = ['a', 'b', 'c'];
    /** What peers reported about `node` after `from`. */
    const changesAbout = (net: Net, node: string, from: number) =>
      ['a', 'b']
        .flatMap((viewer) => net.changes.get(viewer) ?? [])
        .filter((c) => c.node === node && c.at >= from);

    it('without a hold: a clean leave makes peers drop the node at once', () => {
      const net = new Net(names);
      net.run(1000);
      const at = net.now;
      net.stop('c');
      net.run(at + 10);
      expect(net.get('a').status('c')).toBe('left');
      expect(net.candidate('a', 'c')).toBe(false);
      expect(net.candidate('b', 'c')).toBe(false);
      expect(changesAbout(net, 'c', at).every((c) => c.at <= at + 5)).toBe(true);
    });

    it('restarting: peers keep the node a candidate, unanswered, and its next incarnation takes over without any change', () => {
      const net = new Net(names);
      net.run(1000);
      const old = net.get('c');
      const at = net.now;
      net.stop('c', 5000);
      expect(old.canAnswer(at)).toBe(false);
      net.run(at + 1500); // longer than the detection timeout: nobody declares it dead
      expect(net.get('a').status('c')).toBe('restarting');
      expect(net.get('b').status('c')).toBe('restarting');
      expect(net.get('a').counters.declaredDead + net.get('b').counters.declaredDead).toBe(0);
      // a and b still monitor each other (c is off their ring) and keep answering.
      expect(net.get('a').canAnswer(net.now)).toBe(true);
      expect(net.get('b').canAnswer(net.now)).toBe(true);

      const fresh = new Member({ self: 'c', incarnation: 100 }, net.now);
      net.add(fresh, names);
      net.run(net.now + 1000);
      expect(fresh.joined).toBe(true);
      expect(fresh.canAnswer(net.now)).toBe(true);
      expect(net.get('a').status('c')).toBe('alive');
      expect(net.get('a').peerIncarnation('c')).toBe(100);
      // Neither peer ever stopped counting c as a candidate: none of its IPs moved.
      expect(changesAbout(net, 'c', at)).toEqual([]);
      expect(net.candidate('a', 'c')).toBe(true);
    });

    it('a monitor that leaves or restarts pauses none of the nodes it watched', () => {
      for (const hold of [0, 5000]) {
        const net = new Net(names);
        net.run(1000);
        const rejoins = ['a', 'b'].map((n) => net.get(n).counters.rejoins);
        net.stop('c', hold);
        for (let t = 0; t < 1500; t++) {
          net.run(net.now);
          expect([net.get('a').canAnswer(net.now), net.get('b').canAnswer(net.now)]).toEqual([true, true]);
        }
        expect(['a', 'b'].map((n) => net.get(n).counters.rejoins)).toEqual(rejoins);
      }
    });

    it('restarting: a node not back by the end of its hold is failed over then, and not before', () => {
      const net = new Net(names);
      net.run(1000);
      const at = net.now;
      net.stop('c', 2000);
      net.run(at + 3000);
      const lost = changesAbout(net, 'c', at);
      expect(lost.map((c) => c.candidate)).toEqual([false, false]);
      for (const c of lost) {
        expect(c.at).toBeGreaterThanOrEqual(at + 2000);
        expect(c.at).toBeLessThanOrEqual(at + 2010);
      }
      expect(net.get('a').status('c')).toBe('left');
    });

    it('restarting: if the news is lost, the monitors declare the node dead as for a crash', () => {
      const net = new Net(names);
      net.run(1000);
      const at = net.now;
      net.drop = (from) => from === 'c';
      net.stop('c', 5000);
      net.run(at + 1000);
      const lost = changesAbout(net, 'c', at);
      expect(lost.map((c) => c.candidate)).toEqual([false, false]);
      for (const c of lost) expect(c.at).toBeLessThan(at + 700);
      expect(net.get('a').status('c')).toBe('dead');
    });

    it('restarting: late datagrams of the old incarnation do not make it alive again; a death beats the restart', () => {
      const m = new Member({ self: 'a', incarnation: 1 }, 0);
      m.setPeers(['a', 'b', 'c']);
      const base = { kind: 'push', from: 'b', incarnation: 7, healthy: true } as const;
      m.onMessage(
        {
          ...base,
          seq: 1,
          rumours: [{ node: 'b', incarnation: 7, status: 'restarting', healthy: true, holdMs: 3000 }],
        },
        10,
      );
      expect(m.status('b')).toBe('restarting');
      expect(m.onMessage({ ...base, seq: 2, rumours: [] }, 20)).toBe('left');
      expect(m.status('b')).toBe('restarting');
      m.onMessage(
        {
          kind: 'push',
          from: 'c',
          incarnation: 3,
          healthy: true,
          seq: 1,
          rumours: [{ node: 'b', incarnation: 7, status: 'dead', healthy: false }],
        },
        30,
      );
      expect(m.status('b')).toBe('dead');
    });
  });
});
