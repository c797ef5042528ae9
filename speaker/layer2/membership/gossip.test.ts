import { GossipQueue } from './gossip.js';
import { rumourBytes, type Rumour } from './messages.js';

const rumour = (node: string, incarnation = 1, status: Rumour['status'] = 'alive'): Rumour => ({
  node,
  incarnation,
  status,
  healthy: true,
});

describe('GossipQueue', () => {
  it('fills one datagram’s budget and no more, whatever the backlog', () => {
    const q = new GossipQueue();
    for (let i = 0; i < 5000; i++) q.add(rumour(`node-with-a-long-name-${i}`));
    const taken = q.take(1300, 5000);
    const bytes = taken.reduce((n, r) => n + rumourBytes(r), 0);
    expect(bytes).toBeLessThanOrEqual(1300);
    expect(bytes).toBeGreaterThan(1300 - 50);
  });

  it('newest news first; newer news about a node replaces the older', () => {
    const q = new GossipQueue();
    q.add(rumour('a'));
    q.add(rumour('b'));
    q.add(rumour('a', 2, 'dead'));
    expect(q.take(1000, 3)).toEqual([rumour('a', 2, 'dead'), rumour('b')]);
  });

  it('stops sending a rumour after λ·log2(n+1) transmissions', () => {
    const q = new GossipQueue(3);
    q.add(rumour('a'));
    let sent = 0;
    while (q.take(1000, 7).length > 0) sent++;
    expect(sent).toBe(3 * Math.ceil(Math.log2(8)));
    expect(q.size).toBe(0);
  });
});
