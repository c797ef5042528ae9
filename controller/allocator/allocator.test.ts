import type { IPFamily } from '../../lib/ip/index.js';
import { formatIP, parseIP } from '../../lib/ip/index.js';
import type { AllocationResult } from './allocator.js';
import { Allocator } from './allocator.js';
import { testPool } from '../../test/support/pools.js';
import type { AllocationReason, SharingConflict } from './failure.js';
import type {
  AllocatorPool,
  IPFamilyPolicy,
  PortProtocol,
  ServiceAllocation,
  ServiceRequest,
} from './types.js';

// ---- fixtures ----

type PoolOptions = Partial<Omit<AllocatorPool, 'name' | 'ranges'>>;

const pinned = (serviceAllocation: ServiceAllocation, options: PoolOptions = {}): PoolOptions => ({
  serviceAllocation,
  ...options,
});

interface ServiceOptions {
  labels?: Record<string, string>;
  namespaceLabels?: Record<string, string>;
  families?: IPFamily[];
  policy?: IPFamilyPolicy;
  ips?: string[];
  pool?: string;
  share?: string;
  ports?: string[];
  backend?: string;
}

/** A request for "namespace/name"; ports written "TCP/80". */
function svc(key: string, o: ServiceOptions = {}): ServiceRequest {
  const [namespace = 'default'] = key.split('/');
  return {
    key,
    namespace,
    labels: o.labels ?? {},
    namespaceLabels: o.namespaceLabels ?? {},
    families: o.families ?? [4],
    familyPolicy: o.policy ?? 'SingleStack',
    requestedIPs: (o.ips ?? []).map(parseIP),
    ...(o.pool === undefined ? {} : { requestedPool: o.pool }),
    sharingKey: o.share ?? '',
    ports: (o.ports ?? ['TCP/80']).map((p) => {
      const [protocol, port] = p.split('/');
      return { protocol: protocol as PortProtocol, port: Number(port) };
    }),
    backendKey: o.backend ?? '',
  };
}

const ips = (r: AllocationResult): string[] => (r.ok ? r.allocation.ips.map(formatIP) : []);

function mustSucceed(r: AllocationResult): string[] {
  if (!r.ok) throw new Error(`expected success, got ${r.failure.reason}: ${r.failure.message}`);
  return ips(r);
}

interface Failure {
  reason: AllocationReason;
  pool?: string;
  owner?: string;
  conflict?: SharingConflict;
  message?: RegExp;
}

interface Row {
  name: string;
  pools: AllocatorPool[];
  /** Allocated first, in order; each must succeed. `assign` uses assign() with those IPs. */
  before?: { service: ServiceRequest; assign?: string[] }[];
  request: ServiceRequest;
  /** Use assign() with these addresses instead of allocate(). */
  assign?: string[];
  want: { ips: string[]; pool?: string } | Failure;
}

// ---- pools used by many rows ----

const seed002 = testPool('first-pool', ['192.168.10.200-192.168.10.250']);
const dual = testPool('dual', ['10.0.0.0/30', 'fc00::/126']);
const v4only = testPool('v4only', ['10.1.0.0/30']);
const v6only = testPool('v6only', ['fd00::/126']);

const rows: Row[] = [
  // MetalLB's layer 2 example: a range pool, one requested IP and one automatic one.
  {
    name: 'gives a requested IP exactly (the layer 2 example, loadBalancerIP 192.168.10.222)',
    pools: [seed002],
    request: svc('default/myapp', { ips: ['192.168.10.222'] }),
    want: { ips: ['192.168.10.222'], pool: 'first-pool' },
  },
  {
    name: 'gives the lowest address of the range without a request (the layer 2 example)',
    pools: [seed002],
    request: svc('default/myapp'),
    want: { ips: ['192.168.10.200'], pool: 'first-pool' },
  },
  {
    name: 'gives the next lowest free address to a second service',
    pools: [seed002],
    before: [{ service: svc('default/a') }],
    request: svc('default/b'),
    want: { ips: ['192.168.10.201'] },
  },
  {
    name: 'skips a requested address held elsewhere when allocating automatically',
    pools: [seed002],
    before: [{ service: svc('default/a', { ips: ['192.168.10.200'] }) }],
    request: svc('default/b'),
    want: { ips: ['192.168.10.201'] },
  },
  {
    name: 'refuses a requested address another service holds, naming it',
    pools: [seed002],
    before: [{ service: svc('default/a', { ips: ['192.168.10.222'] }) }],
    request: svc('default/b', { ips: ['192.168.10.222'] }),
    want: {
      reason: 'ip-in-use',
      owner: 'default/a',
      message: /192\.168\.10\.222 is already used by service default\/a/,
    },
  },
  {
    name: 'refuses a requested address outside every pool',
    pools: [seed002],
    request: svc('default/a', { ips: ['192.168.10.199'] }),
    want: { reason: 'ip-not-in-any-pool', message: /^192\.168\.10\.199 is not in any IPAddressPool$/ },
  },
  {
    name: 'reports an exhausted pool by name',
    pools: [testPool('tiny', ['10.0.0.1-10.0.0.2'])],
    before: [{ service: svc('default/a') }, { service: svc('default/b') }],
    request: svc('default/c'),
    want: {
      reason: 'pool-exhausted',
      pool: 'tiny',
      message: /^IPAddressPool tiny has no free IPv4 address left$/,
    },
  },
  {
    name: 'takes ranges in listed order, not address order',
    pools: [testPool('p', ['10.0.0.100-10.0.0.101', '10.0.0.1-10.0.0.5'])],
    request: svc('default/a'),
    want: { ips: ['10.0.0.100'] },
  },
  {
    name: 'moves on to the next listed range when the first is full',
    pools: [testPool('p', ['10.0.0.100/32', '10.0.0.1-10.0.0.5'])],
    before: [{ service: svc('default/a') }],
    request: svc('default/b'),
    want: { ips: ['10.0.0.1'] },
  },

  // avoidBuggyIPs
  {
    name: 'hands out .0 of a /24 when avoidBuggyIPs is off',
    pools: [testPool('p', ['10.0.0.0/24'])],
    request: svc('default/a'),
    want: { ips: ['10.0.0.0'] },
  },
  {
    name: 'skips .0 of a /24 when avoidBuggyIPs is on',
    pools: [testPool('p', ['10.0.0.0/24'], { avoidBuggyIPs: true })],
    request: svc('default/a'),
    want: { ips: ['10.0.0.1'] },
  },
  {
    name: 'skips .255 and .0 across a /24 boundary when avoidBuggyIPs is on',
    pools: [testPool('p', ['10.0.0.254-10.0.1.2'], { avoidBuggyIPs: true })],
    before: [{ service: svc('default/a') }],
    request: svc('default/b'),
    want: { ips: ['10.0.1.1'] },
  },
  {
    name: 'refuses a requested .0 in an avoidBuggyIPs pool and says why',
    pools: [testPool('p', ['10.0.0.0/24'], { avoidBuggyIPs: true })],
    request: svc('default/a', { ips: ['10.0.0.0'] }),
    want: {
      reason: 'ip-not-in-any-pool',
      message: /in IPAddressPool p, which skips addresses ending in \.0 and \.255/,
    },
  },
  {
    name: 'treats a range of only .255 and .0 as empty with avoidBuggyIPs',
    pools: [testPool('p', ['10.0.0.255-10.0.1.0'], { avoidBuggyIPs: true })],
    request: svc('default/a'),
    want: { reason: 'family-unavailable' },
  },

  // autoAssign
  {
    name: 'never picks an autoAssign=false pool on its own',
    pools: [testPool('manual', ['10.0.0.0/24'], { autoAssign: false })],
    request: svc('default/a'),
    want: {
      reason: 'no-matching-pool',
      message: /no IPAddressPool with autoAssign enabled accepts service default\/a/,
    },
  },
  {
    name: 'uses an autoAssign=false pool through the address-pool annotation',
    pools: [testPool('manual', ['10.0.0.0/24'], { autoAssign: false })],
    request: svc('default/a', { pool: 'manual' }),
    want: { ips: ['10.0.0.0'], pool: 'manual' },
  },
  {
    name: 'uses an autoAssign=false pool for an explicitly requested address',
    pools: [testPool('manual', ['10.0.0.0/24'], { autoAssign: false })],
    request: svc('default/a', { ips: ['10.0.0.7'] }),
    want: { ips: ['10.0.0.7'], pool: 'manual' },
  },
  {
    name: 'passes over an autoAssign=false pool for an automatic one',
    pools: [
      testPool('a-manual', ['10.0.0.0/24'], { autoAssign: false }),
      testPool('b-auto', ['10.9.0.0/24']),
    ],
    request: svc('default/a'),
    want: { ips: ['10.9.0.0'], pool: 'b-auto' },
  },

  // address-pool annotation
  {
    name: 'reports an unknown requested pool',
    pools: [seed002],
    request: svc('default/a', { pool: 'nope' }),
    want: {
      reason: 'unknown-pool',
      pool: 'nope',
      message: /IPAddressPool nope, asked for by the address-pool annotation, does not exist/,
    },
  },
  {
    name: 'refuses a requested address outside the requested pool',
    pools: [seed002, testPool('other', ['10.0.0.0/24'])],
    request: svc('default/a', { pool: 'other', ips: ['192.168.10.222'] }),
    want: { reason: 'ip-not-in-requested-pool', pool: 'other' },
  },
  {
    name: 'accepts a requested address inside the requested pool',
    pools: [seed002, testPool('other', ['10.0.0.0/24'])],
    request: svc('default/a', { pool: 'other', ips: ['10.0.0.9'] }),
    want: { ips: ['10.0.0.9'], pool: 'other' },
  },
  {
    name: 'refuses a requested pool whose serviceAllocation excludes the service',
    pools: [testPool('team-a', ['10.0.0.0/24'], pinned({ namespaces: ['team-a'] }))],
    request: svc('team-b/web', { pool: 'team-a' }),
    want: { reason: 'pool-does-not-match-service', pool: 'team-a' },
  },

  // priority
  {
    name: 'prefers the lower priority number',
    pools: [
      testPool('p10', ['10.10.0.0/24'], pinned({ priority: 10 })),
      testPool('p5', ['10.5.0.0/24'], pinned({ priority: 5 })),
    ],
    request: svc('default/a'),
    want: { ips: ['10.5.0.0'], pool: 'p5' },
  },
  {
    name: 'tries prioritized pools before pools without a priority',
    pools: [
      testPool('a-unset', ['10.1.0.0/24'], pinned({})),
      testPool('z-prio', ['10.2.0.0/24'], pinned({ priority: 50 })),
    ],
    request: svc('default/a'),
    want: { pool: 'z-prio', ips: ['10.2.0.0'] },
  },
  {
    name: 'breaks a priority tie by pool name, never at random',
    pools: [
      testPool('beta', ['10.2.0.0/24'], pinned({ priority: 1 })),
      testPool('alpha', ['10.1.0.0/24'], pinned({ priority: 1 })),
    ],
    request: svc('default/a'),
    want: { pool: 'alpha', ips: ['10.1.0.0'] },
  },
  {
    name: 'orders pools without serviceAllocation by name',
    pools: [testPool('b-pool', ['10.2.0.0/24']), testPool('a-pool', ['10.1.0.0/24'])],
    request: svc('default/a'),
    want: { pool: 'a-pool', ips: ['10.1.0.0'] },
  },
  {
    name: 'prefers a matching serviceAllocation pool over a plain pool',
    pools: [
      testPool('a-plain', ['10.1.0.0/24']),
      testPool('z-pinned', ['10.2.0.0/24'], pinned({ namespaces: ['default'] })),
    ],
    request: svc('default/a'),
    want: { pool: 'z-pinned', ips: ['10.2.0.0'] },
  },
  {
    name: 'falls back to plain pools when every pinned pool is full',
    pools: [testPool('pinned', ['10.2.0.1/32'], pinned({ priority: 1 })), testPool('plain', ['10.1.0.0/24'])],
    before: [{ service: svc('default/a') }],
    request: svc('default/b'),
    want: { pool: 'plain', ips: ['10.1.0.0'] },
  },
  {
    name: 'leaves a pinned autoAssign=false pool out of automatic allocation',
    pools: [
      testPool('pinned', ['10.2.0.0/24'], pinned({ priority: 1 }, { autoAssign: false })),
      testPool('plain', ['10.1.0.0/24']),
    ],
    request: svc('default/a'),
    want: { pool: 'plain', ips: ['10.1.0.0'] },
  },

  // namespaces and selectors
  {
    name: 'gives a listed namespace its pool',
    pools: [
      testPool('plain', ['10.1.0.0/24']),
      testPool('team', ['10.2.0.0/24'], pinned({ namespaces: ['team-a'] })),
    ],
    request: svc('team-a/web'),
    want: { pool: 'team', ips: ['10.2.0.0'] },
  },
  {
    name: 'keeps an unlisted namespace out of a namespace pool',
    pools: [
      testPool('plain', ['10.1.0.0/24']),
      testPool('team', ['10.2.0.0/24'], pinned({ namespaces: ['team-a'] })),
    ],
    request: svc('team-b/web'),
    want: { pool: 'plain', ips: ['10.1.0.0'] },
  },
  {
    name: 'matches a namespace by namespaceSelectors on its labels',
    pools: [
      testPool('plain', ['10.1.0.0/24']),
      testPool('prod', ['10.2.0.0/24'], pinned({ namespaceSelectors: [{ matchLabels: { env: 'prod' } }] })),
    ],
    request: svc('shop/web', { namespaceLabels: { env: 'prod' } }),
    want: { pool: 'prod', ips: ['10.2.0.0'] },
  },
  {
    name: 'does not match a namespace whose labels miss the namespaceSelector',
    pools: [
      testPool('plain', ['10.1.0.0/24']),
      testPool('prod', ['10.2.0.0/24'], pinned({ namespaceSelectors: [{ matchLabels: { env: 'prod' } }] })),
    ],
    request: svc('shop/web', { namespaceLabels: { env: 'dev' } }),
    want: { pool: 'plain', ips: ['10.1.0.0'] },
  },
  {
    name: 'matches a service by serviceSelectors (matchExpressions In)',
    pools: [
      testPool('plain', ['10.1.0.0/24']),
      testPool(
        'edge',
        ['10.2.0.0/24'],
        pinned({
          serviceSelectors: [
            { matchExpressions: [{ key: 'tier', operator: 'In', values: ['edge', 'dmz'] }] },
          ],
        }),
      ),
    ],
    request: svc('default/web', { labels: { tier: 'dmz' } }),
    want: { pool: 'edge', ips: ['10.2.0.0'] },
  },
  {
    name: 'needs both the namespace and the service selector to match',
    pools: [
      testPool(
        'strict',
        ['10.2.0.0/24'],
        pinned({ namespaces: ['shop'], serviceSelectors: [{ matchLabels: { tier: 'edge' } }] }),
      ),
    ],
    request: svc('other/web', { labels: { tier: 'edge' } }),
    want: { reason: 'no-matching-pool' },
  },
  {
    name: 'refuses a requested address in a pool that excludes the service',
    pools: [testPool('team', ['10.2.0.0/24'], pinned({ namespaces: ['team-a'] }))],
    request: svc('team-b/web', { ips: ['10.2.0.5'] }),
    want: {
      reason: 'pool-does-not-match-service',
      pool: 'team',
      message: /does not accept service team-b\/web/,
    },
  },
  {
    name: 'keeps namespaceSelectors restrictive even when they match no namespace (unlike MetalLB)',
    pools: [
      testPool(
        'prod',
        ['10.2.0.0/24'],
        pinned({ namespaceSelectors: [{ matchLabels: { env: 'nowhere' } }] }),
      ),
    ],
    request: svc('shop/web'),
    want: { reason: 'no-matching-pool' },
  },

  // sharing
  {
    name: 'shares a requested address between services with the same key and other ports',
    pools: [seed002],
    before: [
      { service: svc('default/dns-tcp', { ips: ['192.168.10.222'], share: 'dns', ports: ['TCP/53'] }) },
    ],
    request: svc('default/dns-udp', { ips: ['192.168.10.222'], share: 'dns', ports: ['UDP/53'] }),
    want: { ips: ['192.168.10.222'] },
  },
  {
    name: 'packs a sharing service onto the address its key already uses',
    pools: [seed002],
    before: [{ service: svc('default/a', { ips: ['192.168.10.210'], share: 'k', ports: ['TCP/80'] }) }],
    request: svc('default/b', { share: 'k', ports: ['TCP/443'] }),
    want: { ips: ['192.168.10.210'] },
  },
  {
    name: 'packs onto an address already shared by two services',
    pools: [seed002],
    before: [
      { service: svc('default/a', { share: 'k', ports: ['TCP/80'] }) },
      { service: svc('default/b', { share: 'k', ports: ['TCP/443'] }) },
    ],
    request: svc('default/c', { share: 'k', ports: ['TCP/8080'] }),
    want: { ips: ['192.168.10.200'] },
  },
  {
    name: 'packs onto the lowest compatible shared address',
    pools: [seed002],
    before: [
      { service: svc('default/a', { ips: ['192.168.10.230'], share: 'k', ports: ['TCP/80'] }) },
      { service: svc('default/b', { ips: ['192.168.10.220'], share: 'k', ports: ['TCP/80'] }) },
    ],
    request: svc('default/c', { share: 'k', ports: ['TCP/443'] }),
    want: { ips: ['192.168.10.220'] },
  },
  {
    name: 'refuses a shared address when a (protocol, port) overlaps',
    pools: [seed002],
    before: [{ service: svc('default/a', { ips: ['192.168.10.222'], share: 'k', ports: ['TCP/80'] }) }],
    request: svc('default/b', { ips: ['192.168.10.222'], share: 'k', ports: ['TCP/80'] }),
    want: {
      reason: 'sharing-conflict',
      conflict: 'port-overlap',
      owner: 'default/a',
      message: /already serves TCP\/80 for service default\/a/,
    },
  },
  {
    name: 'allocates a fresh address when every shared one has the port taken',
    pools: [seed002],
    before: [{ service: svc('default/a', { share: 'k', ports: ['TCP/80'] }) }],
    request: svc('default/b', { share: 'k', ports: ['TCP/80'] }),
    want: { ips: ['192.168.10.201'] },
  },
  {
    name: 'refuses a shared address under a different sharing key',
    pools: [seed002],
    before: [{ service: svc('default/a', { ips: ['192.168.10.222'], share: 'k1', ports: ['TCP/80'] }) }],
    request: svc('default/b', { ips: ['192.168.10.222'], share: 'k2', ports: ['TCP/443'] }),
    want: {
      reason: 'sharing-conflict',
      conflict: 'key-mismatch',
      owner: 'default/a',
      message: /under sharing key "k1", not "k2"/,
    },
  },
  {
    name: 'refuses sharing between Local services with different selectors',
    pools: [seed002],
    before: [{ service: svc('default/a', { ips: ['192.168.10.222'], share: 'k', backend: 'app=a' }) }],
    request: svc('default/b', { ips: ['192.168.10.222'], share: 'k', ports: ['TCP/443'], backend: 'app=b' }),
    want: { reason: 'sharing-conflict', conflict: 'backend-mismatch', owner: 'default/a' },
  },
  {
    name: 'refuses sharing when the holder has no sharing key',
    pools: [seed002],
    before: [{ service: svc('default/a', { ips: ['192.168.10.222'] }) }],
    request: svc('default/b', { ips: ['192.168.10.222'], share: 'k', ports: ['TCP/443'] }),
    want: { reason: 'ip-in-use', owner: 'default/a' },
  },
  {
    name: 'shares the same port number over different protocols',
    pools: [seed002],
    before: [{ service: svc('default/a', { share: 'k', ports: ['TCP/53'] }) }],
    request: svc('default/b', { share: 'k', ports: ['UDP/53'] }),
    want: { ips: ['192.168.10.200'] },
  },
  {
    name: 'does not pack a sharing service into a pool that excludes it',
    pools: [
      testPool('a-team', ['10.1.0.0/24'], pinned({ namespaces: ['team'] })),
      testPool('b-plain', ['10.2.0.0/24']),
    ],
    before: [{ service: svc('team/a', { share: 'k', ports: ['TCP/80'] }) }],
    request: svc('default/b', { share: 'k', ports: ['TCP/443'] }),
    want: { pool: 'b-plain', ips: ['10.2.0.0'] },
  },

  // dual-stack
  {
    name: 'takes both families from one pool for RequireDualStack',
    pools: [dual],
    request: svc('default/a', { families: [4, 6], policy: 'RequireDualStack' }),
    want: { ips: ['10.0.0.0', 'fc00::'], pool: 'dual' },
  },
  {
    name: 'writes a new pair IPv4 first even when IPv6 is primary, as MetalLB does',
    pools: [dual],
    request: svc('default/a', { families: [6, 4], policy: 'RequireDualStack' }),
    want: { ips: ['10.0.0.0', 'fc00::'] },
  },
  {
    name: 'refuses RequireDualStack when no single pool has both families',
    pools: [v4only, v6only],
    request: svc('default/a', { families: [4, 6], policy: 'RequireDualStack' }),
    want: { reason: 'family-unavailable', message: /offers both IPv4 and IPv6 addresses/ },
  },
  {
    name: 'finds the dual-stack pool behind single-family pools for RequireDualStack',
    pools: [
      testPool('a-v4', ['10.1.0.0/30']),
      testPool('b-v6', ['fd00::/126']),
      testPool('c-dual', ['10.3.0.0/30', 'fc03::/126']),
    ],
    request: svc('default/a', { families: [4, 6], policy: 'RequireDualStack' }),
    want: { pool: 'c-dual', ips: ['10.3.0.0', 'fc03::'] },
  },
  {
    name: 'reports RequireDualStack as exhausted when the dual pool lacks one family',
    pools: [testPool('d', ['10.0.0.1/32', 'fc00::/126'])],
    before: [{ service: svc('default/x') }],
    request: svc('default/a', { families: [4, 6], policy: 'RequireDualStack' }),
    want: { reason: 'pool-exhausted', pool: 'd' },
  },
  {
    name: 'takes both families for PreferDualStack when a pool has them',
    pools: [testPool('a-v4', ['10.1.0.0/30']), testPool('b-dual', ['10.3.0.0/30', 'fc03::/126'])],
    request: svc('default/a', { families: [4, 6], policy: 'PreferDualStack' }),
    want: { pool: 'b-dual', ips: ['10.3.0.0', 'fc03::'] },
  },
  {
    name: 'settles for the primary family under PreferDualStack',
    pools: [v4only, v6only],
    request: svc('default/a', { families: [4, 6], policy: 'PreferDualStack' }),
    want: { pool: 'v4only', ips: ['10.1.0.0'] },
  },
  {
    name: 'settles for the secondary family under PreferDualStack when no pool has the primary',
    pools: [v6only],
    request: svc('default/a', { families: [4, 6], policy: 'PreferDualStack' }),
    want: { ips: ['fd00::'] },
  },
  {
    name: 'refuses PreferDualStack when the pools offer neither family',
    pools: [testPool('empty', ['10.0.0.255-10.0.1.0'], { avoidBuggyIPs: true })],
    request: svc('default/a', { families: [4, 6], policy: 'PreferDualStack' }),
    want: {
      reason: 'family-unavailable',
      message: /^none of the IPAddressPools empty offers IPv4 or IPv6 addresses$/,
    },
  },
  {
    name: 'gives an IPv6 single-stack service an IPv6 address from a dual pool',
    pools: [dual],
    request: svc('default/a', { families: [6] }),
    want: { ips: ['fc00::'] },
  },
  {
    name: 'refuses an IPv4 single-stack service when pools only have IPv6',
    pools: [v6only],
    request: svc('default/a', { families: [4] }),
    want: {
      reason: 'family-unavailable',
      message: /^none of the IPAddressPools v6only offers IPv4 addresses$/,
    },
  },
  {
    name: 'refuses a requested IPv6 address for an IPv4 single-stack service',
    pools: [dual],
    request: svc('default/a', { families: [4], ips: ['fc00::1'] }),
    want: {
      reason: 'invalid-request',
      message: /asks for fc00::1 \(IPv6\) but its cluster IPs are IPv4 \(spec.ipFamilies\)/,
    },
  },
  {
    name: 'refuses one requested address for a dual-stack PreferDualStack service, as MetalLB does',
    pools: [dual],
    request: svc('default/a', { families: [4, 6], policy: 'PreferDualStack', ips: ['10.0.0.7'] }),
    want: {
      reason: 'invalid-request',
      message:
        /service default\/a asks for 10.0.0.7 \(IPv4\) but its cluster IPs are IPv4 and IPv6 \(spec.ipFamilies\); request one address per family/,
    },
  },
  {
    name: 'gives a dual-stack PreferDualStack service the two addresses it requests',
    pools: [dual],
    request: svc('default/a', { families: [4, 6], policy: 'PreferDualStack', ips: ['10.0.0.2', 'fc00::2'] }),
    want: { ips: ['10.0.0.2', 'fc00::2'] },
  },
  {
    name: 'refuses two requested addresses for a single-stack service',
    pools: [dual],
    request: svc('default/a', { families: [4], ips: ['10.0.0.7', 'fc00::7'] }),
    want: { reason: 'invalid-request', message: /but its cluster IPs are IPv4 \(spec.ipFamilies\)/ },
  },
  {
    name: 'gives two requested addresses, one per family, for RequireDualStack, in the order requested',
    pools: [dual],
    request: svc('default/a', { families: [4, 6], policy: 'RequireDualStack', ips: ['fc00::2', '10.0.0.2'] }),
    want: { ips: ['fc00::2', '10.0.0.2'] },
  },
  {
    name: 'refuses a single requested address for RequireDualStack',
    pools: [dual],
    request: svc('default/a', { families: [4, 6], policy: 'RequireDualStack', ips: ['10.0.0.2'] }),
    want: { reason: 'invalid-request' },
  },
  {
    name: 'refuses two requested addresses of one family',
    pools: [dual],
    request: svc('default/a', {
      families: [4, 6],
      policy: 'RequireDualStack',
      ips: ['10.0.0.1', '10.0.0.2'],
    }),
    want: { reason: 'invalid-request', message: /two IPv4 addresses/ },
  },
  {
    name: 'refuses dual-stack addresses from two different pools',
    pools: [v4only, v6only],
    request: svc('default/a', { families: [4, 6], policy: 'RequireDualStack', ips: ['10.1.0.1', 'fd00::1'] }),
    want: { reason: 'invalid-request', message: /different IPAddressPools/ },
  },

  // large IPv6 pools
  {
    name: 'allocates from a /64 without enumerating it',
    pools: [testPool('big', ['2001:db8:1::/64'])],
    request: svc('default/a', { families: [6] }),
    want: { ips: ['2001:db8:1::'] },
  },
  {
    name: 'gives the last address of a /64 on request',
    pools: [testPool('big', ['2001:db8:1::/64'])],
    request: svc('default/a', { families: [6], ips: ['2001:db8:1:0:ffff:ffff:ffff:ffff'] }),
    want: { ips: ['2001:db8:1:0:ffff:ffff:ffff:ffff'] },
  },

  // assign()
  {
    name: 'assigns an existing address in an autoAssign=false pool',
    pools: [testPool('manual', ['10.0.0.0/24'], { autoAssign: false })],
    request: svc('default/a'),
    assign: ['10.0.0.42'],
    want: { ips: ['10.0.0.42'], pool: 'manual' },
  },
  {
    name: 'refuses to assign an address whose pool excludes the service',
    pools: [testPool('team', ['10.2.0.0/24'], pinned({ namespaces: ['team-a'] }))],
    request: svc('team-b/web'),
    assign: ['10.2.0.1'],
    want: { reason: 'pool-does-not-match-service', pool: 'team' },
  },
  {
    name: 'refuses to assign an address held without sharing',
    pools: [seed002],
    before: [{ service: svc('default/a'), assign: ['192.168.10.240'] }],
    request: svc('default/b'),
    assign: ['192.168.10.240'],
    want: { reason: 'ip-in-use', owner: 'default/a' },
  },
];

describe('Allocator (table)', () => {
  it.each(rows.map((r) => [r.name, r] as const))('%s', (_name, row) => {
    const allocator = new Allocator(row.pools);
    for (const step of row.before ?? []) {
      mustSucceed(
        step.assign === undefined
          ? allocator.allocate(step.service)
          : allocator.assign(step.service, step.assign.map(parseIP)),
      );
    }
    const result =
      row.assign === undefined
        ? allocator.allocate(row.request)
        : allocator.assign(row.request, row.assign.map(parseIP));
    const want = row.want;
    if ('ips' in want) {
      expect(mustSucceed(result)).toEqual(want.ips);
      if (want.pool !== undefined) expect(result.ok && result.allocation.pool).toBe(want.pool);
      expect(allocator.allocationOf(row.request.key)?.ips.map(formatIP)).toEqual(want.ips);
      return;
    }
    if (result.ok) throw new Error(`expected ${want.reason}, got ${ips(result).join(', ')}`);
    const f = result.failure;
    expect(f.reason).toBe(want.reason);
    if (want.pool !== undefined) expect('pool' in f && f.pool).toBe(want.pool);
    if (want.owner !== undefined) expect('owner' in f && f.owner).toBe(want.owner);
    if (want.conflict !== undefined) expect('conflict' in f && f.conflict).toBe(want.conflict);
    if (want.message !== undefined) expect(f.message).toMatch(want.message);
    expect(f.message).not.toMatch(/\n/);
  });

  it('has enough rows to cover every rule', () => expect(rows.length).toBeGreaterThanOrEqual(40));
});

describe('Allocator (sequences)', () => {
  it('reuses a released address', () => {
    const a = new Allocator([seed002]);
    expect(ips(a.allocate(svc('default/a')))).toEqual(['192.168.10.200']);
    expect(ips(a.allocate(svc('default/b')))).toEqual(['192.168.10.201']);
    expect(a.release('default/a')).toBe(true);
    expect(a.release('default/a')).toBe(false);
    expect(a.ownerOf(parseIP('192.168.10.200'))).toBeUndefined();
    expect(ips(a.allocate(svc('default/c')))).toEqual(['192.168.10.200']);
    expect(ips(a.allocate(svc('default/d')))).toEqual(['192.168.10.202']);
  });

  it('keeps the same address when the same request comes again', () => {
    const a = new Allocator([seed002]);
    a.allocate(svc('default/x'));
    expect(ips(a.allocate(svc('default/a')))).toEqual(['192.168.10.201']);
    a.release('default/x');
    expect(ips(a.allocate(svc('default/a')))).toEqual(['192.168.10.201']);
  });

  it('keeps the address when ports change and reallocates when the requested address changes', () => {
    const a = new Allocator([seed002]);
    expect(ips(a.allocate(svc('default/a', { ports: ['TCP/80'] })))).toEqual(['192.168.10.200']);
    expect(ips(a.allocate(svc('default/a', { ports: ['TCP/443'] })))).toEqual(['192.168.10.200']);
    expect(ips(a.allocate(svc('default/a', { ips: ['192.168.10.240'] })))).toEqual(['192.168.10.240']);
    expect(a.ownerOf(parseIP('192.168.10.200'))).toBeUndefined();
  });

  it('moves a service to the pool its address-pool annotation names', () => {
    const a = new Allocator([testPool('a', ['10.1.0.0/24']), testPool('b', ['10.2.0.0/24'])]);
    expect(ips(a.allocate(svc('default/x')))).toEqual(['10.1.0.0']);
    expect(ips(a.allocate(svc('default/x', { pool: 'b' })))).toEqual(['10.2.0.0']);
    expect(a.usage('a')?.ipv4.assigned).toBe(0);
  });

  it('lets a sole owner change its sharing key in place', () => {
    const a = new Allocator([seed002]);
    expect(ips(a.allocate(svc('default/a', { share: 'old' })))).toEqual(['192.168.10.200']);
    expect(ips(a.allocate(svc('default/a', { share: 'new' })))).toEqual(['192.168.10.200']);
    expect(ips(a.allocate(svc('default/b', { share: 'new', ports: ['TCP/443'] })))).toEqual([
      '192.168.10.200',
    ]);
    // Now shared: a key change would leave b behind, so a moves to a fresh address.
    expect(ips(a.allocate(svc('default/a', { share: 'newer' })))).toEqual(['192.168.10.201']);
    expect(a.ownerOf(parseIP('192.168.10.200'))?.services).toEqual(['default/b']);
  });

  it('names every service on a shared address', () => {
    const a = new Allocator([seed002]);
    a.allocate(svc('ns/z', { share: 'k', ports: ['TCP/1'] }));
    a.allocate(svc('ns/a', { share: 'k', ports: ['TCP/2'] }));
    expect(a.ownerOf(parseIP('192.168.10.200'))).toEqual({ pool: 'first-pool', services: ['ns/a', 'ns/z'] });
    expect(a.usage('first-pool')?.ipv4).toEqual({ assigned: 1, available: 50n, capacity: 51n });
  });

  it('keeps a PreferDualStack service single and adds the missing family when its pool gains it', () => {
    const a = new Allocator([testPool('p', ['10.0.0.0/30'])]);
    const s = svc('default/a', { families: [4, 6], policy: 'PreferDualStack' });
    expect(ips(a.allocate(s))).toEqual(['10.0.0.0']);
    a.setPools([testPool('p', ['10.0.0.0/30', 'fc00::/126'])]);
    expect(ips(a.allocate(s))).toEqual(['10.0.0.0', 'fc00::']);
  });

  it('rebuilds the same state after a restart whatever the order of assign calls', () => {
    const pools = [seed002, dual];
    const first = new Allocator(pools);
    const services = [
      svc('default/a'),
      svc('default/b', { share: 'k', ports: ['TCP/1'] }),
      svc('default/c', { share: 'k', ports: ['TCP/2'] }),
      svc('default/d', { families: [6, 4], policy: 'RequireDualStack' }),
    ];
    for (const s of services) mustSucceed(first.allocate(s));
    const restarted = new Allocator(pools);
    for (const s of [...services].reverse()) {
      mustSucceed(restarted.assign(s, first.allocationOf(s.key)!.ips));
    }
    for (const s of services) mustSucceed(restarted.allocate(s));
    expect(restarted.allocations()).toEqual(first.allocations());
    expect(restarted.usage('first-pool')).toEqual(first.usage('first-pool'));
    expect(restarted.usage('dual')).toEqual(first.usage('dual'));
  });

  it('keeps the old allocation when assign() is refused', () => {
    const a = new Allocator([seed002]);
    a.allocate(svc('default/a'));
    a.allocate(svc('default/b'));
    const r = a.assign(svc('default/b'), [parseIP('192.168.10.200')]);
    expect(r.ok).toBe(false);
    expect(a.allocationOf('default/b')?.ips.map(formatIP)).toEqual(['192.168.10.201']);
  });
});

describe('Allocator.setPools', () => {
  it('keeps allocations still inside the shrunk pool and releases the others', () => {
    const a = new Allocator([seed002]);
    a.allocate(svc('default/low', { ips: ['192.168.10.205'] }));
    a.allocate(svc('default/high', { ips: ['192.168.10.245'] }));
    const result = a.setPools([testPool('first-pool', ['192.168.10.200-192.168.10.220'])]);
    expect(result).toEqual({ released: ['default/high'], moved: [], mismatched: [] });
    expect(a.allocationOf('default/low')?.ips.map(formatIP)).toEqual(['192.168.10.205']);
    expect(a.allocationOf('default/high')).toBeUndefined();
    expect(a.usage('first-pool')?.ipv4).toEqual({ assigned: 1, available: 20n, capacity: 21n });
  });

  it('keeps the same address when it moves to another pool', () => {
    const a = new Allocator([testPool('whole', ['10.0.0.0/24'])]);
    a.allocate(svc('default/x', { ips: ['10.0.0.130'] }));
    const result = a.setPools([testPool('whole', ['10.0.0.0/25']), testPool('upper', ['10.0.0.128/25'])]);
    expect(result.moved).toEqual([{ service: 'default/x', from: 'whole', to: 'upper' }]);
    expect(result.released).toEqual([]);
    expect(a.allocationOf('default/x')).toEqual({ pool: 'upper', ips: [parseIP('10.0.0.130')] });
    expect(a.usage('upper')?.ipv4.assigned).toBe(1);
    expect(a.usage('whole')?.ipv4.assigned).toBe(0);
    expect(ips(a.allocate(svc('default/x', { ips: ['10.0.0.130'] })))).toEqual(['10.0.0.130']);
  });

  it('releases everything when every pool is removed', () => {
    const a = new Allocator([seed002]);
    a.allocate(svc('default/a'));
    a.allocate(svc('default/b'));
    expect(a.setPools([]).released).toEqual(['default/a', 'default/b']);
    expect(a.serviceCount).toBe(0);
    expect(a.allocate(svc('default/a')).ok).toBe(false);
  });

  it('releases a .0 holder when avoidBuggyIPs is turned on', () => {
    const a = new Allocator([testPool('p', ['10.0.0.0/24'])]);
    a.allocate(svc('default/zero'));
    a.allocate(svc('default/one'));
    expect(a.setPools([testPool('p', ['10.0.0.0/24'], { avoidBuggyIPs: true })]).released).toEqual([
      'default/zero',
    ]);
    expect(ips(a.allocate(svc('default/two')))).toEqual(['10.0.0.2']);
  });

  it('reports services whose pool no longer accepts them but keeps their address', () => {
    const a = new Allocator([testPool('p', ['10.0.0.0/24'])]);
    a.allocate(svc('team-b/web'));
    const result = a.setPools([testPool('p', ['10.0.0.0/24'], pinned({ namespaces: ['team-a'] }))]);
    expect(result).toEqual({ released: [], moved: [], mismatched: ['team-b/web'] });
    expect(a.allocate(svc('team-b/web'))).toMatchObject({
      ok: false,
      failure: { reason: 'no-matching-pool' },
    });
  });

  it('refuses duplicate pool names', () => {
    expect(() => new Allocator([seed002, seed002])).toThrow('duplicate pool name "first-pool"');
  });
});

describe('Allocator.usage', () => {
  it('counts a /64 without overflowing', () => {
    const a = new Allocator([testPool('big', ['2001:db8::/64', '10.0.0.0/24'], { avoidBuggyIPs: true })]);
    for (let i = 0; i < 3; i++) a.allocate(svc(`default/s${i}`, { families: [6] }));
    a.allocate(svc('default/v4'));
    expect(a.usage('big')).toEqual({
      ipv4: { assigned: 1, available: 253n, capacity: 254n },
      ipv6: { assigned: 3, available: (1n << 64n) - 3n, capacity: 1n << 64n },
    });
    expect(a.usage('missing')).toBeUndefined();
  });
});
