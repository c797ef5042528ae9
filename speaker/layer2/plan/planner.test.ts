import type { Config, L2Advertisement, Pool } from '../../../lib/config/types.js';
import { parseIP } from '../../../lib/ip/index.js';
import { planL2 } from './planner.js';
import { testPool } from '../../../test/support/pools.js';
import type { L2Node, L2Service, PlannerInput } from './types.js';
import { excludeLBLabel, reasonText } from './types.js';

function ad(name: string, spec: Partial<Omit<L2Advertisement, 'ref'>> = {}): L2Advertisement {
  return {
    ref: { kind: 'L2Advertisement', namespace: 'metallb-system', name },
    pools: [],
    nodeSelectors: [],
    interfaces: [],
    serviceSelectors: [],
    preferredNodeSelectors: [],
    ...spec,
  };
}

/** Like the config builder: an advertisement that names no pool applies to every pool. */
function config(pools: Pool[], ads: L2Advertisement[]): Config {
  return {
    pools: new Map(pools.map((p) => [p.name, p])),
    l2Advertisements: ads.map((a) => (a.pools.length > 0 ? a : { ...a, pools: pools.map((p) => p.name) })),
    bgpAdvertisements: [],
    peers: new Map(),
    bfdProfiles: new Map(),
    problems: [],
  };
}

function svc(key: string, ips: string[], spec: Partial<Omit<L2Service, 'key' | 'ips'>> = {}): L2Service {
  return { key, ips: ips.map(parseIP), labels: {}, externalTrafficPolicy: 'Cluster', ...spec };
}

function node(name: string, labels: Record<string, string> = {}, networkUnavailable = false): L2Node {
  return { name, labels, networkUnavailable };
}

const nodes = [node('n1', { zone: 'a' }), node('n2', { zone: 'b' }), node('n3', { zone: 'b' })];
const pools = [
  testPool('lan', ['192.168.10.0/24']),
  testPool('v6', ['fd00::/120']),
  testPool('dmz', ['10.9.0.1-10.9.0.9']),
];

function input(services: L2Service[], serving: Record<string, string[]>, ns: L2Node[] = nodes): PlannerInput {
  return {
    services,
    nodes: ns,
    servingNodes: new Map(Object.entries(serving).map(([k, v]) => [k, new Set(v)])),
  };
}

describe('planL2: eligible nodes', () => {
  const cases: {
    name: string;
    ads: L2Advertisement[];
    services: L2Service[];
    serving: Record<string, string[]>;
    nodes?: L2Node[];
    eligible: Record<string, string[]>;
  }[] = [
    {
      name: 'an advertisement without pools or selectors makes every node eligible',
      ads: [ad('all')],
      services: [svc('ns/web', ['192.168.10.222'])],
      serving: { 'ns/web': ['n1'] },
      eligible: { '192.168.10.222': ['n1', 'n2', 'n3'] },
    },
    {
      name: 'nodeSelectors restrict the eligible nodes',
      ads: [ad('b-only', { nodeSelectors: [{ matchLabels: { zone: 'b' } }] })],
      services: [svc('ns/web', ['192.168.10.222'])],
      serving: { 'ns/web': ['n1'] },
      eligible: { '192.168.10.222': ['n2', 'n3'] },
    },
    {
      name: 'two advertisements for the pool give the union of their nodes',
      ads: [
        ad('a', { pools: ['lan'], nodeSelectors: [{ matchLabels: { zone: 'a' } }] }),
        ad('n3', { pools: ['lan'], nodeSelectors: [{ matchLabels: { 'kubernetes.io/hostname': 'n3' } }] }),
      ],
      services: [svc('ns/web', ['192.168.10.222'])],
      serving: { 'ns/web': ['n1'] },
      nodes: [
        node('n1', { zone: 'a' }),
        node('n2', { zone: 'b' }),
        node('n3', { 'kubernetes.io/hostname': 'n3' }),
      ],
      eligible: { '192.168.10.222': ['n1', 'n3'] },
    },
    {
      name: 'NetworkUnavailable and the exclusion label remove a node',
      ads: [ad('all')],
      services: [svc('ns/web', ['192.168.10.222'])],
      serving: { 'ns/web': ['n1'] },
      nodes: [node('n1', {}, true), node('n2', { [excludeLBLabel]: '' }), node('n3')],
      eligible: { '192.168.10.222': ['n3'] },
    },
    {
      name: 'externalTrafficPolicy Local keeps only nodes with a serving endpoint',
      ads: [ad('all')],
      services: [svc('ns/web', ['192.168.10.222'], { externalTrafficPolicy: 'Local' })],
      serving: { 'ns/web': ['n2', 'n3', 'gone'] },
      eligible: { '192.168.10.222': ['n2', 'n3'] },
    },
    {
      name: 'externalTrafficPolicy Cluster needs one endpoint anywhere, not on the node',
      ads: [ad('all')],
      services: [svc('ns/web', ['192.168.10.222'])],
      serving: { 'ns/web': ['elsewhere'] },
      eligible: { '192.168.10.222': ['n1', 'n2', 'n3'] },
    },
    {
      name: 'the pool comes from the annotation, else by containment',
      ads: [
        ad('dmz', { pools: ['dmz'], nodeSelectors: [{ matchLabels: { zone: 'a' } }] }),
        ad('lan', { pools: ['lan'] }),
      ],
      services: [svc('ns/annotated', ['192.168.10.5'], { pool: 'dmz' }), svc('ns/contained', ['10.9.0.3'])],
      serving: { 'ns/annotated': ['n1'], 'ns/contained': ['n1'] },
      eligible: { '10.9.0.3': ['n1'], '192.168.10.5': ['n1'] },
    },
    {
      name: 'serviceSelectors pick the advertisement a Service gets',
      ads: [
        ad('gold', {
          serviceSelectors: [{ matchLabels: { tier: 'gold' } }],
          nodeSelectors: [{ matchLabels: { zone: 'a' } }],
        }),
        ad('rest', {
          serviceSelectors: [{ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['gold'] }] }],
        }),
      ],
      services: [
        svc('ns/gold', ['192.168.10.1'], { labels: { tier: 'gold' } }),
        svc('ns/plain', ['192.168.10.2']),
      ],
      serving: { 'ns/gold': ['n1'], 'ns/plain': ['n1'] },
      eligible: { '192.168.10.1': ['n1'], '192.168.10.2': ['n1', 'n2', 'n3'] },
    },
    {
      name: 'a shared IP is eligible only on nodes that can serve every Service using it',
      ads: [ad('all')],
      services: [
        svc('ns/tcp', ['192.168.10.7'], { externalTrafficPolicy: 'Local' }),
        svc('ns/udp', ['192.168.10.7'], { externalTrafficPolicy: 'Local' }),
      ],
      serving: { 'ns/tcp': ['n1', 'n2'], 'ns/udp': ['n2', 'n3'] },
      eligible: { '192.168.10.7': ['n2'] },
    },
    {
      name: 'a dual-stack Service plans both of its IPs',
      ads: [ad('all', { nodeSelectors: [{ matchLabels: { zone: 'b' } }] })],
      services: [svc('ns/dual', ['192.168.10.9', 'fd00::9'])],
      serving: { 'ns/dual': ['n1'] },
      eligible: { '192.168.10.9': ['n2', 'n3'], 'fd00::9': ['n2', 'n3'] },
    },
  ];
  it.each(cases)('$name', ({ ads, services, serving, nodes: ns, eligible }) => {
    const plan = planL2(config(pools, ads), input(services, serving, ns));
    expect(Object.fromEntries(plan.ips.map((p) => [p.ip, p.eligible]))).toEqual(eligible);
    expect(plan.notAnnounced.size).toBe(0);
  });
});

describe('planL2: why a Service is not announced', () => {
  const cases: {
    name: string;
    ads: L2Advertisement[];
    service: L2Service;
    serving: string[];
    text: string[];
  }[] = [
    {
      name: 'no IP yet',
      ads: [ad('all')],
      service: svc('ns/s', []),
      serving: ['n1'],
      text: ['the Service has no IP in status.loadBalancer.ingress'],
    },
    {
      name: 'no endpoint at all',
      ads: [ad('all')],
      service: svc('ns/s', ['192.168.10.1']),
      serving: [],
      text: ['the Service has no ready or serving endpoint'],
    },
    {
      name: 'no L2Advertisement for its pool',
      ads: [ad('dmz-only', { pools: ['dmz'] })],
      service: svc('ns/s', ['192.168.10.1']),
      serving: ['n1'],
      text: ['192.168.10.1: no L2Advertisement applies to pool "lan" and this Service'],
    },
    {
      name: 'the annotation names a pool that does not exist',
      ads: [ad('all')],
      service: svc('ns/s', ['192.168.10.1'], { pool: 'gone' }),
      serving: ['n1'],
      text: ['192.168.10.1: pool "gone" does not exist'],
    },
    {
      name: 'the IP is in no pool',
      ads: [ad('all')],
      service: svc('ns/s', ['172.16.0.1']),
      serving: ['n1'],
      text: ['172.16.0.1: no IPAddressPool contains this address'],
    },
    {
      name: 'Local endpoints only on nodes the advertisement does not select',
      ads: [ad('b', { nodeSelectors: [{ matchLabels: { zone: 'b' } }] })],
      service: svc('ns/s', ['192.168.10.1'], { externalTrafficPolicy: 'Local' }),
      serving: ['n1'],
      text: [
        '192.168.10.1: no node is eligible (nodeSelectors, NetworkUnavailable, exclusion label, or no local endpoint for externalTrafficPolicy Local)',
      ],
    },
  ];
  it.each(cases)('$name', ({ ads, service, serving, text }) => {
    const plan = planL2(
      config(pools, ads),
      input([service], serving.length ? { [service.key]: serving } : {}),
    );
    expect(plan.ips).toEqual([]);
    expect((plan.notAnnounced.get(service.key) ?? []).map(reasonText)).toEqual(text);
  });
});

describe('planL2: advertisements whose pools are all gone', () => {
  it('advertises nothing for an advertisement left with no pool (every pool it named is missing)', () => {
    const cfg: Config = { ...config(pools, []), l2Advertisements: [ad('typo', { pools: [] })] };
    const plan = planL2(cfg, input([svc('ns/s', ['192.168.10.1'])], { 'ns/s': ['n1'] }));
    expect(plan.ips).toEqual([]);
    expect(plan.notAnnounced.get('ns/s')?.[0]?.kind).toBe('no-l2-advertisement');
  });
});

describe('planL2: interfaces and preferences', () => {
  it('answers on the union of the interfaces of the advertisements that select the node', () => {
    const ads = [
      ad('eth0', { interfaces: ['eth0'] }),
      ad('bond', { interfaces: ['bond0', 'eth0'], nodeSelectors: [{ matchLabels: { zone: 'b' } }] }),
    ];
    const plan = planL2(config(pools, ads), input([svc('ns/s', ['192.168.10.1'])], { 'ns/s': ['n1'] }));
    expect(Object.fromEntries(plan.ips[0]?.interfaces ?? [])).toEqual({
      n1: ['eth0'],
      n2: ['bond0', 'eth0'],
      n3: ['bond0', 'eth0'],
    });
  });

  it('answers on every interface when one selecting advertisement lists none', () => {
    const ads = [
      ad('eth0', { interfaces: ['eth0'] }),
      ad('any', { nodeSelectors: [{ matchLabels: { zone: 'a' } }] }),
    ];
    const plan = planL2(config(pools, ads), input([svc('ns/s', ['192.168.10.1'])], { 'ns/s': ['n1'] }));
    expect(plan.ips[0]?.interfaces.get('n1')).toBe('all');
    expect(plan.ips[0]?.interfaces.get('n2')).toEqual(['eth0']);
  });

  it('sums the preferred weights of the advertisements that select the node', () => {
    const ads = [
      ad('x', { preferredNodeSelectors: [{ weight: 10, preference: { matchLabels: { zone: 'b' } } }] }),
      ad('y', {
        preferredNodeSelectors: [
          { weight: 5, preference: { matchLabels: { zone: 'b' } } },
          { weight: 1, preference: { matchLabels: { zone: 'a' } } },
        ],
      }),
    ];
    const plan = planL2(config(pools, ads), input([svc('ns/s', ['192.168.10.1'])], { 'ns/s': ['n1'] }));
    expect(Object.fromEntries(plan.ips[0]?.weights ?? [])).toEqual({ n1: 1, n2: 15, n3: 15 });
  });
});
