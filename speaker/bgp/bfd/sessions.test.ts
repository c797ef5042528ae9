import { BfdState, decodeControl, encodeControl, type BfdControlPacket } from './codec.js';
import { BfdSessions, profileFromBFDProfile, type BfdStateChange } from './sessions.js';

const profile = { receiveIntervalMs: 100, transmitIntervalMs: 100, detectMultiplier: 3, passiveMode: false };

function table(): {
  t: BfdSessions;
  sent: Array<{ peer: string; pkt: BfdControlPacket }>;
  changes: BfdStateChange[];
} {
  const sent: Array<{ peer: string; pkt: BfdControlPacket }> = [];
  const changes: BfdStateChange[] = [];
  let next = 100;
  const t = new BfdSessions({
    send: (peer, _local, data) => {
      const r = decodeControl(data);
      if (!r.ok) throw new Error(r.reason);
      sent.push({ peer, pkt: r.packet });
    },
    onStateChange: (c) => changes.push(c),
    random: () => 0,
    newDiscriminator: () => next++,
  });
  return { t, sent, changes };
}

function peerPacket(p: Partial<BfdControlPacket>): Buffer {
  return encodeControl({
    diag: 0,
    state: BfdState.Down,
    poll: false,
    final: false,
    cpi: false,
    demand: false,
    detectMult: 3,
    myDiscriminator: 9000,
    yourDiscriminator: 0,
    desiredMinTxUs: 100_000,
    requiredMinRxUs: 100_000,
    requiredMinEchoRxUs: 0,
    ...p,
  });
}

describe('BFD session table (RFC 5880 §6.3, RFC 5881 §3, §5)', () => {
  test('selects by source address while Your Discriminator is 0, then by discriminator', () => {
    const { t, changes } = table();
    t.add('10.0.0.2', '10.0.0.1', profile, 0);
    t.add('fd00::2', 'fd00::1', profile, 0);
    expect(t.receive(peerPacket({}), '10.0.0.2', 255, 10)).toBe('accepted');
    expect(changes.map((c) => `${c.peer} ${c.to}`)).toEqual(['10.0.0.2 Init']);
    // The v6 session got discriminator 101: an Init for it from its peer brings it Up.
    expect(
      t.receive(peerPacket({ state: BfdState.Init, yourDiscriminator: 101 }), 'FD00:0::2', 255, 20),
    ).toBe('accepted');
    expect(t.isUp('fd00::2')).toBe(true);
    expect(t.isUp('10.0.0.2')).toBe(false);
  });

  test('discards a packet whose discriminator belongs to another peer', () => {
    const { t } = table();
    t.add('10.0.0.2', '10.0.0.1', profile, 0);
    t.add('10.0.0.3', '10.0.0.1', profile, 0);
    expect(t.receive(peerPacket({ state: BfdState.Init, yourDiscriminator: 100 }), '10.0.0.3', 255, 5)).toBe(
      'no-session',
    );
    expect(t.isUp('10.0.0.2')).toBe(false);
    expect(t.receive(peerPacket({}), '10.0.0.9', 255, 5)).toBe('no-session');
    expect(t.discarded.get('no-session')).toBe(2);
  });

  test('discards packets that did not arrive with TTL 255 (RFC 5881 §5)', () => {
    const { t, changes } = table();
    t.add('10.0.0.2', '10.0.0.1', profile, 0);
    expect(t.receive(peerPacket({}), '10.0.0.2', 254, 5)).toBe('ttl');
    expect(t.receive(peerPacket({}), '10.0.0.2', -1, 5)).toBe('ttl'); // TTL unknown
    expect(changes).toEqual([]);
    expect(t.stats()[0]).toMatchObject({ peer: '10.0.0.2', ttlRejected: 2, packetsIn: 0 });
  });

  test('a profile may lower the TTL floor explicitly', () => {
    const { t } = table();
    t.add('10.0.0.2', '10.0.0.1', { ...profile, minimumTtl: 254 }, 0);
    expect(t.receive(peerPacket({}), '10.0.0.2', 254, 5)).toBe('accepted');
  });

  test('counts malformed datagrams by reason', () => {
    const { t } = table();
    t.add('10.0.0.2', '10.0.0.1', profile, 0);
    expect(t.receive(Buffer.alloc(10), '10.0.0.2', 255, 0)).toBe('too-short');
    expect(t.receive(peerPacket({ detectMult: 1 }).fill(0, 2, 3), '10.0.0.2', 255, 0)).toBe(
      'zero-detect-mult',
    );
    expect(Object.fromEntries(t.discarded)).toEqual({ 'too-short': 1, 'zero-detect-mult': 1 });
  });

  test('sends from each session on its schedule and reports Down on timeout', () => {
    const { t, sent, changes } = table();
    t.add('10.0.0.2', '10.0.0.1', profile, 0);
    expect(t.nextDeadline()).toBe(0);
    t.tick(0);
    expect(sent).toMatchObject([{ peer: '10.0.0.2', pkt: { state: BfdState.Down, myDiscriminator: 100 } }]);
    t.receive(peerPacket({ state: BfdState.Init, yourDiscriminator: 100 }), '10.0.0.2', 255, 50);
    t.tick(350);
    expect(changes.map((c) => [c.to, c.diagName])).toEqual([
      ['Up', 'No Diagnostic'],
      ['Down', 'Control Detection Time Expired'],
    ]);
  });

  test('removing a session tells the peer AdminDown and forgets it', () => {
    const { t, sent } = table();
    t.add('10.0.0.2', '10.0.0.1', profile, 0);
    t.remove('10.0.0.2', 5);
    expect(sent.at(-1)?.pkt).toMatchObject({ state: BfdState.AdminDown, diag: 7 });
    expect(t.has('10.0.0.2')).toBe(false);
    expect(t.nextDeadline()).toBe(Infinity);
  });

  test('rejects a duplicate peer, a family mismatch and a non-address', () => {
    const { t } = table();
    t.add('10.0.0.2', '10.0.0.1', profile, 0);
    expect(() => t.add('10.0.0.2', '10.0.0.1', profile, 0)).toThrow(/10.0.0.2: a session already exists/);
    expect(() => t.add('fd00::2', '10.0.0.1', profile, 0)).toThrow(/another address family/);
    expect(() => t.add('node-a', '10.0.0.1', profile, 0)).toThrow(/"node-a" is not an IP address/);
  });

  test('maps a BFDProfile, keeping single-hop TTL 255 whatever minimumTtl says', () => {
    const p = profileFromBFDProfile({
      ref: { kind: 'BFDProfile', namespace: 'metallb-system', name: 'fast' },
      receiveInterval: 100,
      transmitInterval: 150,
      detectMultiplier: 4,
      echoInterval: 50,
      echoMode: false,
      passiveMode: true,
      minimumTtl: 254,
    });
    expect(p).toEqual({
      receiveIntervalMs: 100,
      transmitIntervalMs: 150,
      detectMultiplier: 4,
      passiveMode: true,
    });
  });
});

describe('BfdSessions with the periodic transmission at the edge', () => {
  function edgeTable() {
    const handed: Array<{ peer: string; state?: number; intervalUs?: number }> = [];
    const sent: BfdControlPacket[] = [];
    let next = 100;
    const t = new BfdSessions({
      send: (_peer, _local, data) => {
        const r = decodeControl(data);
        if (r.ok) sent.push(r.packet);
      },
      setPeriodic: (peer, p) => {
        const r = p && decodeControl(p.data);
        handed.push(p && r?.ok ? { peer, state: r.packet.state, intervalUs: p.intervalUs } : { peer });
      },
      onStateChange: () => undefined,
      random: () => 0,
      newDiscriminator: () => next++,
    });
    return { t, handed, sent };
  }

  it('hands over the packet when a session starts and again only when it changes', () => {
    const { t, handed, sent } = edgeTable();
    t.add('10.0.0.2', '10.0.0.1', profile, 0);
    expect(handed).toEqual([{ peer: '10.0.0.2', state: BfdState.Down, intervalUs: 1_000_000 }]);
    t.tick(5000);
    expect(handed).toHaveLength(1); // nothing changed, nothing handed
    expect(sent).toEqual([]); // and the tick sent nothing itself
    t.receive(peerPacket({ state: BfdState.Down }), '10.0.0.2', 255, 5010);
    expect(handed.at(-1)).toEqual({ peer: '10.0.0.2', state: BfdState.Init, intervalUs: 1_000_000 });
  });

  it('stops the periodic packet before sending AdminDown when a session is removed', () => {
    const { t, handed, sent } = edgeTable();
    t.add('10.0.0.2', '10.0.0.1', profile, 0);
    t.remove('10.0.0.2', 10);
    expect(handed.at(-1)).toEqual({ peer: '10.0.0.2' });
    expect(sent.map((p) => p.state)).toEqual([BfdState.AdminDown]);
  });
});
