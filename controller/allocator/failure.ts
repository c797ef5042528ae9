// Why an allocation failed: a reason code for programs and one sentence for people. The
// sentence becomes the pending Service's condition message and the AllocationFailed Event.

import type { IPFamily, IPAddress } from '../../lib/ip/index.js';
import { familyName, formatIP } from '../../lib/ip/index.js';
import type { ServicePort } from './types.js';

export type SharingConflict = 'key-mismatch' | 'port-overlap' | 'backend-mismatch';

export type AllocationFailure =
  | { readonly reason: 'no-matching-pool'; readonly message: string }
  | {
      readonly reason: 'pool-exhausted';
      /** The most preferred pool that was full. */
      readonly pool: string;
      /** Every pool tried, in the order tried. */
      readonly pools: readonly string[];
      readonly message: string;
    }
  | { readonly reason: 'ip-not-in-any-pool'; readonly ip: string; readonly message: string }
  | {
      readonly reason: 'ip-not-in-requested-pool';
      readonly ip: string;
      readonly pool: string;
      readonly message: string;
    }
  | { readonly reason: 'ip-in-use'; readonly ip: string; readonly owner: string; readonly message: string }
  | {
      readonly reason: 'family-unavailable';
      readonly families: readonly IPFamily[];
      readonly message: string;
    }
  | { readonly reason: 'unknown-pool'; readonly pool: string; readonly message: string }
  | { readonly reason: 'pool-does-not-match-service'; readonly pool: string; readonly message: string }
  | {
      readonly reason: 'sharing-conflict';
      readonly conflict: SharingConflict;
      readonly ip: string;
      readonly owner: string;
      readonly message: string;
    }
  | { readonly reason: 'invalid-request'; readonly message: string };

export type AllocationReason = AllocationFailure['reason'];

const list = (names: readonly string[]): string => names.join(', ');

export const failures = {
  noMatchingPool(service: string): AllocationFailure {
    return {
      reason: 'no-matching-pool',
      message: `no IPAddressPool with autoAssign enabled accepts service ${service}`,
    };
  },

  poolExhausted(pools: readonly string[], families: readonly IPFamily[]): AllocationFailure {
    const what = families.map(familyName).join(' and ');
    const where = pools.length === 1 ? `IPAddressPool ${pools[0]} has` : `IPAddressPools ${list(pools)} have`;
    return {
      reason: 'pool-exhausted',
      pool: pools[0] ?? '',
      pools,
      message: `${where} no free ${what} address left`,
    };
  },

  ipNotInAnyPool(ip: IPAddress, avoidedBy?: string): AllocationFailure {
    const text = formatIP(ip);
    return {
      reason: 'ip-not-in-any-pool',
      ip: text,
      message:
        avoidedBy === undefined
          ? `${text} is not in any IPAddressPool`
          : `${text} is in IPAddressPool ${avoidedBy}, which skips addresses ending in .0 and .255 (avoidBuggyIPs)`,
    };
  },

  ipNotInRequestedPool(ip: IPAddress, pool: string): AllocationFailure {
    const text = formatIP(ip);
    return {
      reason: 'ip-not-in-requested-pool',
      ip: text,
      pool,
      message: `${text} is not in IPAddressPool ${pool}, which the address-pool annotation asks for`,
    };
  },

  ipInUse(ip: IPAddress, owner: string): AllocationFailure {
    const text = formatIP(ip);
    return {
      reason: 'ip-in-use',
      ip: text,
      owner,
      message: `${text} is already used by service ${owner} and one of them does not allow sharing (allow-shared-ip)`,
    };
  },

  /** `either`: PreferDualStack, where one family of the two would have done. */
  familyUnavailable(
    families: readonly IPFamily[],
    pools: readonly string[],
    either = false,
  ): AllocationFailure {
    const what =
      families.length < 2 ? familyName(families[0] ?? 4) : either ? 'IPv4 or IPv6' : 'both IPv4 and IPv6';
    const where = pools.length === 0 ? 'no IPAddressPool' : `none of the IPAddressPools ${list(pools)}`;
    return { reason: 'family-unavailable', families, message: `${where} offers ${what} addresses` };
  },

  unknownPool(pool: string): AllocationFailure {
    return {
      reason: 'unknown-pool',
      pool,
      message: `IPAddressPool ${pool}, asked for by the address-pool annotation, does not exist`,
    };
  },

  poolDoesNotMatch(pool: string, service: string): AllocationFailure {
    return {
      reason: 'pool-does-not-match-service',
      pool,
      message: `IPAddressPool ${pool} does not accept service ${service} (spec.serviceAllocation)`,
    };
  },

  sharingKeyMismatch(ip: IPAddress, owner: string, theirs: string, ours: string): AllocationFailure {
    const text = formatIP(ip);
    return {
      reason: 'sharing-conflict',
      conflict: 'key-mismatch',
      ip: text,
      owner,
      message: `${text} is shared by service ${owner} under sharing key ${JSON.stringify(theirs)}, not ${JSON.stringify(ours)}`,
    };
  },

  sharingPortOverlap(ip: IPAddress, owner: string, port: ServicePort): AllocationFailure {
    const text = formatIP(ip);
    return {
      reason: 'sharing-conflict',
      conflict: 'port-overlap',
      ip: text,
      owner,
      message: `${text} already serves ${port.protocol}/${port.port} for service ${owner}`,
    };
  },

  sharingBackendMismatch(ip: IPAddress, owner: string): AllocationFailure {
    const text = formatIP(ip);
    return {
      reason: 'sharing-conflict',
      conflict: 'backend-mismatch',
      ip: text,
      owner,
      message: `${text} is shared by service ${owner}, which sends traffic to other pods (externalTrafficPolicy Local needs the same selector)`,
    };
  },

  invalidRequest(message: string): AllocationFailure {
    return { reason: 'invalid-request', message };
  },
};
