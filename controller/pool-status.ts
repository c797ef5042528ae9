// IPAddressPool status counts: assignedIPv4/IPv6 and availableIPv4/IPv6, from the allocator,
// written (merge patch of the status subresource) only when they differ from what the pool
// object shows. Availability of a large IPv6 pool exceeds int64: it is clamped to int64's
// maximum, the largest value the CRD's `format: int64` accepts.

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
