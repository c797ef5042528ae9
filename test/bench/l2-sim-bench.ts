// Layer 2 membership and ownership at cluster scale, in the simulation (test/sim/): 2,000
// speakers, 10,000 IPs, 1 % loss, crashes and restarts, stalled nodes, a slow main thread, a
// health flap and a partition of 100 nodes that heals. Prints failover, owners per IP,
// membership bytes per node per second and the largest datagram, and the cost of one
// ownership change at that size against its baseline, a full election of every IP.

import { percentile, simulate, type Action, nodeName, serviceIP } from '../sim/l2-cluster-sim.js';
import { OwnerIndex } from '../../speaker/layer2/ownership/owner-index.js';
import { PlanTable } from '../../speaker/layer2/ownership/plan-table.js';
import type { BenchResult } from './allocator-bench.js';

export interface L2SimBenchOptions {
  nodes?: number;
  ips?: number;
  durationMs?: number;
  seed?: number;
}

function ownershipChangeCost(nodes: number, ips: number): BenchResult[] {
  const names = Array.from({ length: nodes }, (_, i) => nodeName(i));
  const table = new PlanTable(
    Array.from({ length: ips }, (_, i) => ({ ip: serviceIP(i), eligible: names, weights: new Map() })),
  );
  const index = new OwnerIndex(names[0] as string);
  index.setPlan(table);
  let t = performance.now();
  for (const n of names) index.setCandidate(n, true);
  const fullMs = performance.now() - t;
  const rounds = 50;
  let downMs = 0;
  let upMs = 0;
  for (let r = 0; r < rounds; r++) {
    const victim = names[(r * 37) % nodes] as string;
    t = performance.now();
    index.setCandidate(victim, false);
    downMs += performance.now() - t;
    t = performance.now();
    index.setCandidate(victim, true);
    upMs += performance.now() - t;
  }
  // Baseline: what the old code did after every heartbeat, a full election of every IP.
  const fresh = new OwnerIndex(names[0] as string);
  for (const n of names) fresh.setCandidate(n, true);
  t = performance.now();
  fresh.setPlan(table);
  const baselineMs = performance.now() - t;
  return [
    {
      name: `ownership: a node dies (${ips.toLocaleString('en-US')} IPs × ${nodes.toLocaleString('en-US')} nodes)`,
      value: downMs / rounds,
      unit: 'ms',
    },
    { name: 'ownership: a node comes back', value: upMs / rounds, unit: 'ms' },
    { name: 'ownership: full election (baseline)', value: baselineMs, unit: 'ms' },
    {
      name: 'ownership: full election / one change',
      value: baselineMs / Math.max(1e-6, downMs / rounds),
      unit: '×',
    },
    { name: 'ownership: first build (all nodes join one by one)', value: fullMs, unit: 'ms' },
  ];
}

export async function benchL2Sim(options: L2SimBenchOptions = {}): Promise<BenchResult[]> {
  const nodes = options.nodes ?? 2000;
  const ips = options.ips ?? 10_000;
  const durationMs = options.durationMs ?? 14_000;
  const rows = ownershipChangeCost(nodes, ips);
  const partitioned = Array.from({ length: Math.floor(nodes / 20) }, (_, i) => nodes - 1 - i);
  const actions: Action[] = [
    { at: 1000, kind: 'crash', node: 1 },
    { at: 1300, kind: 'crash', node: 2 },
    { at: 1600, kind: 'crash', node: 3 },
    { at: 2000, kind: 'stall', node: 10, ms: 1500 },
    { at: 2000, kind: 'main-lag', node: 11, ms: 3000 },
    { at: 2500, kind: 'health', node: 12, healthy: false },
    { at: 4000, kind: 'health', node: 12, healthy: true },
    { at: 4500, kind: 'restart', node: 1 },
    { at: 5000, kind: 'restart', node: 2 },
    { at: 6000, kind: 'partition', side: partitioned },
    { at: 9000, kind: 'heal' },
    { at: 10_000, kind: 'crash', node: 20 },
    { at: 10_500, kind: 'leave', node: 21 },
  ];
  const r = simulate({
    nodes,
    ips,
    seed: options.seed ?? 1,
    durationMs,
    lossRate: 0.01,
    warm: true,
    actions,
  });
  rows.push(
    {
      name: 'sim: steps with two nodes answering one IP (same side)',
      value: r.violations.length,
      unit: 'events',
    },
    {
      name: 'sim: failover p50 (crash → another node answers)',
      value: percentile(r.failoversMs, 50),
      unit: 'ms',
    },
    { name: 'sim: failover p99', value: percentile(r.failoversMs, 99), unit: 'ms' },
    { name: 'sim: failover max', value: percentile(r.failoversMs, 100), unit: 'ms' },
    { name: 'sim: IPs failed over', value: r.failoversMs.length, unit: 'IPs' },
    { name: 'sim: IPs never failed over', value: r.failoversPending, unit: 'IPs' },
    { name: 'sim: IPs answered by exactly one node at the end', value: r.final.one, unit: 'IPs' },
    {
      name: 'sim: IPs answered by none / several at the end',
      value: r.final.none + r.final.several,
      unit: 'IPs',
    },
    { name: 'sim: membership bytes sent per node', value: r.bytesPerNodePerSecond, unit: 'B/s' },
    { name: 'sim: largest datagram', value: r.maxDatagramBytes, unit: 'bytes' },
    { name: 'sim: rejoins (new incarnations)', value: r.rejoins, unit: '' },
    {
      name: 'sim: wall time (setup)',
      value: r.wallMs / 1000,
      unit: `s (${(r.setupMs / 1000).toFixed(1)} s setup)`,
    },
  );
  return rows;
}
