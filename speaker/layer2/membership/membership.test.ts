import { Membership } from './membership.js';
import type { Heartbeat } from './types.js';

const peers = [
  { name: 'n1', address: '10.0.0.1' },
  { name: 'n2', address: '10.0.0.2' },
  { name: 'n3', address: '10.0.0.3' },
];

function beat(node: string, seq: number, extra: Partial<Heartbeat> = {}): Heartbeat {
  return {
    node,
    incarnation: 1000,
    seq,
    linkUp: true,
    responderOk: true,
    ready: true,
    leaving: false,
    claims: new Map(),
    ...extra,
  };
}

function member(): Membership {
  const m = new Membership({ self: 'n1', incarnation: 5000 }, 0);
  m.setPeers(peers);
  return m;
}

describe('Membership', () => {
  it('sends one heartbeat per peer every interval, never to itself', () => {
    const m = member();
    const first = m.tick(0);
    expect(first.send.map((o) => o.peer.name)).toEqual(['n2', 'n3']);
    expect(first.nextDeadline).toBe(100);
    expect(m.tick(50).send).toEqual([]);
    const second = m.tick(100);
    expect(second.send[0]?.heartbeat.seq).toBe((first.send[0]?.heartbeat.seq ?? 0) + 1);
  });

  it('declares a peer dead three intervals after its last heartbeat', () => {
    const m = member();
    expect(m.onHeartbeat(beat('n2', 1), 10)).toEqual({
      accepted: true,
      changes: [{ node: 'n2', from: 'unknown', to: 'alive' }],
    });
    expect(m.tick(100).nextDeadline).toBe(100 + 100);
    expect(m.tick(309).changes).toEqual([]);
    expect(m.tick(310).changes).toEqual([{ node: 'n2', from: 'alive', to: 'dead' }]);
    expect(m.members(310).get('n2')?.alive).toBe(false);
  });

  it('wakes up exactly when a peer would expire', () => {
    const m = member();
    m.tick(0);
    m.onHeartbeat(beat('n2', 1), 50);
    expect(m.tick(100).nextDeadline).toBe(200);
    expect(m.tick(300).nextDeadline).toBe(350);
  });

  const refused: { name: string; hb: Heartbeat; reason: string }[] = [
    { name: 'a replayed heartbeat', hb: beat('n2', 5), reason: 'replay' },
    { name: 'an older incarnation', hb: beat('n2', 9, { incarnation: 999 }), reason: 'stale-incarnation' },
    { name: 'a node that is not a speaker', hb: beat('n9', 1), reason: 'unknown-peer' },
    { name: 'its own heartbeat reflected back', hb: beat('n1', 1), reason: 'self' },
  ];
  it.each(refused)('refuses $name', ({ hb, reason }) => {
    const m = member();
    m.onHeartbeat(beat('n2', 5), 0);
    expect(m.onHeartbeat(hb, 1)).toEqual({ accepted: false, reason });
  });

  it('accepts a restarted peer (new incarnation) and resets its claims', () => {
    const m = member();
    m.onHeartbeat(beat('n2', 50, { claims: new Map([['10.0.0.9', 1]]) }), 0);
    expect(m.onHeartbeat(beat('n2', 1, { incarnation: 2000 }), 10).accepted).toBe(true);
    expect(m.members(10).get('n2')?.claims.size).toBe(0);
  });

  it('marks a leaving peer left at once', () => {
    const m = member();
    m.onHeartbeat(beat('n2', 1), 0);
    expect(m.onHeartbeat(beat('n2', 2, { leaving: true }), 5)).toEqual({
      accepted: true,
      changes: [{ node: 'n2', from: 'alive', to: 'left' }],
    });
    expect(m.members(5).get('n2')?.alive).toBe(false);
  });

  it('reports link down at once and stays unhealthy for the recovery hold-down', () => {
    const m = member();
    m.tick(0);
    m.setLocalHealth({ linkUp: false, responderOk: true }, 30);
    const down = m.tick(30);
    expect(down.send[0]?.heartbeat.linkUp).toBe(false);
    expect(m.members(30).get('n1')?.healthy).toBe(false);
    m.setLocalHealth({ linkUp: true, responderOk: true }, 60);
    expect(m.members(559).get('n1')?.healthy).toBe(false);
    expect(m.tick(130).send[0]?.heartbeat.responderOk).toBe(false);
    expect(m.members(560).get('n1')?.healthy).toBe(true);
  });

  it('counts the recovery hold-down from the moment the link is back, however long it was down', () => {
    const m = member();
    m.tick(0);
    m.setLocalHealth({ linkUp: false, responderOk: true }, 30);
    m.setLocalHealth({ linkUp: true, responderOk: true }, 2000);
    expect(m.members(2000).get('n1')?.healthy).toBe(false);
    expect(m.tick(2000).nextDeadline).toBeLessThanOrEqual(2100);
    expect(m.members(2499).get('n1')?.healthy).toBe(false);
    expect(m.members(2500).get('n1')?.healthy).toBe(true);
    // A healthy report while healthy does not restart it.
    m.setLocalHealth({ linkUp: true, responderOk: true }, 2600);
    expect(m.members(2600).get('n1')?.healthy).toBe(true);
  });

  it('sends at once when its claims change, and only then', () => {
    const m = member();
    m.tick(0);
    m.setLocalClaims(new Map([['10.0.0.1', 1]]), 20);
    expect(m.tick(20).send[0]?.heartbeat.claims).toEqual(new Map([['10.0.0.1', 1]]));
    m.setLocalClaims(new Map([['10.0.0.1', 1]]), 30);
    expect(m.tick(30).send).toEqual([]);
  });

  it('is ready only after a full failure window', () => {
    const m = member();
    expect(m.ready(299)).toBe(false);
    expect(m.ready(300)).toBe(true);
  });

  it('forgets peers that are no longer speakers', () => {
    const m = member();
    m.onHeartbeat(beat('n3', 1), 0);
    expect(m.setPeers(peers.slice(0, 2))).toEqual([{ node: 'n3', from: 'alive', to: 'left' }]);
    expect(m.members(0).has('n3')).toBe(false);
  });
});
