// What the allocator needs to know of an IPAddressPool. It lives in lib/ because the config
// builder (shared by both programs) produces it and the controller's allocator consumes it.

import type { IPRange } from '../ip/index.js';
import type { LabelSelector } from '../kube/label-selector.js';

export interface ServiceAllocation {
  /** Lower is preferred. Unset or 0: tried after every prioritized pool (MetalLB). */
  readonly priority?: number;
  readonly namespaces?: readonly string[];
  readonly namespaceSelectors?: readonly LabelSelector[];
  readonly serviceSelectors?: readonly LabelSelector[];
}

export interface AllocatorPool {
  /** IPAddressPool metadata.name; unique. */
  readonly name: string;
  /** spec.addresses in listed order, each a CIDR or range turned into [first, last]. */
  readonly ranges: readonly IPRange[];
  readonly autoAssign: boolean;
  readonly avoidBuggyIPs: boolean;
  readonly serviceAllocation?: ServiceAllocation;
}
