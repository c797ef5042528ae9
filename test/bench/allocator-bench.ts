// Allocator throughput and memory at 100,000 existing allocations, against a naive baseline
// measured in the same run: a first-fit scan over a set of used addresses, which is what
// MetalLB's allocator does (it walks the pool's CIDRs from the start and checks each address).
//
//   npx tsc -p tsconfig.build.json && node --expose-gc dist/test/bench/allocator-bench.js
//
// Figures are printed as ratios; nothing here is a timed assertion.

import { pathToFileURL } from 'node:url';
import type { IPFamily, IPRange } from '../../lib/ip/index.js';
import { parseAddressSpec } from '../../lib/ip/index.js';
import { Allocator } from '../../controller/allocator/allocator.js';
import type { ServiceRequest } from '../../controller/allocator/types.js';
import { mulberry32 } from '../support/prng.js';

export interface BenchResult {
  name: string;
  value: number;
  unit: string;
}

export interface AllocatorBenchOptions {
  /** Allocations present before measuring; 100,000 by default. */
  existing?: number;
  /** Wall-clock budget per measurement, in milliseconds. */
  budgetMs?: number;
}

/** The baseline: first-fit linear scan over a Set of used addresses. */
class NaiveAllocator {
  private readonly used = new Set<bigint>();
  private readonly owners = new Map<string, bigint>();

  constructor(private readonly range: IPRange) {}

  /** Marks the first n addresses used, as n first-fit allocations would, without the O(n²) fill. */
  fill(keys: readonly string[]): void {
    keys.forEach((key, i) => {
      const value = this.range.first + BigInt(i);
      this.used.add(value);
      this.owners.set(key, value);
    });
  }

  allocate(key: string): bigint | undefined {
    for (let v = this.range.first; v <= this.range.last; v++) {
      if (!this.used.has(v)) {
        this.used.add(v);
        this.owners.set(key, v);
        return v;
      }
    }
    return undefined;
  }

  release(key: string): void {
    const v = this.owners.get(key);
    if (v === undefined) return;
    this.owners.delete(key);
    this.used.delete(v);
  }
}

interface Subject {
  allocate(key: string): void;
  release(key: string): void;
}

function request(key: string, family: IPFamily): ServiceRequest {
  return {
    key,
    namespace: 'bench',
    labels: {},
    namespaceLabels: {},
    families: [family],
    familyPolicy: 'SingleStack',
    requestedIPs: [],
    sharingKey: '',
    ports: [{ protocol: 'TCP', port: 80 }],
    backendKey: '',
  };
}

/** Runs op until the budget is spent (at least 3 times, at most maxOps), returns ops/s. */
function opsPerSecond(op: (i: number) => void, budgetMs: number, maxOps: number): number {
  const start = performance.now();
  let n = 0;
  let elapsed = 0;
  while (n < maxOps && (n < 3 || elapsed < budgetMs)) {
    op(n++);
    if ((n & 7) === 0 || n < 16) elapsed = performance.now() - start;
  }
  elapsed = performance.now() - start;
  return n / (elapsed / 1000);
}

const gc = (): void => (globalThis as { gc?: () => void }).gc?.();

function heapUsed(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

interface Scenario {
  label: string;
  spec: string;
  family: IPFamily;
}

const scenarios: Scenario[] = [
  { label: 'IPv6 /64', spec: '2001:db8::/64', family: 6 },
  { label: 'IPv4 /12', spec: '10.0.0.0/12', family: 4 },
];

export async function benchAllocator(options: AllocatorBenchOptions = {}): Promise<BenchResult[]> {
  const existing = options.existing ?? 100_000;
  const budgetMs = options.budgetMs ?? 1500;
  const results: BenchResult[] = [];
  const push = (name: string, value: number, unit: string): void => {
    results.push({ name, value: Math.round(value * 100) / 100, unit });
  };

  for (const s of scenarios) {
    const range = parseAddressSpec(s.spec).range;
    const keys = Array.from({ length: existing }, (_, i) => `bench/s${i}`);
    const requests = keys.map((k) => request(k, s.family));
    const extra = (i: number): ServiceRequest => request(`bench/extra${i}`, s.family);

    // Beacon: filled through the public API, memory measured around the fill.
    const before = heapUsed();
    const beacon = new Allocator([
      { name: 'bench', ranges: [range], autoAssign: true, avoidBuggyIPs: false },
    ]);
    for (const r of requests) beacon.allocate(r);
    const beaconBytes = (heapUsed() - before) / existing;

    const naiveBefore = heapUsed();
    const naive = new NaiveAllocator(range);
    naive.fill(keys);
    const naiveBytes = (heapUsed() - naiveBefore) / existing;

    const subjects: [string, Subject][] = [
      [
        'beacon',
        {
          allocate: (k) => void beacon.allocate(request(k, s.family)),
          release: (k) => void beacon.release(k),
        },
      ],
      ['naive', { allocate: (k) => void naive.allocate(k), release: (k) => naive.release(k) }],
    ];

    const allocateRate: Record<string, number> = {};
    const churnRate: Record<string, number> = {};
    for (const [who, subject] of subjects) {
      // New services on top of `existing` allocations, released again so both start equal.
      const maxOps = who === 'naive' ? 2_000 : 200_000;
      let made = 0;
      allocateRate[who] = opsPerSecond(
        (i) => {
          subject.allocate(extra(i).key);
          made = i + 1;
        },
        budgetMs,
        maxOps,
      );
      for (let i = 0; i < made; i++) subject.release(extra(i).key);

      // Churn: release a random service, allocate a new one into the hole it left.
      const random = mulberry32(7);
      const live = [...keys];
      let next = 0;
      churnRate[who] = opsPerSecond(
        () => {
          const slot = Math.floor(random() * live.length);
          subject.release(live[slot]!);
          const key = `bench/churn${next++}`;
          subject.allocate(key);
          live[slot] = key;
        },
        budgetMs,
        maxOps,
      );
    }

    push(`allocate at ${existing} allocations, ${s.label}: beacon`, allocateRate.beacon!, 'ops/s');
    push(`allocate at ${existing} allocations, ${s.label}: naive scan`, allocateRate.naive!, 'ops/s');
    push(
      `allocate at ${existing} allocations, ${s.label}: beacon / naive`,
      allocateRate.beacon! / allocateRate.naive!,
      'x',
    );
    push(`release+allocate churn, ${s.label}: beacon`, churnRate.beacon!, 'ops/s');
    push(`release+allocate churn, ${s.label}: naive scan`, churnRate.naive!, 'ops/s');
    push(`release+allocate churn, ${s.label}: beacon / naive`, churnRate.beacon! / churnRate.naive!, 'x');
    push(`heap per allocation, ${s.label}: beacon`, beaconBytes, 'bytes');
    push(`heap per allocation, ${s.label}: naive scan`, naiveBytes, 'bytes');
  }
  return results;
}

const invokedDirectly =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (invokedDirectly) {
  const gcNote =
    (globalThis as { gc?: unknown }).gc === undefined ? ' (no --expose-gc: heap figures are noisy)' : '';
  const rows = await benchAllocator();
  const width = Math.max(...rows.map((r) => r.name.length));
  process.stdout.write(`allocator bench${gcNote}\n`);
  for (const r of rows) {
    process.stdout.write(
      `${r.name.padEnd(width)}  ${r.value.toLocaleString('en-US').padStart(14)} ${r.unit}\n`,
    );
  }
}
