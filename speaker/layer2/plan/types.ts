// The L2 planner's own input and output types. The speaker's edges map Services, Nodes and
// EndpointSlices to these; the planner knows nothing else of Kubernetes.

import type { Labels } from '../../../lib/kube/label-selector.js';
import type { IPAddress } from '../../../lib/ip/index.js';

/** The MetalLB annotation the controller writes with the pool an IP came from. */
export const poolAnnotation = 'metallb.io/ip-allocated-from-pool';
/** Nodes carrying this label (any value) never announce (Kubernetes well-known label). */
export const excludeLBLabel = 'node.kubernetes.io/exclude-from-external-load-balancers';

export interface L2Service {
  /** "namespace/name". */
  readonly key: string;
  /** status.loadBalancer.ingress[].ip, parsed; primary family first. */
  readonly ips: readonly IPAddress[];
  /** The metallb.io/ip-allocated-from-pool annotation; absent ⇒ the pool is found by containment. */
  readonly pool?: string;
  readonly labels: Labels;
  readonly externalTrafficPolicy: 'Cluster' | 'Local';
}

export interface L2Node {
  readonly name: string;
  readonly labels: Labels;
  /** condition NetworkUnavailable=True. */
  readonly networkUnavailable: boolean;
}

export interface PlannerInput {
  readonly services: readonly L2Service[];
  readonly nodes: readonly L2Node[];
  /**
   * Service key → nodes holding at least one endpoint that counts, as MetalLB counts it:
   * `serving=true`, or `serving` unset and `ready` unset or true. A Service missing from the
   * map has no such endpoint.
   */
  readonly servingNodes: ReadonlyMap<string, ReadonlySet<string>>;
}

/** Interfaces to answer on: the names listed by the applicable L2Advertisements, or all. */
export type InterfaceSet = 'all' | readonly string[];

export interface IPPlan {
  /** Canonical text of the IP (formatIP); the key of ownership and of claims. */
  readonly ip: string;
  readonly address: IPAddress;
  /** The Services announcing this IP (several when the IP is shared), sorted. */
  readonly services: readonly string[];
  /** Nodes allowed to own the IP, before liveness; sorted by name. */
  readonly eligible: readonly string[];
  /** Summed preferredNodeSelectors weights; only nodes with a weight > 0 appear. */
  readonly weights: ReadonlyMap<string, number>;
  /** Per eligible node, the interfaces it may answer on. */
  readonly interfaces: ReadonlyMap<string, InterfaceSet>;
}

export type NotAnnouncedReason =
  | { readonly kind: 'no-ip' }
  | { readonly kind: 'unknown-pool'; readonly ip: string; readonly pool: string }
  | { readonly kind: 'no-pool'; readonly ip: string }
  | { readonly kind: 'no-l2-advertisement'; readonly ip: string; readonly pool: string }
  | { readonly kind: 'no-endpoints' }
  | { readonly kind: 'no-eligible-node'; readonly ip: string }
  | { readonly kind: 'no-live-node'; readonly ip: string };

export interface L2Plan {
  /** One entry per announceable IP, sorted by IP. */
  readonly ips: readonly IPPlan[];
  /** Service key → why (some of) its IPs are not announced. Services announced in full are absent. */
  readonly notAnnounced: ReadonlyMap<string, readonly NotAnnouncedReason[]>;
}

/** One sentence for an Event or a status condition. */
export function reasonText(reason: NotAnnouncedReason): string {
  switch (reason.kind) {
    case 'no-ip':
      return 'the Service has no IP in status.loadBalancer.ingress';
    case 'unknown-pool':
      return `${reason.ip}: pool ${JSON.stringify(reason.pool)} does not exist`;
    case 'no-pool':
      return `${reason.ip}: no IPAddressPool contains this address`;
    case 'no-l2-advertisement':
      return `${reason.ip}: no L2Advertisement applies to pool ${JSON.stringify(reason.pool)} and this Service`;
    case 'no-endpoints':
      return 'the Service has no ready or serving endpoint';
    case 'no-eligible-node':
      return `${reason.ip}: no node is eligible (nodeSelectors, NetworkUnavailable, exclusion label, or no local endpoint for externalTrafficPolicy Local)`;
    case 'no-live-node':
      return `${reason.ip}: no eligible node has a live, healthy speaker`;
  }
}
