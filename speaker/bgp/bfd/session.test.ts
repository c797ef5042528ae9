import { BfdDiag, BfdState, decodeControl, encodeControl, type BfdControlPacket } from './codec.js';
import { BfdSession, type BfdOutput, type BfdSessionOptions, type BfdTransition } from './session.js';

const fast = { desiredMinTxMs: 100, requiredMinRxMs: 100, detectMultiplier: 3 };

function session(overrides: Partial<BfdSessionOptions> = {}): BfdSession {
  return new BfdSession({
    localDiscriminator: 1,
    passive: false,
    random: () => 0,
    now: 0,
    ...fast,
    ...overrides,
  });
}

/** A peer packet as it would arrive: through the codec, so only valid packets reach the session. */
function from(p: Partial<BfdControlPacket>): BfdControlPacket {
  const r = decodeControl(
    encodeControl({
      diag: 0,
      state: BfdState.Down,
      poll: false,
      final: false,
      cpi: false,
      demand: false,
      detectMult: 3,
      myDiscriminator: 77,
      yourDiscriminator: 0,
      desiredMinTxUs: 100_000,
      requiredMinRxUs: 100_000,
      requiredMinEchoRxUs: 0,
      ...p,
    }),
  );
  if (!r.ok) throw new Error(`test packet invalid: ${r.reason}`);
  return r.packet;
}

/**
 * Two sessions wired back to back on a simulated clock: packets take `delayMs`, and the link
 * can be cut in either direction. Drives time by jumping from deadline to deadline.
 */
class Link {
  now = 0;
  readonly transitions: Array<BfdTransition & { side: 'a' | 'b' }> = [];
  readonly sent = { a: [] as BfdControlPacket[], b: [] as BfdControlPacket[] };
  cut = { a: false, b: false }; // a: drop what a sends
  dead = { a: false, b: false }; // a dead: it neither sends nor receives
  readonly inFlight: Array<{ at: number; to: 'a' | 'b'; pkt: BfdControlPacket }> = [];

  constructor(
    readonly a: BfdSession,
    readonly b: BfdSession,
    readonly delayMs = 1,
  ) {}

  handle(side: 'a' | 'b', out: BfdOutput): void {
    for (const t of out.transitions) this.transitions.push({ ...t, side });
    for (const pkt of out.packets) {
      this.sent[side].push(pkt);
      if (this.cut[side] || this.dead[side]) continue;
      // Through the codec both ways, as on the wire.
      const r = decodeControl(encodeControl(pkt));
      if (!r.ok) throw new Error(`session sent an invalid packet: ${r.reason}`);
      this.inFlight.push({ at: this.now + this.delayMs, to: side === 'a' ? 'b' : 'a', pkt: r.packet });
    }
  }

  run(untilMs: number): void {
    for (;;) {
      const nextA = this.dead.a ? Infinity : this.a.nextDeadline();
      const nextB = this.dead.b ? Infinity : this.b.nextDeadline();
      const nextPkt = Math.min(...this.inFlight.map((f) => f.at));
      const next = Math.min(nextA, nextB, nextPkt);
      if (next > untilMs) {
        this.now = untilMs;
        return;
      }
      this.now = Math.max(this.now, next);
      const due = this.inFlight.filter((f) => f.at <= this.now);
      this.inFlight.splice(0, this.inFlight.length, ...this.inFlight.filter((f) => f.at > this.now));
      for (const f of due) if (!this.dead[f.to]) this.handle(f.to, this[f.to].onPacket(f.pkt, this.now));
      if (!this.dead.a && this.a.nextDeadline() <= this.now) this.handle('a', this.a.tick(this.now));
      if (!this.dead.b && this.b.nextDeadline() <= this.now) this.handle('b', this.b.tick(this.now));
    }
  }

  firstTransition(side: 'a' | 'b', to: string, after = 0): (BfdTransition & { side: string }) | undefined {
    return this.transitions.find((t) => t.side === side && t.to === to && t.at >= after);
  }
}

function pair(aOpts: Partial<BfdSessionOptions> = {}, bOpts: Partial<BfdSessionOptions> = {}): Link {
  let seed = 1;
  const random = (): number => ((seed = (seed * 16807) % 2147483647) / 2147483647) % 1;
  return new Link(
    session({ localDiscriminator: 0x1111, random, ...aOpts }),
    session({ localDiscriminator: 0x2222, random, ...bOpts }),
  );
}

describe('BFD session three-way handshake (RFC 5880 §6.2)', () => {
  test('two active sessions go Down → Init → Up and stay Up', () => {
    const link = pair();
    link.run(5000);
    expect(link.a.state).toBe('Up');
    expect(link.b.state).toBe('Up');
    expect(link.transitions.filter((t) => t.side === 'a').map((t) => t.to)).toEqual(['Init', 'Up']);
    // Each side learned the other's discriminator.
    expect(link.a.status().remoteDiscriminator).toBe(0x2222);
    expect(link.b.status().remoteDiscriminator).toBe(0x1111);
  });

  test('a Down session answers a Down packet with Init and an Init packet with Up', () => {
    const s = session();
    expect(s.onPacket(from({ state: BfdState.Down }), 10).transitions.map((t) => t.to)).toEqual(['Init']);
    const s2 = session();
    const out = s2.onPacket(from({ state: BfdState.Init, yourDiscriminator: 1 }), 10);
    expect(out.transitions).toEqual([{ from: 'Down', to: 'Up', diag: 0, remoteAdminDown: false, at: 10 }]);
  });

  test('a Down session ignores a peer that says Up (it must restart the handshake)', () => {
    const s = session();
    const out = s.onPacket(from({ state: BfdState.Up, yourDiscriminator: 1 }), 10);
    expect(out.transitions).toEqual([]);
    expect(s.state).toBe('Down');
  });

  test('a packet for another discriminator changes nothing', () => {
    const s = session();
    s.onPacket(from({ state: BfdState.Init, yourDiscriminator: 99 }), 10);
    expect(s.state).toBe('Down');
    expect(s.status().packetsIn).toBe(0);
  });

  test('sends at most one packet a second until Up, then the negotiated rate (§6.8.3)', () => {
    const s = session();
    const first = s.tick(0).packets;
    expect(first).toHaveLength(1);
    expect(first[0]).toMatchObject({
      state: BfdState.Down,
      desiredMinTxUs: 1_000_000,
      requiredMinRxUs: 100_000,
      yourDiscriminator: 0,
    });
    expect(s.nextDeadline()).toBe(1000); // random() = 0: no jitter
    expect(s.tick(999).packets).toHaveLength(0);
    expect(s.tick(1000).packets).toHaveLength(1);
    // Up: the faster rate is announced with a Poll (§6.8.3) and used at once (§6.8.7).
    s.onPacket(from({ state: BfdState.Init, yourDiscriminator: 1 }), 1010);
    expect(s.state).toBe('Up');
    expect(s.nextDeadline()).toBe(1100);
    const upPkt = s.tick(1100).packets[0];
    expect(upPkt).toMatchObject({
      state: BfdState.Up,
      poll: true,
      desiredMinTxUs: 100_000,
      yourDiscriminator: 77,
    });
  });

  test('handshake with a peer that wants packets no faster than 300 ms uses 300 ms', () => {
    const link = pair({}, { desiredMinTxMs: 300, requiredMinRxMs: 300 });
    link.run(5000);
    expect(link.a.status().transmitIntervalUs).toBe(300_000);
    expect(link.b.status().transmitIntervalUs).toBe(300_000);
    // Detection: peer's mult × max(our RequiredMinRx, its DesiredMinTx) (§6.8.4).
    expect(link.a.status().detectionTimeUs).toBe(900_000);
    expect(link.b.status().detectionTimeUs).toBe(900_000);
  });
});

describe('BFD failure detection (§6.8.4)', () => {
  test('declares the session Down with diag 1 one detection time after the last packet', () => {
    const link = pair();
    link.run(5000);
    expect(link.a.status().detectionTimeUs).toBe(300_000);
    link.dead.b = true;
    const lastFromB = Math.max(...link.inFlight.filter((f) => f.to === 'a').map((f) => f.at), 0);
    link.run(6000);
    const down = link.firstTransition('a', 'Down', 5000);
    expect(down).toBeDefined();
    expect(down!.diag).toBe(BfdDiag.ControlDetectionTimeExpired);
    // The last packet from b arrived at most one tx interval before b died.
    expect(down!.at - 5000).toBeGreaterThan(300 - 100 - 1);
    expect(down!.at - 5000).toBeLessThanOrEqual(300 + 1);
    expect(lastFromB).toBeLessThanOrEqual(down!.at);
  });

  test('uses the peer detect multiplier, not its own', () => {
    const s = session({ detectMultiplier: 10 });
    s.onPacket(
      from({ state: BfdState.Init, yourDiscriminator: 1, detectMult: 2, desiredMinTxUs: 150_000 }),
      0,
    );
    expect(s.state).toBe('Up');
    // 2 × max(100 ms, 150 ms)
    expect(s.status().detectionTimeUs).toBe(300_000);
    expect(s.tick(299).transitions).toEqual([]);
    expect(s.tick(300).transitions).toMatchObject([{ from: 'Up', to: 'Down', diag: 1 }]);
    // The peer is forgotten: the next packet has Your Discriminator 0 again.
    expect(s.status().remoteDiscriminator).toBe(0);
  });

  test('a session that never heard from its peer never times out', () => {
    const s = session();
    for (let t = 0; t < 10_000; t += 1000) expect(s.tick(t).transitions).toEqual([]);
    expect(s.state).toBe('Down');
  });

  test('after a failure the pair comes Up again when the peer returns', () => {
    const link = pair();
    link.run(3000);
    link.cut.b = true;
    link.run(4000);
    expect(link.a.state).toBe('Down');
    link.cut.b = false;
    link.run(8000);
    expect(link.a.state).toBe('Up');
    expect(link.b.state).toBe('Up');
    expect(link.a.status().upEvents).toBe(2);
  });
});

describe('BFD Down and AdminDown signalled by the peer (§6.8.6)', () => {
  function upSession(): BfdSession {
    const s = session();
    s.onPacket(from({ state: BfdState.Init, yourDiscriminator: 1 }), 0);
    expect(s.state).toBe('Up');
    return s;
  }

  test('remote AdminDown takes an Up session Down with diag 3, flagged as administrative', () => {
    const s = upSession();
    const out = s.onPacket(
      from({ state: BfdState.AdminDown, yourDiscriminator: 1, diag: BfdDiag.AdministrativelyDown }),
      50,
    );
    expect(out.transitions).toEqual([{ from: 'Up', to: 'Down', diag: 3, remoteAdminDown: true, at: 50 }]);
    expect(s.status().remoteDiag).toBe(7);
  });

  test('remote Down takes an Up session Down with diag 3', () => {
    const s = upSession();
    const out = s.onPacket(from({ state: BfdState.Down, yourDiscriminator: 1, diag: 1 }), 50);
    expect(out.transitions).toEqual([{ from: 'Up', to: 'Down', diag: 3, remoteAdminDown: false, at: 50 }]);
  });

  test('local AdminDown tells the peer at once, which goes Down without a timeout', () => {
    const link = pair();
    link.run(3000);
    const before = link.now;
    // Drive a's admin change through the link.
    link.handle('a', link.a.setAdminDown(link.now));
    link.run(before + 50);
    expect(link.a.state).toBe('AdminDown');
    expect(link.firstTransition('b', 'Down', before)).toMatchObject({ diag: 3, remoteAdminDown: true });
    expect(link.firstTransition('b', 'Down', before)!.at - before).toBeLessThanOrEqual(link.delayMs);
    // AdminDown discards what it receives and keeps announcing itself (§6.8.16).
    link.run(before + 3000);
    expect(link.a.state).toBe('AdminDown');
    expect(link.sent.a.at(-1)).toMatchObject({
      state: BfdState.AdminDown,
      diag: 7,
      yourDiscriminator: 0x2222,
    });
  });

  test('an enabled AdminDown session comes Up again', () => {
    const link = pair({ adminDown: true });
    link.run(3000);
    expect(link.a.state).toBe('AdminDown');
    expect(link.b.state).toBe('Down');
    link.a.enable(link.now);
    link.run(8000);
    expect(link.a.state).toBe('Up');
    expect(link.b.state).toBe('Up');
  });
});

describe('BFD Poll Sequence (§6.5, §6.8.3)', () => {
  test('answers a Poll at once with a Final, outside the transmit schedule', () => {
    const s = session();
    s.onPacket(from({ state: BfdState.Init, yourDiscriminator: 1 }), 0);
    s.tick(100);
    const out = s.onPacket(
      from({ state: BfdState.Up, yourDiscriminator: 1, poll: true, desiredMinTxUs: 50_000 }),
      130,
    );
    expect(out.packets).toHaveLength(1);
    expect(out.packets[0]).toMatchObject({ final: true, poll: false, state: BfdState.Up });
  });

  test('keeps polling until the Final arrives, then stops', () => {
    const s = session();
    s.onPacket(from({ state: BfdState.Init, yourDiscriminator: 1 }), 0);
    expect(s.tick(100).packets[0]!.poll).toBe(true);
    expect(s.tick(200).packets[0]!.poll).toBe(true); // no Final yet: P stays set
    s.onPacket(from({ state: BfdState.Up, yourDiscriminator: 1, final: true }), 210);
    expect(s.status().pollActive).toBe(false);
    expect(s.tick(300).packets[0]!.poll).toBe(false);
  });

  test('a slower transmit interval takes effect only after the Final (§6.8.3)', () => {
    const s = session();
    s.onPacket(from({ state: BfdState.Init, yourDiscriminator: 1 }), 0);
    s.tick(100);
    s.onPacket(from({ state: BfdState.Up, yourDiscriminator: 1, final: true }), 110);
    s.updateTimers({ ...fast, desiredMinTxMs: 500 }, 150);
    const polled = s.tick(200).packets[0]!;
    expect(polled).toMatchObject({ poll: true, desiredMinTxUs: 500_000 });
    expect(s.status().transmitIntervalUs).toBe(100_000); // still the old rate
    expect(s.nextDeadline()).toBe(300);
    s.onPacket(from({ state: BfdState.Up, yourDiscriminator: 1, final: true }), 250);
    expect(s.status().transmitIntervalUs).toBe(500_000);
  });

  test('a smaller receive interval shortens detection only after the Final (§6.8.3)', () => {
    const s = session({ requiredMinRxMs: 300 });
    s.onPacket(from({ state: BfdState.Init, yourDiscriminator: 1, desiredMinTxUs: 50_000 }), 0);
    s.onPacket(from({ state: BfdState.Up, yourDiscriminator: 1, final: true, desiredMinTxUs: 50_000 }), 10);
    expect(s.status().detectionTimeUs).toBe(900_000);
    s.updateTimers({ ...fast, requiredMinRxMs: 50 }, 20);
    expect(s.status().detectionTimeUs).toBe(900_000);
    s.onPacket(from({ state: BfdState.Up, yourDiscriminator: 1, final: true, desiredMinTxUs: 50_000 }), 30);
    expect(s.status().detectionTimeUs).toBe(150_000);
  });

  test('two sessions renegotiate a timer change without going down', () => {
    const link = pair();
    link.run(3000);
    link.a.updateTimers({ desiredMinTxMs: 300, requiredMinRxMs: 300, detectMultiplier: 5 }, link.now);
    link.run(6000);
    expect(link.transitions.filter((t) => t.at > 3000)).toEqual([]);
    expect(link.a.status().pollActive).toBe(false);
    expect(link.b.status().detectionTimeUs).toBe(5 * 300_000);
    expect(link.a.status().transmitIntervalUs).toBe(300_000);
  });
});

describe('BFD passive mode (§6.1)', () => {
  test('a passive session sends nothing until its peer speaks, then completes the handshake', () => {
    const s = session({ passive: true });
    expect(s.nextDeadline()).toBe(Infinity);
    expect(s.tick(5000).packets).toEqual([]);
    const out = s.onPacket(from({ state: BfdState.Down }), 6000);
    expect(out.transitions.map((t) => t.to)).toEqual(['Init']);
    expect(s.nextDeadline()).toBe(6000);
    expect(s.tick(6000).packets[0]).toMatchObject({ state: BfdState.Init, yourDiscriminator: 77 });
  });

  test('two passive sessions never come up', () => {
    const link = pair({ passive: true }, { passive: true });
    link.run(10_000);
    expect(link.sent.a).toEqual([]);
    expect(link.sent.b).toEqual([]);
  });

  test('passive and active come up; the passive side falls silent when the peer dies', () => {
    const link = pair({ passive: true });
    link.run(5000);
    expect(link.a.state).toBe('Up');
    link.dead.b = true;
    link.run(6000);
    expect(link.a.state).toBe('Down');
    const sentAfter = link.sent.a.length;
    link.run(10_000);
    expect(link.sent.a.length).toBe(sentAfter);
  });
});

describe('BFD transmit jitter (§6.8.7)', () => {
  function intervals(mult: number, random: () => number): number[] {
    const s = session({ detectMultiplier: mult, random });
    s.onPacket(from({ state: BfdState.Init, yourDiscriminator: 1 }), 0);
    const times: number[] = [];
    while (times.length < 200) {
      const t = s.nextDeadline();
      if (s.tick(t).packets.length > 0) times.push(t);
      // keep it Up
      if (times.length % 2 === 0)
        s.onPacket(from({ state: BfdState.Up, yourDiscriminator: 1, final: true }), t);
    }
    return times.slice(2).map((v, i) => v - times[i + 1]!);
  }

  test('spreads intervals over 75-100% of the negotiated interval', () => {
    let i = 0;
    const gaps = intervals(3, () => (i++ % 100) / 100);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(75);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(100);
    expect(Math.max(...gaps) - Math.min(...gaps)).toBeGreaterThan(20);
  });

  test('keeps intervals within 75-90% when the detect multiplier is 1', () => {
    let i = 0;
    const gaps = intervals(1, () => (i++ % 100) / 100);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(75);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(90);
  });

  test('never sends while the peer asks for no packets (Required Min RX 0)', () => {
    const s = session();
    s.onPacket(from({ state: BfdState.Down, requiredMinRxUs: 0 }), 0);
    expect(s.nextDeadline()).toBeGreaterThan(0); // only detection remains
    expect(s.tick(50).packets).toEqual([]);
  });
});

test('rejects timers the wire cannot express', () => {
  expect(() => session({ detectMultiplier: 0 })).toThrow(/detect multiplier 0/);
  expect(() => session({ requiredMinRxMs: 0 })).toThrow(/receive interval 0/);
  expect(() => session({ localDiscriminator: 0 })).toThrow(/discriminator 0/);
});

describe('periodic transmission timed by the edge', () => {
  it('leaves the periodic packet out of tick() and describes it instead, following the state', () => {
    const s = session({ periodicByEdge: true });
    // Down: the slow rate of §6.8.3 and nothing from the tick itself.
    expect(s.tick(0).packets).toEqual([]);
    expect(s.nextDeadline()).toBe(Infinity);
    expect(s.periodic()).toMatchObject({
      intervalUs: 1_000_000,
      detectMultOne: false,
      packet: { state: BfdState.Down, yourDiscriminator: 0, poll: false, final: false },
    });
    // The peer says Down: Init, addressed to the peer.
    s.onPacket(from({ state: BfdState.Down }), 10);
    expect(s.periodic()?.packet).toMatchObject({ state: BfdState.Init, yourDiscriminator: 77 });
    // The peer says Init: Up, and the faster rate is announced with a Poll until the Final.
    s.onPacket(from({ state: BfdState.Init, yourDiscriminator: 1 }), 20);
    expect(s.periodic()).toMatchObject({ packet: { state: BfdState.Up, poll: true } });
    s.onPacket(from({ state: BfdState.Up, yourDiscriminator: 1, final: true }), 30);
    expect(s.periodic()).toMatchObject({ intervalUs: 100_000, packet: { state: BfdState.Up, poll: false } });
    // Detection still runs on tick().
    expect(s.nextDeadline()).toBe(30 + 300);
    expect(s.tick(330).transitions).toMatchObject([{ from: 'Up', to: 'Down' }]);
  });

  it('still answers a Poll with a Final at once', () => {
    const s = session({ periodicByEdge: true });
    expect(s.onPacket(from({ state: BfdState.Down, poll: true }), 5).packets).toMatchObject([
      { final: true },
    ]);
  });

  it('describes nothing while a passive session has not heard the peer, and the 10-25% jitter with DetectMult 1', () => {
    expect(session({ periodicByEdge: true, passive: true }).periodic()).toBeUndefined();
    expect(session({ periodicByEdge: true, detectMultiplier: 1 }).periodic()?.detectMultOne).toBe(true);
  });
});
