// Messages between the speaker's main thread (client.ts) and the membership worker
// (worker.ts). The plan travels compactly: eligible node lists are shared by many IPs, so they
// go once as groups of node indexes instead of once per IP.

import type { Stall } from '../../../lib/stall-watch.js';
import type { OwnershipInput } from '../ownership/plan-table.js';
import type { RuntimeCounters, RuntimePeer } from './runtime.js';

export interface CompactPlan {
  readonly nodes: readonly string[];
  /** Node indexes per eligibility group. */
  readonly groups: readonly (readonly number[])[];
  /** Per IP: the IP, its group, its weights as [node index, weight] pairs. */
  readonly ips: readonly (readonly [string, number, readonly (readonly [number, number])[]])[];
}

export type ToWorker =
  | {
      readonly type: 'start';
      readonly self: string;
      readonly incarnation: number;
      readonly key: Uint8Array;
      readonly port: number;
      /** Float64 answer deadline (CLOCK_MONOTONIC ms) the data plane reads; optional. */
      readonly deadlineCell?: SharedArrayBuffer;
      /** Sticky ownership (member.ts); the incarnation is then scaled by seniorityScale. */
      readonly sticky?: boolean;
      /** member.ts probeEveryMs: how often peers believed dead hear from this node. */
      readonly probeEveryMs?: number;
    }
  | { readonly type: 'peers'; readonly peers: readonly RuntimePeer[] }
  | { readonly type: 'plan'; readonly plan: CompactPlan }
  | { readonly type: 'health'; readonly healthy: boolean }
  | { readonly type: 'key'; readonly key: Uint8Array }
  | { readonly type: 'applied'; readonly post: number }
  | { readonly type: 'leave'; readonly restartHoldMs: number };

export type FromWorker =
  | {
      readonly type: 'ready';
      readonly recvBufferBytes: number;
      readonly ipv6: boolean;
      /** Whether the worker thread got a higher scheduling priority (nice −10). */
      readonly priority: boolean;
    }
  | {
      readonly type: 'owned';
      readonly owned: readonly string[];
      readonly post: number;
      /** IPs this node just took over, with the node that owned them before. */
      readonly gainedFrom: readonly (readonly [string, string])[];
    }
  | { readonly type: 'until'; readonly until: number }
  /** The planned IPs with no candidate owner in this node's view (after each change). */
  | { readonly type: 'unowned'; readonly ips: readonly string[] }
  | { readonly type: 'member'; readonly node: string; readonly candidate: boolean; readonly status: string }
  | { readonly type: 'counters'; readonly counters: RuntimeCounters }
  | { readonly type: 'error'; readonly where: string; readonly message: string }
  /** This node answers nothing although healthy, for seconds now: why (runtime.ts onSilent). */
  | { readonly type: 'silent'; readonly details: Record<string, unknown> }
  /** The worker's thread was away long enough to risk the lease, and why (lib/stall-watch.ts). */
  | { readonly type: 'stall'; readonly stall: Stall }
  | { readonly type: 'left' };

export function compactPlan(inputs: readonly OwnershipInput[]): CompactPlan {
  const nodes: string[] = [];
  const nodeIndex = new Map<string, number>();
  const idOf = (n: string): number => {
    let i = nodeIndex.get(n);
    if (i === undefined) {
      i = nodes.length;
      nodes.push(n);
      nodeIndex.set(n, i);
    }
    return i;
  };
  const groups: number[][] = [];
  const byArray = new Map<readonly string[], number>();
  const byKey = new Map<string, number>();
  const ips: [string, number, [number, number][]][] = [];
  for (const input of inputs) {
    let g = byArray.get(input.eligible);
    if (g === undefined) {
      const key = [...input.eligible].sort().join('\n');
      g = byKey.get(key);
      if (g === undefined) {
        g = groups.length;
        groups.push(input.eligible.map(idOf));
        byKey.set(key, g);
      }
      byArray.set(input.eligible, g);
    }
    ips.push([input.ip, g, [...input.weights].map(([n, w]) => [idOf(n), w] as [number, number])]);
  }
  return { nodes, groups, ips };
}

export function expandPlan(plan: CompactPlan): OwnershipInput[] {
  const groups = plan.groups.map((g) => g.map((i) => plan.nodes[i] as string));
  return plan.ips.map(([ip, g, weights]) => ({
    ip,
    eligible: groups[g] ?? [],
    weights: new Map(weights.map(([i, w]) => [plan.nodes[i] as string, w])),
  }));
}
