// ARP and NDP answers from the userspace responder (speaker/layer2/responder/responder.ts, through the
// fixture test/e2e/fixtures/l2-speaker.ts) against the Linux kernel's own answers for a real
// address of the same node, measured in the same run, on the same segment, from the same
// requester (test/e2e/fixtures/arb-neighbor-requester.ts, hrtime-stamped, targets interleaved):
//  - latency: one request at a time, request sent -> answer read in the requester's event
//    loop; p50/p99. On veth the kernel answers inside the requester's send() (veth and bridge
//    run in the sender's softirq), so its figure holds no process wake-up at all, while ours
//    holds two (the speaker's, then the requester's): the ratio is an upper bound of what a
//    client on a real NIC would see. A requester busy-polling its socket was tried: on a
//    shared 2-core machine it takes the CPU the speaker needs and only adds noise.
//  - sustained rate: requests sent back to back for a few seconds; answers counted per second.
// A third target, the floor, is measured in the same run and interleaved the same way: a
// minimal responder in C (fixtures/arp-floor-responder.c: one blocking recvfrom on a filtered
// packet socket, the reply built and sent at once, no event loop), compiled with `cc -O2` at
// run time, answering for its own Service IP on the same node. It holds the same two wake-ups
// as ours and nothing else, so floor / kernel is what no userspace responder can beat on this
// segment, and Beacon / floor is what is ours to win. SKIPPED when there is no C compiler.
// The goal is a latency within 1.5x of the kernel's. Needs root (network namespaces).
//
//   npx tsc -p tsconfig.build.json && node --expose-gc dist/test/bench/run.js l2-arp

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BenchResult } from './allocator-bench.js';
import { Lab, hostSeedV4, hostV6, isRoot } from '../e2e/lab.js';

const VIP4 = '192.168.10.222';
const VIP6 = 'fd00:77::200:10';
/** The floor responder's addresses: on the same node, in the same on-link ranges. */
const FLOOR4 = '192.168.10.223';
const FLOOR6 = 'fd00:77::200:11';

export interface L2BenchOptions {
  /** Latency samples per target; 2,000 by default. */
  pings?: number;
  /** Length of each rate measurement, in seconds; 1 by default. */
  seconds?: number;
  /** Rate measurements per target (alternating order); 5 by default. */
  rounds?: number;
  /** false: the speaker answers ARP on its event loop, as before its answer thread. */
  answerThread?: boolean;
}

interface TargetFigures {
  latencyNs: number[];
  lost: number;
  rate: { sent: number; answered: number; seconds: number }[];
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

function median(values: number[]): number {
  return quantile(
    [...values].sort((a, b) => a - b),
    0.5,
  );
}

/** The figures of one protocol: ours, the kernel's, and the floor's when it could be built. */
interface Measured {
  ours: TargetFigures;
  kernel: TargetFigures;
  floor?: TargetFigures;
}

/** p50 and p99 rows of each latency series, with ours / kernel, floor / kernel, ours / floor. */
function latencyRows(label: string, m: Measured): BenchResult[] {
  const sorted = (t: TargetFigures): number[] => [...t.latencyNs].sort((a, b) => a - b);
  const [ours, kernel] = [sorted(m.ours), sorted(m.kernel)];
  const floor = m.floor ? sorted(m.floor) : undefined;
  const out: BenchResult[] = [];
  for (const [q, goal] of [
    [0.5, ' (goal ≤ 1.5)'],
    [0.99, ''],
  ] as const) {
    const p = `p${Math.round(q * 100)}`;
    const a = quantile(ours, q) / 1000;
    const b = quantile(kernel, q) / 1000;
    const f = floor ? quantile(floor, q) / 1000 : undefined;
    out.push({ name: `${label} ${p}, Beacon responder`, value: a, unit: 'µs' });
    if (f !== undefined) out.push({ name: `${label} ${p}, C floor responder`, value: f, unit: 'µs' });
    out.push(
      { name: `${label} ${p}, node kernel (baseline)`, value: b, unit: 'µs' },
      { name: `${label} ${p}, Beacon / kernel`, value: a / b, unit: `×${goal}` },
    );
    if (f !== undefined)
      out.push(
        {
          name: `${label} ${p}, floor / kernel`,
          value: f / b,
          unit: '× (best any userspace responder gets)',
        },
        { name: `${label} ${p}, Beacon / floor`, value: a / f, unit: '×' },
      );
  }
  const each = m.ours.latencyNs.length + m.ours.lost;
  out.push({
    name: `${label} unanswered (Beacon${m.floor ? ' / floor' : ''} / kernel)`,
    value: m.ours.lost,
    unit: `${m.floor ? `/ ${m.floor.lost} ` : ''}/ ${m.kernel.lost} of ${each} each`,
  });
  return out;
}

/** Rows for one protocol: ours and the floor's against the kernel's, with ratios (x / kernel). */
function rows(label: string, m: Measured, what: string): BenchResult[] {
  // The median of the rounds: one round disturbed by another process does not decide.
  const rate = (t: TargetFigures): number => median(t.rate.map((r) => r.answered / r.seconds));
  const offered = (t: TargetFigures): number => median(t.rate.map((r) => r.sent / r.seconds));
  const share = (t: TargetFigures): number => (100 * rate(t)) / offered(t);
  const targets: [string, string, TargetFigures][] = [
    ['Beacon responder', 'Beacon', m.ours],
    ...(m.floor ? [['C floor responder', 'floor', m.floor] as [string, string, TargetFigures]] : []),
  ];
  return [
    ...latencyRows(`${label} latency`, m),
    ...targets.map(([who, , t]) => ({
      name: `${label} answered rate, ${who}`,
      value: Math.round(rate(t)),
      unit: `${what}/s`,
    })),
    {
      name: `${label} answered rate, node kernel (baseline)`,
      value: Math.round(rate(m.kernel)),
      unit: `${what}/s`,
    },
    ...targets.map(([, short, t]) => ({
      name: `${label} answered rate, ${short} / kernel`,
      value: rate(t) / rate(m.kernel),
      unit: '×',
    })),
    // The kernel answers inside the requester's send(), which slows the sending: the offered
    // rates differ, so the share of requests answered is printed too.
    ...targets.map(([who, , t]) => ({
      name: `${label} answered share, ${who}`,
      value: share(t),
      unit: '% of requests sent',
    })),
    { name: `${label} answered share, node kernel`, value: share(m.kernel), unit: '% of requests sent' },
    {
      name: `${label} offered rate (Beacon run${m.floor ? ' / floor run' : ''} / kernel run)`,
      value: Math.round(offered(m.ours)),
      unit: `${m.floor ? `/ ${Math.round(offered(m.floor)).toLocaleString('en-US')} ` : ''}/ ${Math.round(offered(m.kernel)).toLocaleString('en-US')} requests/s`,
    },
  ];
}

/**
 * Compiles the floor responder into `dir`; its path, or undefined (and a SKIPPED line) when
 * there is no C compiler or it fails, so that the rest of the bench still runs.
 */
function buildFloor(repo: string, dir: string): string | undefined {
  const source = path.join(repo, 'test/bench/fixtures/arp-floor-responder.c');
  const binary = path.join(dir, 'arp-floor-responder');
  try {
    execFileSync('cc', ['-O2', '-o', binary, source], { stdio: ['ignore', 'ignore', 'pipe'] });
    return binary;
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no C compiler (cc)' : String(err);
    process.stdout.write(`l2-arp: C floor responder rows SKIPPED, ${why}\n`);
    return undefined;
  }
}

export async function benchL2(options: L2BenchOptions = {}): Promise<BenchResult[]> {
  if (!isRoot()) {
    process.stdout.write('l2-arp: SKIPPED, the network lab needs root\n');
    return [];
  }
  const repo = process.cwd();
  const speakerJs = path.join(repo, 'dist/test/e2e/fixtures/l2-speaker.js');
  const requesterJs = path.join(repo, 'dist/test/e2e/fixtures/arb-neighbor-requester.js');
  const pings = String(options.pings ?? 2000);
  // Short rounds, many of them, and the median: load from other processes comes in bursts.
  const seconds = String(options.seconds ?? 1);
  const rounds = String(options.rounds ?? 5);
  const buildDir = mkdtempSync(path.join(os.tmpdir(), 'arf-floor-'));
  const lab = new Lab({ prefix: 'arb-' });
  try {
    const floorBinary = buildFloor(repo, buildDir);
    // The guardian tears the lab down if this process dies without reaching `finally`.
    await lab.up({ guard: true });
    const speaker = lab.spawn(
      'node1',
      process.execPath,
      [
        ...[speakerJs, '--ip', VIP4, '--ip', VIP6, '--interface', 'eth0'],
        ...(options.answerThread === false ? ['--answer-thread', 'off'] : []),
      ],
      { stdio: 'pipe' },
    );
    // One process per family: each blocks in recvfrom on its one socket.
    const floors = floorBinary
      ? [
          lab.spawn('node1', floorBinary, ['--interface', 'eth0', '--ip4', FLOOR4], { stdio: 'pipe' }),
          lab.spawn('node1', floorBinary, ['--interface', 'eth0', '--ip6', FLOOR6], { stdio: 'pipe' }),
        ]
      : [];
    try {
      await speaker.waitForOutput(/"event":"ready"/);
      for (const f of floors) await f.waitForOutput(/^ready$/);
      const measure = async (
        family: '4' | '6',
        source: string,
        ours: string,
        kernel: string,
        floor: string,
      ): Promise<Measured> => {
        const targets = [ours, kernel, ...(floorBinary ? [floor] : [])];
        const res = await lab.exec(
          'client',
          process.execPath,
          [
            requesterJs,
            ...['--interface', 'eth0', '--family', family, '--source', source],
            ...['--targets', targets.join(','), '--pings', pings, '--seconds', seconds, '--rounds', rounds],
          ],
          { timeoutMs: 600_000 },
        );
        const out = JSON.parse(res.stdout) as { targets: Record<string, TargetFigures> };
        const figures = (t: string): TargetFigures => {
          const f = out.targets[t];
          if (!f) throw new Error(`l2 bench: requester printed nothing for ${t}`);
          return f;
        };
        return {
          ours: figures(ours),
          kernel: figures(kernel),
          ...(floorBinary ? { floor: figures(floor) } : {}),
        };
      };
      const arp = await measure('4', hostSeedV4('client'), VIP4, hostSeedV4('node1'), FLOOR4);
      const ndp = await measure('6', hostV6('client'), VIP6, hostV6('node1'), FLOOR6);
      return [...rows('ARP', arp, 'replies'), ...rows('NDP', ndp, 'NAs')];
    } finally {
      await Promise.all([speaker.stop(), ...floors.map((f) => f.stop())]);
    }
  } finally {
    await lab.down();
    rmSync(buildDir, { recursive: true, force: true });
  }
}
