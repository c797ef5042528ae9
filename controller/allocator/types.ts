// The allocator's own input and output types. The config builder maps IPAddressPool objects
// to AllocatorPool, and the service reconciler maps a Service (spec, annotations, its
// Namespace's labels) to ServiceRequest; the allocator knows nothing else of Kubernetes.

import type { IPAddress, IPFamily } from '../../lib/ip/index.js';
import type { Labels } from '../../lib/kube/label-selector.js';

export type { AllocatorPool, ServiceAllocation } from '../../lib/config/pool.js';

export type IPFamilyPolicy = 'SingleStack' | 'PreferDualStack' | 'RequireDualStack';

export type PortProtocol = 'TCP' | 'UDP' | 'SCTP';

export interface ServicePort {
  readonly protocol: PortProtocol;
  readonly port: number;
}

export interface ServiceRequest {
  /** "namespace/name". */
  readonly key: string;
  readonly namespace: string;
  /** The Service's own labels, for serviceSelectors. */
  readonly labels: Labels;
  /** The labels of the Service's Namespace, for namespaceSelectors. */
  readonly namespaceLabels: Labels;
  /** spec.ipFamilies: the primary family first; one or two entries. */
  readonly families: readonly IPFamily[];
  readonly familyPolicy: IPFamilyPolicy;
  /** spec.loadBalancerIP or the metallb.io/loadBalancerIPs annotation, parsed; may be empty. */
  readonly requestedIPs: readonly IPAddress[];
  /** The metallb.io/address-pool annotation. */
  readonly requestedPool?: string;
  /** The metallb.io/allow-shared-ip annotation; '' when absent (no sharing). */
  readonly sharingKey: string;
  readonly ports: readonly ServicePort[];
  /**
   * Services that share an IP must send traffic to the same endpoints: '' for
   * externalTrafficPolicy Cluster, a canonical form of spec.selector for Local.
   */
  readonly backendKey: string;
}

export interface Allocation {
  readonly pool: string;
  /** Primary family first. */
  readonly ips: readonly IPAddress[];
}

export interface FamilyUsage {
  /** Distinct addresses of this family held by services through this pool. */
  readonly assigned: number;
  /** Addresses of this family still free in the pool (2^64 and more for large IPv6 pools). */
  readonly available: bigint;
  readonly capacity: bigint;
}

export interface PoolUsage {
  readonly ipv4: FamilyUsage;
  readonly ipv6: FamilyUsage;
}

export interface SetPoolsResult {
  /** Services whose addresses left every pool; their allocation was released. Sorted. */
  readonly released: readonly string[];
  /** Services that kept their addresses, now counted in another pool. */
  readonly moved: readonly { readonly service: string; readonly from: string; readonly to: string }[];
  /**
   * Services that kept their addresses but whose pool no longer accepts them (its
   * serviceAllocation changed); the caller should run allocate() for them. Sorted.
   */
  readonly mismatched: readonly string[];
}
