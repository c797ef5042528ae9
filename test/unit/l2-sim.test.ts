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

  it.each([1, 2])(
    'a rolling restart with a hold moves no IP and pauses no other node, and a speaker not back in time is failed over (seed %i)',
    (seed) => {
      const nodes = 20;
      const rolling: Action[] = [];
      // One speaker after another, as a DaemonSet rolls: stopped, back 1.2 s later; node 19
      // never comes back, so its hold ends and its IPs fail over.
      for (let i = 0; i < nodes; i++) {
        const at = 2000 + i * 2000;
        rolling.push({ at, kind: 'leave', node: i, holdMs: 3000 });
        if (i !== nodes - 1) rolling.push({ at: at + 1200, kind: 'restart', node: i });
      }
      const r = simulate({
        nodes,
        ips: 400,
        seed,
        durationMs: 2000 + nodes * 2000 + 4000,
        lossRate: 0.02,
        actions: rolling,
      });
      expect(r.violations).toEqual([]);
      expect(r.declaredDead).toBe(0);
      expect(r.rejoins).toBe(0); // no node paused its own IPs when a monitor restarted
      // Only node 19's IPs moved (about 400 / 20), once each.
      expect(r.moves).toBeGreaterThan(0);
      expect(r.moves).toBeLessThanOrEqual(40);
      expect(r.final).toEqual({ one: 400, none: 0, several: 0, viewsAgree: true });
    },
  );

  it("without a hold the same rolling restart moves every restarted node's IPs away and back", () => {
    const nodes = 20;
    const rolling: Action[] = [];
    for (let i = 0; i < nodes; i++) {
      rolling.push({ at: 2000 + i * 2000, kind: 'leave', node: i });
      rolling.push({ at: 3200 + i * 2000, kind: 'restart', node: i });
    }
    const r = simulate({
      nodes,
      ips: 400,
      seed: 1,
      durationMs: 2000 + nodes * 2000 + 4000,
      lossRate: 0.02,
      actions: rolling,
    });
    expect(r.violations).toEqual([]);
    expect(r.moves).toBeGreaterThanOrEqual(700); // ~2 per IP
  });
});
