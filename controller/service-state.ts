// What a Service should look like after allocation, and the writes that get it there. Pure:
// the reconciler passes the Service as cached and the allocator's outcome, and gets back the
// status and metadata patches (none when nothing changed) and the Events to record.
//
// Beacon writes three things on a Service it serves:
// - status.loadBalancer.ingress: one entry per address, `ipMode: VIP` (the node receives
//   traffic for the address itself, so kube-proxy may short-circuit it);
// - the metallb.io/ip-allocated-from-pool annotation;
// - a status condition of type metallb.io/IPAllocated: True with the addresses, or False with
//   a reason code and the allocator's one sentence saying why the Service is pending.

import type { AllocationFailure, AllocationReason } from './allocator/failure.js';
import type { Allocation } from './allocator/types.js';
import { formatIP, tryParseIP } from '../lib/ip/index.js';
import type { ServiceCondition, ServiceObject } from '../lib/service/service-object.js';
import { annotations, ingressIPs } from '../lib/service/service-object.js';

export const allocatedCondition = 'metallb.io/IPAllocated';

export type ServiceOutcome =
  /** Beacon serves it and it holds these addresses. */
  | { readonly kind: 'allocated'; readonly allocation: Allocation }
  /** Beacon serves it but it gets no address, for this reason. */
  | { readonly kind: 'failed'; readonly failure: Pick<AllocationFailure, 'reason' | 'message'> }
  /** Not (or no longer) type LoadBalancer: whatever Beacon wrote is cleared. */
  | { readonly kind: 'released' };

export interface EventSpec {
  readonly type: 'Normal' | 'Warning';
  readonly reason: 'IPAllocated' | 'AllocationFailed' | 'ClearAssignment' | 'DeprecatedAnnotation';
  readonly message: string;
}

export interface ServiceWrites {
  /** Strategic merge patch for the status subresource; undefined when status is as desired. */
  readonly status?: Record<string, unknown>;
  /** Merge patch for metadata.annotations; undefined when the annotation is as desired. */
  readonly metadata?: Record<string, unknown>;
  readonly events: readonly EventSpec[];
}

/** Condition reasons are CamelCase (metav1.Condition): the allocator's codes, renamed. */
export const reasonCodes: Record<AllocationReason, string> = {
  'no-matching-pool': 'NoMatchingPool',
  'pool-exhausted': 'PoolExhausted',
  'ip-not-in-any-pool': 'IPNotInAnyPool',
  'ip-not-in-requested-pool': 'IPNotInRequestedPool',
  'ip-in-use': 'IPInUse',
  'family-unavailable': 'FamilyUnavailable',
  'unknown-pool': 'UnknownPool',
  'pool-does-not-match-service': 'PoolDoesNotMatchService',
  'sharing-conflict': 'SharingConflict',
  'invalid-request': 'InvalidRequest',
};

/** metav1.Time: RFC 3339 with whole seconds, as the API server stores it. */
export function kubeTime(nowMs: number): string {
  return new Date(nowMs).toISOString().replace(/\.\d+Z$/, 'Z');
}

export function desiredServiceState(
  svc: ServiceObject,
  outcome: ServiceOutcome,
  nowMs: number,
): ServiceWrites {
  const currentIPs = ingressIPs(svc);
  const currentPool = svc.metadata?.annotations?.[annotations.allocatedFromPool];
  const currentCond = svc.status?.conditions?.find((c) => c.type === allocatedCondition);

  let ips: string[];
  let pool: string | undefined;
  let cond: Pick<ServiceCondition, 'status' | 'reason' | 'message'> | undefined;
  const events: EventSpec[] = [];

  switch (outcome.kind) {
    case 'allocated': {
      ips = outcome.allocation.ips.map(formatIP);
      pool = outcome.allocation.pool;
      const list = ips.join(', ');
      cond = { status: 'True', reason: 'IPAllocated', message: `${list} from IPAddressPool ${pool}` };
      if (currentCond === undefined && ingressAsDesired(svc, ips) && currentPool === pool)
        // Adopted as it stands (written by MetalLB, or by a Beacon that predates the
        // condition): a True condition alone does not earn a write. Switching 10,000 Services
        // over would otherwise cost 10,000 writes and as many watch events for every Service
        // watcher in the cluster, to say what status.loadBalancer already says. The condition
        // comes with the next write the Service needs.
        cond = undefined;
      if (!sameSet(ips, currentIPs)) {
        if (currentIPs.length > 0) events.push(clearEvent(currentIPs, 'no longer valid for this service'));
        events.push({
          type: 'Normal',
          reason: 'IPAllocated',
          message: `Assigned IP ${list} from IPAddressPool ${pool}`,
        });
      }
      break;
    }
    case 'failed': {
      ips = [];
      pool = undefined;
      cond = {
        status: 'False',
        reason: reasonCodes[outcome.failure.reason],
        message: outcome.failure.message,
      };
      if (currentIPs.length > 0) events.push(clearEvent(currentIPs, outcome.failure.message));
      if (currentCond?.reason !== cond.reason || currentCond.message !== cond.message)
        events.push({ type: 'Warning', reason: 'AllocationFailed', message: outcome.failure.message });
      break;
    }
    case 'released':
      ips = [];
      pool = undefined;
      cond = undefined;
      if (currentIPs.length > 0)
        events.push(clearEvent(currentIPs, 'the service is no longer of type LoadBalancer'));
      break;
  }

  const status: Record<string, unknown> = {};
  if (!ingressAsDesired(svc, ips))
    status.loadBalancer = { ingress: ips.length > 0 ? ips.map((ip) => ({ ip, ipMode: 'VIP' })) : null };
  if (cond === undefined) {
    if (currentCond !== undefined) status.conditions = [{ $patch: 'delete', type: allocatedCondition }];
  } else if (
    currentCond === undefined ||
    currentCond.status !== cond.status ||
    currentCond.reason !== cond.reason ||
    currentCond.message !== cond.message
  ) {
    const lastTransitionTime =
      currentCond !== undefined && currentCond.status === cond.status
        ? currentCond.lastTransitionTime
        : kubeTime(nowMs);
    status.conditions = [{ type: allocatedCondition, ...cond, lastTransitionTime }];
  }

  return {
    ...(Object.keys(status).length > 0 ? { status: { status } } : {}),
    ...(currentPool !== pool
      ? { metadata: { metadata: { annotations: { [annotations.allocatedFromPool]: pool ?? null } } } }
      : {}),
    events,
  };
}

/**
 * Whether status.loadBalancer.ingress already holds exactly these addresses. Order does not
 * count (MetalLB writes requested pairs in the order requested, new pairs IPv4 first; rewriting
 * one into the other would buy nothing), and neither does an absent ipMode: VIP is what
 * kube-proxy assumes without one, and what API servers since 1.30 fill in.
 */
function ingressAsDesired(svc: ServiceObject, ips: readonly string[]): boolean {
  const ingress = svc.status?.loadBalancer?.ingress ?? [];
  return (
    ingress.length === ips.length &&
    ingress.every(
      (e) =>
        e.ip !== undefined &&
        ips.includes(e.ip) &&
        (e.ipMode === undefined || e.ipMode === 'VIP') &&
        e.hostname === undefined,
    ) &&
    sameSet(ips, ingressIPs(svc))
  );
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

/**
 * ClearAssignment for the addresses a Service showed. Normal, as MetalLB's, when they were
 * valid addresses that no longer fit; Warning when the status held something that is not an
 * address at all (MetalLB controller/service.go: nolbIPsIPFamily is a Warning), since then
 * something other than the load balancer wrote it.
 */
function clearEvent(current: readonly string[], why: string): EventSpec {
  const bad = current.filter((ip) => tryParseIP(ip) === undefined);
  return bad.length > 0
    ? {
        type: 'Warning',
        reason: 'ClearAssignment',
        message: `status.loadBalancer.ingress held ${bad.map((ip) => JSON.stringify(ip)).join(', ')}, which is not an IP address; ${current.join(', ')} released: ${why}`,
      }
    : { type: 'Normal', reason: 'ClearAssignment', message: `${current.join(', ')} released: ${why}` };
}
