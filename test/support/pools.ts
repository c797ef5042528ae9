// One IPAddressPool as the validated config holds it, for unit tests of the allocator and the
// planners: the addresses as written and their ranges, MetalLB's defaults (autoAssign true,
// avoidBuggyIPs false), anything else from `options`.

import type { Pool } from '../../lib/config/types.js';
import { parseAddressSpec } from '../../lib/ip/index.js';

export function testPool(
  name: string,
  addresses: readonly string[],
  options: Partial<Omit<Pool, 'name' | 'ranges' | 'addresses'>> = {},
): Pool {
  return {
    name,
    ref: { kind: 'IPAddressPool', namespace: 'metallb-system', name },
    addresses,
    labels: {},
    ranges: addresses.map((a) => parseAddressSpec(a).range),
    autoAssign: true,
    avoidBuggyIPs: false,
    ...options,
  };
}
