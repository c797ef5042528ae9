// IPAddressPool status counts: assignedIPv4/IPv6 and availableIPv4/IPv6, from the allocator,
// written (merge patch of the status subresource) only when they differ from what the pool
// object shows. Availability of a large IPv6 pool exceeds int64: it is clamped to int64's
// maximum, the largest value the CRD's `format: int64` accepts. PoolStatusSync writes them.

import type { ApiRequester } from '../lib/kube/api-request.js';
import type { KubeObject } from '../lib/kube/transport.js';
import type { Logger } from '../lib/log.js';
import type { PoolUsage } from './allocator/types.js';

export const int64Max = (1n << 63n) - 1n;

export interface PoolStatusCounts {
  readonly assignedIPv4: bigint;
  readonly assignedIPv6: bigint;
  readonly availableIPv4: bigint;
  readonly availableIPv6: bigint;
}

export interface PoolObjectStatus {
  assignedIPv4?: number | bigint;
  assignedIPv6?: number | bigint;
  availableIPv4?: number | bigint;
  availableIPv6?: number | bigint;
}

const clamp = (n: bigint): bigint => (n > int64Max ? int64Max : n);

export function poolStatusCounts(usage: PoolUsage): PoolStatusCounts {
  return {
    assignedIPv4: BigInt(usage.ipv4.assigned),
    assignedIPv6: BigInt(usage.ipv6.assigned),
    availableIPv4: clamp(usage.ipv4.available),
    availableIPv6: clamp(usage.ipv6.available),
  };
}

/**
 * The status patch that brings `current` to `want`, or undefined when nothing differs.
 * Numbers parsed from JSON lose precision beyond 2^53, so a clamped value read back as a
 * number counts as equal when the number is the nearest double.
 */
export function poolStatusPatch(
  current: PoolObjectStatus | undefined,
  want: PoolStatusCounts,
): { status: PoolStatusCounts } | undefined {
  const same = (a: number | bigint | undefined, b: bigint) =>
    a !== undefined && (typeof a === 'bigint' ? a === b : a === Number(b));
  const keys = Object.keys(want) as (keyof PoolStatusCounts)[];
  return keys.every((k) => same(current?.[k], want[k])) ? undefined : { status: want };
}

export interface PoolStatusSyncOptions {
  api: ApiRequester;
  namespace: string;
  log: Logger;
  /** Usage per pool, now (the allocator's). */
  usage: () => ReadonlyMap<string, PoolUsage>;
  /** The IPAddressPool objects as watched, with the status they show. */
  pools: () => readonly (KubeObject & { status?: PoolObjectStatus })[];
  /** Only the leader writes; the gauges are kept up to date by every replica. */
  leading: () => boolean;
  /** Called with the usage on every pass, before any write (the pool gauges). */
  onUsage: (usage: ReadonlyMap<string, PoolUsage>) => void;
  /** Coalescing window; default 200 ms. */
  delayMs?: number;
}

/**
 * Pool status and gauges follow allocations, coalesced: a burst of allocations (startup, a pool
 * edit) costs one pass. A failed write schedules another pass.
 */
export class PoolStatusSync {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly opts: PoolStatusSyncOptions) {}

  schedule(): void {
    if (this.timer !== undefined || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.sync();
    }, this.opts.delayMs ?? 200);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  async sync(): Promise<void> {
    const { api, namespace, log } = this.opts;
    const usage = this.opts.usage();
    this.opts.onUsage(usage);
    if (!this.opts.leading()) return;
    for (const obj of this.opts.pools()) {
      const name = obj.metadata?.name ?? '';
      const u = usage.get(name);
      if (u === undefined) continue;
      const patch = poolStatusPatch(obj.status, poolStatusCounts(u));
      if (patch === undefined) continue;
      try {
        await api.patch(
          `/apis/metallb.io/v1beta1/namespaces/${encodeURIComponent(namespace)}/ipaddresspools/${encodeURIComponent(name)}/status`,
          'merge',
          patch,
        );
      } catch (err) {
        log.warn('could not write pool status', { pool: name, error: (err as Error).message });
        this.schedule();
      }
    }
  }
}
