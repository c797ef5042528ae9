// make bench-peers: Beacon next to MetalLB itself (the pinned peer in test/peers/), measured on
// the same control plane in the same run, each row over several trials and printed as p50, p99
// and the ratio Beacon ÷ MetalLB of the p50s (below 1 is less time, memory, CPU or writes).
//
//   node --expose-gc dist/test/bench/peers.js [controller] [l2] [bgp]
//   (BENCH_TRIALS, BENCH_SERVICES, BENCH_L2_TRIALS, BENCH_L2_SERVICES, BENCH_BGP_TRIALS, BENCH_BGP_PREFIXES)

import { benchPeersController, peersControllerTitle, type Sample } from './peers-controller-bench.js';
import { benchPeersBgp, peersBgpTitle } from './peers-bgp-bench.js';
import { benchPeersL2, peersL2Title } from './peers-l2-bench.js';
import { percentile } from './proc-stats.js';

const benches: Record<string, { title: string; run: () => Promise<Sample[]> }> = {
  controller: { title: peersControllerTitle, run: () => benchPeersController() },
  l2: { title: peersL2Title, run: () => benchPeersL2() },
  bgp: { title: peersBgpTitle, run: () => benchPeersBgp() },
};

const fmt = (v: number | undefined) =>
  v === undefined || Number.isNaN(v)
    ? '–'
    : Math.abs(v) >= 100
      ? Math.round(v).toLocaleString('en-US')
      : v.toLocaleString('en-US', { maximumFractionDigits: 2 });

export function printPeerTable(title: string, samples: readonly Sample[]): void {
  const rows = [...new Set(samples.map((s) => s.row))];
  const of = (impl: string, row: string) =>
    samples.filter((s) => s.impl === impl && s.row === row).map((s) => s.value);
  const lines = rows.map((row) => {
    const b = of('beacon', row);
    const m = of('metallb', row);
    const unit = samples.find((s) => s.row === row)?.unit ?? '';
    const bp50 = b.length ? percentile(b, 50) : undefined;
    const mp50 = m.length ? percentile(m, 50) : undefined;
    const ratio = bp50 !== undefined && mp50 !== undefined && mp50 !== 0 ? bp50 / mp50 : undefined;
    return [
      `${row}${unit ? ` (${unit})` : ''}`,
      fmt(bp50),
      fmt(b.length ? percentile(b, 99) : undefined),
      fmt(mp50),
      fmt(m.length ? percentile(m, 99) : undefined),
      ratio === undefined ? '–' : `${ratio.toFixed(2)}×`,
      String(Math.min(b.length, m.length)),
    ];
  });
  const head = ['row', 'Beacon p50', 'Beacon p99', 'MetalLB p50', 'MetalLB p99', 'Beacon÷MetalLB', 'trials'];
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const out = (cells: string[]) =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |\n`;
  process.stdout.write(`\n## ${title}\n\n`);
  process.stdout.write(out(head));
  process.stdout.write(
    `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|\n`,
  );
  for (const l of lines) process.stdout.write(out(l));
}

const wanted = process.argv.slice(2);
for (const [name, bench] of Object.entries(benches)) {
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  printPeerTable(bench.title, await bench.run());
}
