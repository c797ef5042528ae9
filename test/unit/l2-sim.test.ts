// The layer 2 cluster simulation (test/sim/l2-cluster-sim.ts) at unit-test size: 40 speakers,
// 600 IPs, 2 % loss, crashes and restarts, a stalled node, a slow main thread, a health flap, a
// clean leave and a partition that heals. Simulated time: the bounds are on virtual time.

import { percentile, simulate, type Action } from '../sim/l2-cluster-sim.js';

describe('layer 2 cluster simulation', () => {
  const actions: Action[] = [
    { at: 3000, kind: 'crash', node: 0 },
    { at: 3600, kind: 'crash', node: 13 },
    { at: 4000, kind: 'stall', node: 3, ms: 1500 },
    { at: 4000, kind: 'main-lag', node: 4, ms: 800 },
    { at: 4500, kind: 'health', node: 5, healthy: false },
    { at: 6000, kind: 'health', node: 5, healthy: true },
    { at: 7000, kind: 'restart', node: 0 },
    { at: 7300, kind: 'restart', node: 13 },
    { at: 9000, kind: 'partition', side: [30, 31, 32, 33, 34, 35, 36, 37, 38, 39] },
    { at: 11000, kind: 'heal' },
    { at: 12000, kind: 'leave', node: 6 },
  ];

  it.each([1, 2])(
    'never lets two nodes answer one IP, fails over within 1 s, and converges (seed %i)',
    (seed) => {
      const r = simulate({ nodes: 40, ips: 600, seed, durationMs: 16_000, lossRate: 0.02, actions });
      expect(r.violations).toEqual([]);
      expect(r.failoversMs.length).toBeGreaterThan(0);
      expect(r.failoversPending).toBe(0);
      expect(percentile(r.failoversMs, 100)).toBeLessThanOrEqual(1000);
      expect(r.final).toEqual({ one: 600, none: 0, several: 0, viewsAgree: true });
      expect(r.maxDatagramBytes).toBeLessThanOrEqual(1400);
    },
  );
});
