// make bench: every benchmark, each printing its figures next to a baseline measured in the
// same run (ratios, not absolute times: the machine is shared and noisy). Benchmarks are never
// timed assertions inside tests.
//
//   node --expose-gc dist/test/bench/run.js [name ...]     (names: allocator, bgp-bfd, bgp-codec, bgp-table, controller, control-plane-vip, l2-arp, l2-failover, l2-sim, speaker-churn, speaker-churn-l2)

import { benchAllocator, type BenchResult } from './allocator-bench.js';
import { benchBgpBfd } from './bgp-bfd-bench.js';
import { benchBgpPacking } from './bgp-codec-bench.js';
import { benchBgpTable } from './bgp-table-bench.js';
import { benchController } from './controller-bench.js';
import { benchL2 } from './l2-bench.js';
import { benchL2Failover } from './l2-failover-bench.js';
import { benchSpeakerChurn } from './speaker-churn-bench.js';
import { benchL2Sim } from './l2-sim-bench.js';
import { benchControlPlaneVip } from './control-plane-vip-bench.js';

const benches: Record<string, { title: string; run: () => Promise<BenchResult[]> }> = {
  allocator: {
    title: 'IP allocator at 100,000 allocations (baseline: first-fit linear scan)',
    run: () => benchAllocator(),
  },
  'bgp-codec': {
    title: 'BGP UPDATE packing of 10,000 /32s (baseline: one UPDATE per prefix, as MetalLB native)',
    run: benchBgpPacking,
  },
  'bgp-bfd': {
    title:
      'BGP failover with BFD 100 ms x 3 on the lab, 20 each of SIGKILL, SIGSTOP and unplug of node1 (goal: 500 ms until the router’s FIB drops its next hop)',
    run: () => benchBgpBfd(),
  },
  'bgp-table': {
    title:
      "BGP: 10,000 /32s from Established to all in a BIRD router's table, polled over its control socket (baseline: BIRD announcing them)",
    run: () => benchBgpTable(),
  },
  controller: {
    title: 'Controller at 10,000 Services on a real API server (baseline: raw parallel status PATCHes)',
    run: benchController,
  },
  'l2-arp': {
    title: 'ARP and NDP answers, userspace responder vs the node kernel for its own address (baseline)',
    run: () => benchL2(),
  },
  'speaker-churn': {
    title:
      'Speakers under load: 10,000 Services (SPEAKER_CHURN_SERVICES) created then deleted, BGP + BFD 100 ms x 3 to BIRD beside stress-ng --cpu 2 (goals: 0 session drops, event-loop lag max < 100 ms)',
    run: () => benchSpeakerChurn({ mode: 'bgp' }),
  },
  'speaker-churn-l2': {
    title:
      'Speakers under load in layer 2 mode: 10,000 Services (SPEAKER_CHURN_SERVICES) created then deleted beside stress-ng --cpu 2 (goals: 0 membership flaps, no IP answered by two MACs, event-loop lag max < 100 ms)',
    run: () => benchSpeakerChurn({ mode: 'l2' }),
  },
  'l2-sim': {
    title:
      'Layer 2 membership simulation: 2,000 speakers, 10,000 IPs, 1 % loss, crashes, stalls, a partition (goal: no double answer, failover ≤ 1 s, bounded bytes)',
    run: () => benchL2Sim(),
  },
  'l2-failover': {
    title:
      'Layer 2 failover on the lab, 20 SIGKILLs and 20 unplugs of the owner (goal: 1 s to the new owner’s gratuitous ARP)',
    run: () => benchL2Failover(),
  },
  'control-plane-vip': {
    title:
      'Control-plane VIP on the lab: Beacon L2, Beacon BGP (BFD 100 ms x 3) and keepalived + HAProxy (the seed’s settings), SIGKILL, SIGTERM, SIGSTOP of the owner’s API server and unplug, CP_BENCH_TRIALS each (goals: Beacon p99 ≤ 1 s L2, ≤ 0.5 s BGP, fewer failed requests than keepalived + HAProxy)',
    run: () => benchControlPlaneVip(),
  },
};

function print(title: string, rows: BenchResult[]): void {
  const width = Math.max(...rows.map((r) => r.name.length));
  process.stdout.write(`\n## ${title}\n`);
  for (const r of rows) {
    const value = Number.isInteger(r.value)
      ? r.value.toLocaleString('en-US')
      : r.value.toLocaleString('en-US', { maximumFractionDigits: 2 });
    process.stdout.write(`${r.name.padEnd(width)}  ${value.padStart(14)} ${r.unit}\n`);
  }
}

const wanted = process.argv.slice(2);
for (const [name, bench] of Object.entries(benches)) {
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  print(bench.title, await bench.run());
}
if ((globalThis as { gc?: unknown }).gc === undefined)
  process.stdout.write('\n(run with node --expose-gc for steadier heap figures; make bench does)\n');
