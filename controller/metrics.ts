// The controller's Prometheus metrics: MetalLB's names (so dashboards and the Helm chart's
// alerts keep working) plus Beacon's own pending-by-reason gauge and allocation histogram.

import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { PoolUsage } from './allocator/types.js';
import { int64Max } from './pool-status.js';

/**
 * A pool's capacity as MetalLB reports it (internal/allocator/allocator.go poolCount): a block
 * of 2^62 addresses or more "will never run out" and counts as int64's maximum, so a /64 reads
 * 9223372036854775807 rather than 2^64, and alerts written against MetalLB's figures still hold.
 */
export function poolCapacityGauge(capacity: bigint): number {
  return capacity >= 1n << 62n ? Number(int64Max) : Number(capacity);
}

export class ControllerMetrics {
  readonly updates: Counter;
  readonly updateErrors: Counter;
  readonly allocationSeconds: Histogram;
  private readonly pending: Gauge<'reason'>;
  private readonly pool: Record<string, Gauge<'pool'>>;
  private readonly pools = new Set<string>();
  private readonly reasons = new Set<string>();

  constructor(registry: Registry) {
    const registers = [registry];
    this.updates = new Counter({
      name: 'metallb_k8s_client_updates_total',
      help: 'Number of Kubernetes object updates (writes) attempted',
      registers,
    });
    this.updateErrors = new Counter({
      name: 'metallb_k8s_client_update_errors_total',
      help: 'Number of Kubernetes object updates that failed',
      registers,
    });
    this.allocationSeconds = new Histogram({
      name: 'beacon_allocation_duration_seconds',
      help: 'Time to find addresses for a Service that held none',
      buckets: [0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1],
      registers,
    });
    this.pending = new Gauge({
      name: 'beacon_services_pending',
      help: 'LoadBalancer Services without an address, by reason',
      labelNames: ['reason'],
      registers,
    });
    const gauge = (name: string, help: string) => new Gauge({ name, help, labelNames: ['pool'], registers });
    this.pool = {
      total: gauge('metallb_allocator_addresses_total', 'Number of usable IP addresses, per pool'),
      inUse: gauge('metallb_allocator_addresses_in_use_total', 'Number of IP addresses in use, per pool'),
      v4Total: gauge('metallb_allocator_ipv4_addresses_total', 'Number of usable IPv4 addresses, per pool'),
      v4InUse: gauge(
        'metallb_allocator_ipv4_addresses_in_use_total',
        'Number of IPv4 addresses in use, per pool',
      ),
      v6Total: gauge('metallb_allocator_ipv6_addresses_total', 'Number of usable IPv6 addresses, per pool'),
      v6InUse: gauge(
        'metallb_allocator_ipv6_addresses_in_use_total',
        'Number of IPv6 addresses in use, per pool',
      ),
    };
  }

  /** Sets every pool's gauges; pools no longer listed are dropped. */
  setPools(usage: ReadonlyMap<string, PoolUsage>): void {
    for (const name of this.pools)
      if (!usage.has(name)) for (const g of Object.values(this.pool)) g.remove({ pool: name });
    this.pools.clear();
    for (const [name, u] of usage) {
      this.pools.add(name);
      const labels = { pool: name };
      const v4 = poolCapacityGauge(u.ipv4.capacity);
      const v6 = poolCapacityGauge(u.ipv6.capacity);
      this.pool.total!.set(labels, poolCapacityGauge(u.ipv4.capacity + u.ipv6.capacity));
      this.pool.inUse!.set(labels, u.ipv4.assigned + u.ipv6.assigned);
      this.pool.v4Total!.set(labels, v4);
      this.pool.v4InUse!.set(labels, u.ipv4.assigned);
      this.pool.v6Total!.set(labels, v6);
      this.pool.v6InUse!.set(labels, u.ipv6.assigned);
    }
  }

  setPending(byReason: ReadonlyMap<string, number>): void {
    for (const reason of this.reasons) if (!byReason.has(reason)) this.pending.set({ reason }, 0);
    for (const [reason, n] of byReason) {
      this.reasons.add(reason);
      this.pending.set({ reason }, n);
    }
  }
}
