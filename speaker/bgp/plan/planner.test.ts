import type { BGPAdvertisement, BGPPeer, BgpCommunity, Config, Pool } from '../../../lib/config/types.js';
import { parseIP } from '../../../lib/ip/index.js';
import { formatCommunity, formatLargeCommunity } from '../wire/community.js';
import { formatPrefix } from '../wire/prefix.js';
import { AdjRibOut } from '../session/speaker-rib.js';
import type { RibSession } from '../session/speaker-rib.js';
import type { L2Node, L2Service, PlannerInput } from '../../layer2/plan/types.js';
import { excludeLBLabel } from '../../layer2/plan/types.js';
import { diffRoutes } from './diff.js';
import { planBGP } from './planner.js';
import { testPool } from '../../../test/support/pools.js';
import { toRibRoutes } from './rib-routes.js';
import type { BgpPlan, BgpRoute } from './types.js';
import { bgpReasonText } from './types.js';

function ad(name: string, spec: Partial<Omit<BGPAdvertisement, 'ref'>> = {}): BGPAdvertisement {
  return {
    ref: { kind: 'BGPAdvertisement', namespace: 'metallb-system', name },
    pools: [],
    aggregationLength: 32,
    aggregationLengthV6: 128,
    communities: [],
    peers: [],
    nodeSelectors: [],
    serviceSelectors: [],
    ...spec,
  };
}

function peer(name: string, spec: Partial<Omit<BGPPeer, 'ref'>> = {}): BGPPeer {
  return {
    ref: { kind: 'BGPPeer', namespace: 'metallb-system', name },
    myASN: 64512,
    peerASN: 64512,
    peerAddress: '10.77.0.1',
    peerPort: 179,
    nodeSelectors: [],
    enableGracefulRestart: false,
    ebgpMultiHop: false,
    ...spec,
  };
}

const std = (asn: number, value: number): BgpCommunity => ({
  kind: 'standard',
  value: asn * 0x10000 + value,
});
const large = (global: number, local1: number, local2: number): BgpCommunity => ({
  kind: 'large',
  global,
  local1,
  local2,
});

const defaultPools = [
  testPool('lan', ['192.168.10.0/24']),
  testPool('v6', ['fd00::/120']),
  testPool('dmz', ['10.9.0.1-10.9.0.9']),
];

/** Like the config builder: an advertisement that names no pool applies to every pool. */
function config(
  ads: BGPAdvertisement[],
  peers: BGPPeer[] = [peer('r1')],
  pools: Pool[] = defaultPools,
): Config {
  return {
    pools: new Map(pools.map((p) => [p.name, p])),
    l2Advertisements: [],
    bgpAdvertisements: ads.map((a) => (a.pools.length > 0 ? a : { ...a, pools: pools.map((p) => p.name) })),
    peers: new Map(peers.map((p) => [p.ref.name, p])),
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

const defaultNodes = [node('n1', { zone: 'a' }), node('n2', { zone: 'b' }), node('n3', { zone: 'b' })];

function input(services: L2Service[], serving: Record<string, string[]>, nodes = defaultNodes): PlannerInput {
  return {
    services,
    nodes,
    servingNodes: new Map(Object.entries(serving).map(([k, v]) => [k, new Set(v)])),
  };
}

/** "10.0.0.0/24 lp=200 c=65000:1 L=1:2:3 [ns/a ns/b]": every field of a route, for tables. */
function show(r: BgpRoute): string {
  const parts = [r.prefix];
  if (r.localPref !== undefined) parts.push(`lp=${r.localPref}`);
  if (r.communities.length > 0) parts.push(`c=${r.communities.map(formatCommunity).join(',')}`);
  if (r.largeCommunities.length > 0)
    parts.push(`L=${r.largeCommunities.map(formatLargeCommunity).join(',')}`);
  parts.push(`[${r.services.join(' ')}]`);
  return parts.join(' ');
}

function routesOf(plan: BgpPlan): Record<string, string[]> {
  return Object.fromEntries([...plan.peers].map(([p, routes]) => [p, routes.map(show)]));
}

function reasonsOf(plan: BgpPlan): Record<string, string[]> {
  return Object.fromEntries([...plan.notAnnounced].map(([s, rs]) => [s, rs.map((r) => r.kind)]));
}

describe('planBGP', () => {
  const cases: {
    name: string;
    ads: BGPAdvertisement[];
    peers?: BGPPeer[];
    pools?: Pool[];
    services: L2Service[];
    serving: Record<string, string[]>;
    nodes?: L2Node[];
    self?: string;
    routes: Record<string, string[]>;
    reasons?: Record<string, string[]>;
  }[] = [
    {
      name: 'an advertisement without pools or selectors announces a /32 to every peer',
      ads: [ad('all')],
      peers: [peer('r1'), peer('r2', { peerAddress: '10.77.0.2' })],
      services: [svc('ns/web', ['192.168.10.5'])],
      serving: { 'ns/web': ['n2'] },
      routes: { r1: ['192.168.10.5/32 [ns/web]'], r2: ['192.168.10.5/32 [ns/web]'] },
    },
    {
      name: 'an advertisement covers only its pools',
      ads: [ad('lan-only', { pools: ['lan'] })],
      services: [svc('ns/web', ['192.168.10.5']), svc('ns/dmz', ['10.9.0.3'])],
      serving: { 'ns/web': ['n1'], 'ns/dmz': ['n1'] },
      routes: { r1: ['192.168.10.5/32 [ns/web]'] },
      reasons: { 'ns/dmz': ['no-bgp-advertisement'] },
    },
    {
      name: 'the pool annotation wins over containment, and a missing pool is reported',
      ads: [ad('dmz-only', { pools: ['dmz'] })],
      services: [
        svc('ns/annotated', ['192.168.10.7'], { pool: 'dmz' }),
        svc('ns/gone', ['192.168.10.8'], { pool: 'deleted' }),
        svc('ns/outside', ['172.16.0.1']),
      ],
      serving: { 'ns/annotated': ['n1'], 'ns/gone': ['n1'], 'ns/outside': ['n1'] },
      routes: { r1: ['192.168.10.7/32 [ns/annotated]'] },
      reasons: { 'ns/gone': ['unknown-pool'], 'ns/outside': ['no-pool'] },
    },
    {
      name: 'serviceSelectors pick the Services an advertisement applies to',
      ads: [ad('web', { serviceSelectors: [{ matchLabels: { app: 'web' } }] })],
      services: [svc('ns/web', ['192.168.10.5'], { labels: { app: 'web' } }), svc('ns/db', ['192.168.10.6'])],
      serving: { 'ns/web': ['n1'], 'ns/db': ['n1'] },
      routes: { r1: ['192.168.10.5/32 [ns/web]'] },
      reasons: { 'ns/db': ['no-bgp-advertisement'] },
    },
    {
      name: 'advertisement nodeSelectors leave this node out',
      ads: [ad('zone-b', { nodeSelectors: [{ matchLabels: { zone: 'b' } }] })],
      services: [svc('ns/web', ['192.168.10.5'])],
      serving: { 'ns/web': ['n2'] },
      self: 'n1',
      routes: { r1: [] },
      reasons: { 'ns/web': ['node-not-selected'] },
    },
    {
      name: 'advertisement nodeSelectors select this node',
      ads: [ad('zone-b', { nodeSelectors: [{ matchLabels: { zone: 'b' } }] })],
      services: [svc('ns/web', ['192.168.10.5'])],
      serving: { 'ns/web': ['n1'] },
      self: 'n2',
      routes: { r1: ['192.168.10.5/32 [ns/web]'] },
    },
    {
      name: 'peer nodeSelectors decide which sessions this node runs',
      ads: [ad('all')],
      peers: [
        peer('ra', { nodeSelectors: [{ matchLabels: { zone: 'a' } }] }),
        peer('rb', { nodeSelectors: [{ matchLabels: { zone: 'b' } }] }),
        peer('rany'),
      ],
      services: [svc('ns/web', ['192.168.10.5'])],
      serving: { 'ns/web': ['n3'] },
      self: 'n2',
      routes: { rany: ['192.168.10.5/32 [ns/web]'], rb: ['192.168.10.5/32 [ns/web]'] },
    },
    {
      name: 'advertisement peers restrict the routes, not the sessions',
      ads: [ad('to-r2', { peers: ['r2'] })],
      peers: [peer('r1'), peer('r2')],
      services: [svc('ns/web', ['192.168.10.5'])],
      serving: { 'ns/web': ['n1'] },
      routes: { r1: [], r2: ['192.168.10.5/32 [ns/web]'] },
    },
    {
      name: 'an advertisement naming only peers that do not select this node announces nothing here',
      ads: [ad('to-ra', { peers: ['ra'] })],
      peers: [peer('ra', { nodeSelectors: [{ matchLabels: { zone: 'a' } }] }), peer('rb')],
      services: [svc('ns/web', ['192.168.10.5'])],
      serving: { 'ns/web': ['n1'] },
      self: 'n2',
      routes: { rb: [] },
      reasons: { 'ns/web': ['no-peer'] },
    },
    {
      name: 'no BGPPeer at all',
      ads: [ad('all')],
      peers: [],
      services: [svc('ns/web', ['192.168.10.5'])],
      serving: { 'ns/web': ['n1'] },
      routes: {},
      reasons: { 'ns/web': ['no-peer'] },
    },
    {
      name: 'aggregationLength 24 turns two Service IPs into one /24 carrying both',
      ads: [ad('agg', { aggregationLength: 24 })],
      services: [svc('ns/a', ['192.168.10.5']), svc('ns/b', ['192.168.10.200'])],
      serving: { 'ns/a': ['n1'], 'ns/b': ['n2'] },
      routes: { r1: ['192.168.10.0/24 [ns/a ns/b]'] },
    },
    {
      name: 'aggregationLengthV6 applies to IPv6 only; IPv4 keeps its own length',
      ads: [ad('agg', { aggregationLength: 28, aggregationLengthV6: 124 })],
      services: [svc('ns/dual', ['192.168.10.77', 'fd00::2f'])],
      serving: { 'ns/dual': ['n1'] },
      routes: { r1: ['192.168.10.64/28 [ns/dual]', 'fd00::20/124 [ns/dual]'] },
    },
    {
      name: 'a dual-stack Service announces both IPs',
      ads: [ad('all')],
      services: [svc('ns/dual', ['fd00::10', '192.168.10.10'])],
      serving: { 'ns/dual': ['n1'] },
      routes: { r1: ['192.168.10.10/32 [ns/dual]', 'fd00::10/128 [ns/dual]'] },
    },
    {
      name: 'a dual-stack Service whose IPv6 pool has no advertisement announces IPv4 and says why not IPv6',
      ads: [ad('lan', { pools: ['lan'] })],
      services: [svc('ns/dual', ['192.168.10.10', 'fd00::10'])],
      serving: { 'ns/dual': ['n1'] },
      routes: { r1: ['192.168.10.10/32 [ns/dual]'] },
      reasons: { 'ns/dual': ['no-bgp-advertisement'] },
    },
    {
      name: 'an aggregate wider than the pool is skipped; another advertisement still announces',
      ads: [ad('too-wide', { aggregationLength: 16 }), ad('host')],
      services: [svc('ns/web', ['192.168.10.5'])],
      serving: { 'ns/web': ['n1'] },
      routes: { r1: ['192.168.10.5/32 [ns/web]'] },
      reasons: { 'ns/web': ['bad-aggregation-length'] },
    },
    {
      name: 'a range pool allows aggregation down to its widest summarizing block (/30 for .1-.9)',
      ads: [ad('agg30', { aggregationLength: 30 }), ad('agg29', { aggregationLength: 29 })],
      services: [svc('ns/dmz', ['10.9.0.6'])],
      serving: { 'ns/dmz': ['n1'] },
      routes: { r1: ['10.9.0.4/30 [ns/dmz]'] },
      reasons: { 'ns/dmz': ['bad-aggregation-length'] },
    },
    {
      name: 'localPref and communities (standard and large) are carried, sorted',
      ads: [
        ad('tagged', {
          localPref: 200,
          communities: [std(65000, 20), large(64512, 1, 2), std(65000, 3), large(10, 9, 9)],
        }),
      ],
      services: [svc('ns/web', ['192.168.10.5'])],
      serving: { 'ns/web': ['n1'] },
      routes: { r1: ['192.168.10.5/32 lp=200 c=65000:3,65000:20 L=10:9:9,64512:1:2 [ns/web]'] },
    },
    {
      name: 'two advertisements of one prefix merge: union of communities, highest localPref',
      ads: [
        ad('a', { localPref: 300, communities: [std(65000, 1), std(65000, 2)] }),
        ad('b', { localPref: 100, communities: [std(65000, 2), large(1, 2, 3)] }),
        ad('c', { localPref: 0 }),
      ],
      services: [svc('ns/web', ['192.168.10.5'])],
      serving: { 'ns/web': ['n1'] },
      routes: { r1: ['192.168.10.5/32 lp=300 c=65000:1,65000:2 L=1:2:3 [ns/web]'] },
    },
    {
      name: 'localPref 0 reads as unset, as in MetalLB',
      ads: [ad('zero', { localPref: 0 })],
      services: [svc('ns/web', ['192.168.10.5'])],
      serving: { 'ns/web': ['n1'] },
      routes: { r1: ['192.168.10.5/32 [ns/web]'] },
    },
    {
      name: 'per-peer attributes stay apart: each peer gets only its advertisements',
      ads: [
        ad('to-r1', { peers: ['r1'], communities: [std(1, 1)] }),
        ad('to-r2', { peers: ['r2'], localPref: 50 }),
      ],
      peers: [peer('r1'), peer('r2')],
      services: [svc('ns/web', ['192.168.10.5'])],
      serving: { 'ns/web': ['n1'] },
      routes: { r1: ['192.168.10.5/32 c=1:1 [ns/web]'], r2: ['192.168.10.5/32 lp=50 [ns/web]'] },
    },
    {
      name: 'two Services sharing an IP give one route carrying both',
      ads: [ad('all')],
      services: [svc('ns/http', ['192.168.10.9']), svc('ns/dns', ['192.168.10.9'])],
      serving: { 'ns/http': ['n1'], 'ns/dns': ['n3'] },
      routes: { r1: ['192.168.10.9/32 [ns/dns ns/http]'] },
    },
    {
      name: 'a shared IP stays announced while one of its Services still has endpoints',
      ads: [ad('all')],
      services: [svc('ns/http', ['192.168.10.9']), svc('ns/dns', ['192.168.10.9'])],
      serving: { 'ns/http': ['n1'] },
      routes: { r1: ['192.168.10.9/32 [ns/http]'] },
      reasons: { 'ns/dns': ['no-endpoints'] },
    },
    {
      name: 'externalTrafficPolicy Local: no local endpoint, no route',
      ads: [ad('all')],
      services: [svc('ns/local', ['192.168.10.5'], { externalTrafficPolicy: 'Local' })],
      serving: { 'ns/local': ['n2'] },
      self: 'n1',
      routes: { r1: [] },
      reasons: { 'ns/local': ['no-local-endpoints'] },
    },
    {
      name: 'externalTrafficPolicy Local: a local endpoint announces',
      ads: [ad('all')],
      services: [svc('ns/local', ['192.168.10.5'], { externalTrafficPolicy: 'Local' })],
      serving: { 'ns/local': ['n2'] },
      self: 'n2',
      routes: { r1: ['192.168.10.5/32 [ns/local]'] },
    },
    {
      name: 'externalTrafficPolicy Cluster: an endpoint on another node is enough',
      ads: [ad('all')],
      services: [svc('ns/web', ['192.168.10.5'])],
      serving: { 'ns/web': ['n3'] },
      self: 'n1',
      routes: { r1: ['192.168.10.5/32 [ns/web]'] },
    },
    {
      name: 'externalTrafficPolicy Cluster without any endpoint is not announced',
      ads: [ad('all')],
      services: [svc('ns/web', ['192.168.10.5']), svc('ns/empty', ['192.168.10.6'])],
      serving: { 'ns/empty': [] },
      routes: { r1: [] },
      reasons: { 'ns/web': ['no-endpoints'], 'ns/empty': ['no-endpoints'] },
    },
    {
      name: 'a Service without an IP yet',
      ads: [ad('all')],
      services: [svc('ns/pending', [])],
      serving: { 'ns/pending': ['n1'] },
      routes: { r1: [] },
      reasons: { 'ns/pending': ['no-ip'] },
    },
    {
      name: 'a node labeled exclude-from-external-load-balancers keeps its sessions but announces nothing',
      ads: [ad('all')],
      services: [svc('ns/web', ['192.168.10.5'])],
      serving: { 'ns/web': ['n1'] },
      nodes: [node('n1', { [excludeLBLabel]: '' })],
      routes: { r1: [] },
      reasons: { 'ns/web': ['node-excluded'] },
    },
    {
      name: 'a NetworkUnavailable node announces nothing',
      ads: [ad('all')],
      services: [svc('ns/web', ['192.168.10.5'])],
      serving: { 'ns/web': ['n1'] },
      nodes: [node('n1', {}, true)],
      routes: { r1: [] },
      reasons: { 'ns/web': ['node-excluded'] },
    },
    {
      name: 'a node without a Node object runs only unrestricted peers and announces nothing',
      ads: [ad('all')],
      peers: [peer('any'), peer('zoned', { nodeSelectors: [{ matchLabels: { zone: 'a' } }] })],
      services: [svc('ns/web', ['192.168.10.5'])],
      serving: { 'ns/web': ['n1'] },
      self: 'ghost',
      routes: { any: [] },
      reasons: { 'ns/web': ['node-excluded'] },
    },
  ];

  it.each(cases)('$name', (c) => {
    const plan = planBGP(
      config(c.ads, c.peers, c.pools),
      input(c.services, c.serving, c.nodes ?? defaultNodes),
      c.self ?? 'n1',
    );
    expect(routesOf(plan)).toEqual(c.routes);
    expect(reasonsOf(plan)).toEqual(c.reasons ?? {});
    for (const reasons of plan.notAnnounced.values())
      for (const r of reasons) expect(bgpReasonText(r)).toMatch(/\S/);
  });

  it('lists the peers each Service is announced to, for ServiceBGPStatus', () => {
    const plan = planBGP(
      config(
        [
          ad('web-to-r2', { peers: ['r2'], serviceSelectors: [{ matchLabels: { app: 'web' } }] }),
          ad('db-to-r1', { peers: ['r1'], serviceSelectors: [{ matchLabels: { app: 'db' } }] }),
        ],
        [peer('r1'), peer('r2')],
      ),
      input(
        [
          svc('ns/web', ['192.168.10.5'], { labels: { app: 'web' } }),
          svc('ns/db', ['192.168.10.6'], { labels: { app: 'db' } }),
          svc('ns/none', ['192.168.10.7']),
        ],
        { 'ns/web': ['n1'], 'ns/db': ['n1'], 'ns/none': ['n1'] },
      ),
      'n1',
    );
    expect(Object.fromEntries(plan.announced)).toEqual({ 'ns/web': ['r2'], 'ns/db': ['r1'] });
    expect(plan.notAnnounced.get('ns/none')?.map(bgpReasonText)).toEqual([
      '192.168.10.7: no BGPAdvertisement applies to pool "lan" and this Service',
    ]);
  });

  it('explains a too-wide aggregate with the advertisement and the shortest allowed length', () => {
    const plan = planBGP(
      config([ad('wide', { aggregationLength: 16 })]),
      input([svc('ns/web', ['192.168.10.5'])], { 'ns/web': ['n1'] }),
      'n1',
    );
    expect(plan.notAnnounced.get('ns/web')?.map(bgpReasonText)).toEqual([
      '192.168.10.5: BGPAdvertisement metallb-system/wide is skipped: aggregation length 16 is shorter than /24, the widest block of the pool entry holding the address, so the route would cover addresses outside the pool',
    ]);
  });
});

describe('diffRoutes: withdrawals and re-announcements between plans', () => {
  const ads = [ad('all')];
  const base = [
    svc('ns/a', ['192.168.10.5']),
    svc('ns/b', ['192.168.10.6'], { externalTrafficPolicy: 'Local' }),
  ];
  const serving = { 'ns/a': ['n1'], 'ns/b': ['n1'] };
  const before = planBGP(config(ads), input(base, serving), 'n1');

  function diffTo(next: BgpPlan): Record<string, { announce: string[]; withdraw: string[] }> {
    return Object.fromEntries(
      [...diffRoutes(before.peers, next.peers)].map(([p, d]) => [
        p,
        { announce: d.announce.map(show), withdraw: [...d.withdraw] },
      ]),
    );
  }

  it('the same plan changes nothing', () => {
    expect(diffTo(planBGP(config(ads), input(base, serving), 'n1'))).toEqual({});
  });

  it('a deleted Service withdraws its prefix', () => {
    expect(diffTo(planBGP(config(ads), input([base[0]!], serving), 'n1'))).toEqual({
      r1: { announce: [], withdraw: ['192.168.10.6/32'] },
    });
  });

  it('the last local endpoint of a Local Service going withdraws its prefix', () => {
    expect(diffTo(planBGP(config(ads), input(base, { 'ns/a': ['n1'], 'ns/b': ['n2'] }), 'n1'))).toEqual({
      r1: { announce: [], withdraw: ['192.168.10.6/32'] },
    });
  });

  it('a deleted pool withdraws every prefix it held', () => {
    const next = planBGP(
      config(ads, [peer('r1')], [testPool('v6', ['fd00::/120'])]),
      input(base, serving),
      'n1',
    );
    expect(diffTo(next)).toEqual({ r1: { announce: [], withdraw: ['192.168.10.5/32', '192.168.10.6/32'] } });
    expect(reasonsOf(next)).toEqual({ 'ns/a': ['no-pool'], 'ns/b': ['no-pool'] });
  });

  it('a new community re-announces the route and withdraws nothing', () => {
    const next = planBGP(config([ad('all', { communities: [std(65000, 7)] })]), input(base, serving), 'n1');
    expect(diffTo(next)).toEqual({
      r1: {
        announce: ['192.168.10.5/32 c=65000:7 [ns/a]', '192.168.10.6/32 c=65000:7 [ns/b]'],
        withdraw: [],
      },
    });
  });

  it('a peer that stops selecting this node loses every route', () => {
    const next = planBGP(
      config(ads, [peer('r1', { nodeSelectors: [{ matchLabels: { zone: 'b' } }] })]),
      input(base, serving),
      'n1',
    );
    expect(diffTo(next)).toEqual({ r1: { announce: [], withdraw: ['192.168.10.5/32', '192.168.10.6/32'] } });
  });

  it('an aggregate stays while another Service still needs it, and a Service change alone sends nothing', () => {
    const agg = [ad('agg', { aggregationLength: 24 })];
    const both = planBGP(config(agg), input(base, serving), 'n1');
    const one = planBGP(config(agg), input([base[0]!], serving), 'n1');
    expect(both.peers.get('r1')?.map(show)).toEqual(['192.168.10.0/24 [ns/a ns/b]']);
    expect(diffRoutes(both.peers, one.peers).size).toBe(0);
    const none = planBGP(config(agg), input([], serving), 'n1');
    expect(Object.fromEntries(diffRoutes(one.peers, none.peers))).toEqual({
      r1: { announce: [], withdraw: ['192.168.10.0/24'] },
    });
  });
});

describe('toRibRoutes: a plan drives the Adj-RIB-Out', () => {
  const ibgp: RibSession = {
    localAsn: 64512,
    external: false,
    families: [4, 6],
    nextHop4: '10.77.0.11',
    nextHop6: 'fd00:77::11',
  };

  it('announces the planned prefixes with their attributes and withdraws what a later plan drops', () => {
    const cfg = config([
      ad('tagged', {
        aggregationLengthV6: 124,
        localPref: 150,
        communities: [std(65000, 2), std(65000, 1), large(64512, 7, 7)],
      }),
    ]);
    const services = [svc('ns/dual', ['192.168.10.10', 'fd00::2a'])];
    const first = planBGP(cfg, input(services, { 'ns/dual': ['n1'] }), 'n1');
    const rib = new AdjRibOut();
    rib.setDesired(toRibRoutes(first.peers.get('r1')));
    const sent = rib.diff(ibgp);
    expect(sent.withdraw).toEqual([]);
    expect(sent.announce).toHaveLength(2); // one group per family: different next-hop encodings
    const byFamily = Object.fromEntries(
      sent.announce.map((g) => [g.prefixes.map(formatPrefix).join(' '), g.attributes]),
    );
    expect(Object.keys(byFamily).sort()).toEqual(['192.168.10.10/32', 'fd00::20/124']);
    expect(byFamily['192.168.10.10/32']).toMatchObject({
      localPref: 150,
      communities: [65000 * 0x10000 + 1, 65000 * 0x10000 + 2],
      largeCommunities: [{ global: 64512, local1: 7, local2: 7 }],
    });

    const second = planBGP(cfg, input(services, {}), 'n1');
    rib.setDesired(toRibRoutes(second.peers.get('r1')));
    const after = rib.diff(ibgp);
    expect(after.announce).toEqual([]);
    expect(after.withdraw.map(formatPrefix).sort()).toEqual(['192.168.10.10/32', 'fd00::20/124']);
  });

  it('an unknown peer has no routes', () => {
    expect(toRibRoutes(undefined)).toEqual([]);
  });
});
