import { Lease } from './lease.js';

const options = { leaseMs: 350, deadAfterMs: 500, marginMs: 10 };

describe('Lease', () => {
  it('without monitors nothing can declare the node dead: no end', () => {
    expect(new Lease(options).end()).toBe(Number.POSITIVE_INFINITY);
  });

  it('ends L after the send time of the oldest monitor’s latest acknowledged heartbeat', () => {
    const lease = new Lease(options);
    lease.designate(['a', 'b'], 1000);
    // A monitor that acknowledged nothing counts from the first heartbeat sent to it.
    expect(lease.end()).toBe(1350);
    lease.sent('a', 1, 1000);
    lease.sent('b', 2, 1000);
    lease.sent('a', 3, 1100);
    lease.sent('b', 4, 1100);
    expect(lease.acked('a', 3, 1101)).toBe('renewed');
    expect(lease.end()).toBe(1350); // b still at its first send
    expect(lease.acked('b', 2, 1102)).toBe('renewed');
    expect(lease.end()).toBe(1350);
    expect(lease.acked('b', 4, 1103)).toBe('renewed');
    expect(lease.end()).toBe(1450);
  });

  it('an acknowledgement after a gap of D − margin taints: the monitor may have declared us dead', () => {
    const lease = new Lease(options);
    lease.designate(['a'], 0);
    lease.sent('a', 1, 0);
    expect(lease.acked('a', 1, 1)).toBe('renewed');
    lease.sent('a', 2, 480);
    expect(lease.acked('a', 2, 489)).toBe('renewed'); // 489 − 0 < 490
    lease.sent('a', 3, 1000);
    expect(lease.acked('a', 3, 1001)).toBe('tainted'); // 1001 − 480 ≥ 490
  });

  it('a dropped monitor keeps counting until it acknowledges a heartbeat that released it', () => {
    const lease = new Lease(options);
    lease.designate(['a', 'b'], 0);
    lease.designate(['b'], 50);
    expect(lease.releasing('a')).toBe(true);
    expect(lease.sent('a', 1, 100)).toBe(false); // monitor: false
    expect(lease.sent('b', 2, 100)).toBe(true);
    expect(lease.names().sort()).toEqual(['a', 'b']);
    expect(lease.acked('a', 1, 101)).toBe('released');
    expect(lease.names()).toEqual(['b']);
  });

  it('news of a monitor’s death does not drop it; silence past D − margin then demands a rejoin', () => {
    const lease = new Lease(options);
    lease.designate(['a'], 0);
    lease.sent('a', 1, 0);
    lease.acked('a', 1, 1);
    lease.markGone('a');
    expect(lease.names()).toEqual(['a']);
    expect(lease.end()).toBe(350);
    expect(lease.mustRejoin(489)).toBe(false);
    expect(lease.rejoinAt()).toBe(490);
    expect(lease.mustRejoin(490)).toBe(true);
  });

  it('a monitor reported dead and then designated again (its death refuted) is asked to monitor, not released', () => {
    const lease = new Lease(options);
    lease.designate(['a', 'b'], 0);
    lease.sent('a', 1, 0);
    lease.acked('a', 1, 1);
    lease.markGone('a');
    lease.designate(['b'], 2);
    expect(lease.sent('a', 2, 100)).toBe(false); // monitor: false while it is reported dead
    // It refuted: back on the ring, wanted again.
    lease.designate(['a', 'b'], 110);
    expect(lease.releasing('a')).toBe(false);
    expect(lease.sent('a', 3, 200)).toBe(true);
    // The release heartbeat acknowledged late must not drop it now.
    expect(lease.acked('a', 2, 201)).toBe('renewed');
    expect(lease.acked('a', 3, 202)).toBe('renewed');
    expect(lease.names().sort()).toEqual(['a', 'b']);
    // Not gone any more: no rejoin demanded while it acknowledges.
    expect(lease.rejoinAt()).toBe(Number.POSITIVE_INFINITY);
    // The lease still ends L after the oldest monitor's latest acknowledged heartbeat (b has
    // acknowledged nothing: its first heartbeat, at 0), and a's silence would end it too.
    expect(lease.end()).toBe(350);
  });

  it('a monitor that stopped itself (left, restarting) stops counting at once if it cannot have declared us dead', () => {
    const lease = new Lease(options);
    lease.designate(['a', 'b'], 0);
    lease.sent('a', 1, 100);
    lease.sent('b', 2, 100);
    lease.acked('a', 1, 101);
    lease.acked('b', 2, 101);
    lease.stopped('a', 300); // 300 < 100 + 490: a stopped before it could declare anything
    expect(lease.names()).toEqual(['b']);
    expect(lease.rejoinAt()).toBe(Number.POSITIVE_INFINITY);
    // b's news comes late (590 ≥ 100 + 490): it may have declared us dead before it stopped.
    lease.stopped('b', 590);
    expect(lease.rejoinAt()).toBe(590);
    expect(lease.mustRejoin(590)).toBe(true);
  });
});
