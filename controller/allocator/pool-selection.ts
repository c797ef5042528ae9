// Which pools a service may take an address from, and in which order (MetalLB
// internal/allocator: pinnedPoolsForService, sortPools, isPoolCompatibleWithService).

import { matchesLabelSelector } from '../../lib/kube/label-selector.js';
import type { AllocatorPool, ServiceRequest } from './types.js';

/**
 * A pool accepts a service unless its serviceAllocation restricts namespaces or services and
 * the service falls outside. Namespaces: the service's namespace must be listed or its labels
 * match one of namespaceSelectors. Services: one of serviceSelectors must match its labels.
 *
 * Unlike MetalLB, namespaceSelectors that match no namespace still restrict: MetalLB resolves
 * them to a namespace list and treats an empty list as "no restriction".
 */
export function poolAcceptsService(pool: AllocatorPool, service: ServiceRequest): boolean {
  const sa = pool.serviceAllocation;
  if (sa === undefined) return true;
  const namespaces = sa.namespaces ?? [];
  const namespaceSelectors = sa.namespaceSelectors ?? [];
  if (namespaces.length > 0 || namespaceSelectors.length > 0) {
    const byName = namespaces.includes(service.namespace);
    if (!byName && !namespaceSelectors.some((s) => matchesLabelSelector(s, service.namespaceLabels)))
      return false;
  }
  const serviceSelectors = sa.serviceSelectors ?? [];
  if (serviceSelectors.length > 0 && !serviceSelectors.some((s) => matchesLabelSelector(s, service.labels))) {
    return false;
  }
  return true;
}

/**
 * The pools automatic allocation tries, as two tiers tried one after the other:
 * 1. "pinned": autoAssign pools with a serviceAllocation that accepts the service, by priority
 *    (lower first; unset or 0 after every prioritized pool);
 * 2. autoAssign pools without serviceAllocation.
 * MetalLB breaks ties at random (Go map order); Beacon breaks them by pool name, so the same
 * cluster state always gives the same address.
 */
export function autoAssignTiers<P extends { readonly def: AllocatorPool }>(
  pools: readonly P[],
  service: ServiceRequest,
): [pinned: P[], fallback: P[]] {
  const pinned: P[] = [];
  const fallback: P[] = [];
  for (const p of pools) {
    if (!p.def.autoAssign) continue;
    if (p.def.serviceAllocation === undefined) fallback.push(p);
    else if (poolAcceptsService(p.def, service)) pinned.push(p);
  }
  pinned.sort((a, b) => comparePriority(a.def, b.def) || compareNames(a.def.name, b.def.name));
  fallback.sort((a, b) => compareNames(a.def.name, b.def.name));
  return [pinned, fallback];
}

function comparePriority(a: AllocatorPool, b: AllocatorPool): number {
  const pa = a.serviceAllocation?.priority ?? 0;
  const pb = b.serviceAllocation?.priority ?? 0;
  if (pa === pb) return 0;
  if (pa === 0) return 1;
  if (pb === 0) return -1;
  return pa - pb;
}

/** Code-unit order, independent of the host's locale. */
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
