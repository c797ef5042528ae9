// The incremental BGP plan against the whole-cluster planner: after every change, the routes
// and the announced peers are planBGP's, and the changes it reports turn the previous tables
// into the new ones; a change to one Service reports that Service's prefix only.

import type { BGPAdvertisement, BGPPeer, Config, Pool } from '../../../lib/config/types.js';
import { parseAddressSpec, parseIP } from '../../../lib/ip/index.js';
import type { L2Node, L2Service } from '../../layer2/plan/types.js';
import { BgpPlanState, type PlanStateInput } from './plan-state.js';
import { planBGP } from './planner.js';
import type { BgpRoute } from './types.js';

const pool = (name: string, cidr: string): Pool => ({
  name,
  ref: { kind: 'IPAddressPool', namespace: 'metallb-system', name },
  addresses: [cidr],
  labels: {},
  ranges: [parseAddressSpec(cidr).range],
  autoAssign: true,
  avoidBuggyIPs: false,
});

const ad = (name: string, spec: Partial<Omit<BGPAdvertisement, 'ref'>>): BGPAdvertisement => ({
  ref: { kind: 'BGPAdvertisement', namespace: 'metallb-system', name },
  pools: ['hosts', 'agg'],
  aggregationLength: 32,
  aggregationLengthV6: 128,
  communities: [],
  peers: [],
  nodeSelectors: [],
  serviceSelectors: [],
  ...spec,
});

const peer = (name: string, spec: Partial<Omit<BGPPeer, 'ref'>> = {}): BGPPeer => ({
  ref: { kind: 'BGPPeer', namespace: 'metallb-system', name },
  myASN: 64512,
  peerASN: 64512,
  peerAddress: '10.77.0.1',
  peerPort: 179,
  nodeSelectors: [],
  enableGracefulRestart: false,
  ebgpMultiHop: false,
  ...spec,
});

const config: Config = {
  pools: new Map([
    ['hosts', pool('hosts', '10.100.0.0/24')],
    ['agg', pool('agg', '10.200.0.0/24')],
  ]),
  l2Advertisements: [],
  bgpAdvertisements: [
    ad('hosts', { pools: ['hosts'], communities: [{ kind: 'standard', value: 0xfde80001 }] }),
    // Aggregates: every Service of the pool adds to one /24; blue Services add a localPref.
    ad('agg', { pools: ['agg'], aggregationLength: 24 }),
    ad('blue', {
      pools: ['agg'],
      aggregationLength: 24,
      localPref: 200,
      serviceSelectors: [{ matchLabels: { color: 'blue' }, matchExpressions: [] }],
    }),
    ad('only-r2', { pools: ['hosts'], peers: ['r2'], localPref: 150 }),
  ],
  peers: new Map([
    ['r1', peer('r1')],
    ['r2', peer('r2', { peerAddress: '10.77.0.2' })],
  ]),
  bfdProfiles: new Map(),
  problems: [],
};

const defaultNodes: L2Node[] = [
  { name: 'n1', labels: {}, networkUnavailable: false },
  { name: 'n2', labels: {}, networkUnavailable: false },
];

/** A small deterministic generator (the sequence must be the same on every run). */
function random(seed: number): (n: number) => number {
  let x = seed;
  return (n) => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    // The high bits: an LCG's low bits repeat with a short period.
    return Math.floor((x / 2 ** 31) * n);
  };
}

/** The cluster the tests change: Services and serving nodes by key. */
class Cluster implements PlanStateInput {
  constructor(readonly nodes: L2Node[] = defaultNodes) {}
  readonly serviceByKey = new Map<string, L2Service>();
  readonly servingNodes = new Map<string, ReadonlySet<string>>();
  get services(): L2Service[] {
    return [...this.serviceByKey.values()];
  }
}

const show = (r: BgpRoute): string =>
  `${r.prefix} lp=${r.localPref ?? '-'} c=${r.communities.join(',')} [${r.services.join(' ')}]`;

describe('BgpPlanState', () => {
  it('matches planBGP after every one of 400 random changes, and reports exactly what changed', () => {
    const next = random(7);
    const cluster = new Cluster();
    const state = new BgpPlanState();
    const first = state.update(config, cluster, 'n1', 'all');
    expect(first.full).toBe(true);
    // What a session and the status writer would hold, kept only from the reported changes.
    const held = new Map<string, Map<string, BgpRoute>>(state.peers.map((p) => [p, new Map()]));
    const heldAnnounced = new Map<string, readonly string[]>();
    for (let step = 0; step < 400; step++) {
      const key = `ns/svc-${next(12)}`;
      switch (next(4)) {
        case 0:
        case 1: {
          // Create or change: an IP in one of the two pools (shared IPs happen), maybe blue,
          // maybe Local.
          const ip = next(2) === 0 ? `10.100.0.${next(6)}` : `10.200.0.${next(6)}`;
          cluster.serviceByKey.set(key, {
            key,
            ips: [parseIP(ip)],
            labels: next(2) === 0 ? { color: 'blue' } : {},
            externalTrafficPolicy: next(3) === 0 ? 'Local' : 'Cluster',
          });
          break;
        }
        case 2:
          cluster.serviceByKey.delete(key);
          break;
        case 3: {
          const serving = [['n1'], ['n2'], ['n1', 'n2'], []][next(4)]!;
          if (serving.length === 0) cluster.servingNodes.delete(key);
          else cluster.servingNodes.set(key, new Set(serving));
          break;
        }
      }
      const changes = state.update(config, cluster, 'n1', new Set([key]));
      expect(changes.full).toBe(false);
      const plan = planBGP(config, cluster, 'n1');
      for (const [p, routes] of plan.peers) {
        expect(state.routesOf(p).map(show)).toEqual(routes.map(show));
        const table = held.get(p)!;
        for (const [prefix, route] of changes.routes.get(p) ?? []) {
          if (route === undefined) table.delete(prefix);
          else table.set(prefix, route);
        }
        expect([...table.values()].map(show).sort()).toEqual(routes.map(show).sort());
      }
      for (const [k, peers] of changes.announced) {
        if (peers.length === 0) heldAnnounced.delete(k);
        else heldAnnounced.set(k, peers);
      }
      expect(Object.fromEntries(heldAnnounced)).toEqual(Object.fromEntries(plan.announced));
      // Only the changed Service's reasons can have changed; they are planBGP's.
      expect(state.reasonsOf(key)).toEqual(plan.notAnnounced.get(key) ?? []);
    }
  });

  it('a change to one Service among many reports that Service’s prefix and status only', () => {
    const cluster = new Cluster();
    for (let i = 0; i < 200; i++) {
      const key = `ns/s${i}`;
      cluster.serviceByKey.set(key, {
        key,
        ips: [parseIP(`10.100.0.${i}`)],
        labels: {},
        externalTrafficPolicy: 'Cluster',
      });
      cluster.servingNodes.set(key, new Set(['n1']));
    }
    const state = new BgpPlanState();
    expect(state.update(config, cluster, 'n1', 'all').routes.get('r1')?.size).toBe(200);
    cluster.servingNodes.delete('ns/s42');
    const changes = state.update(config, cluster, 'n1', new Set(['ns/s42']));
    expect([...changes.routes.keys()]).toEqual(['r1', 'r2']);
    expect([...changes.routes.get('r1')!]).toEqual([['10.100.0.42/32', undefined]]);
    expect([...changes.announced]).toEqual([['ns/s42', []]]);
    // Nodes re-read with nothing new for this node: nothing to do.
    expect(state.update(config, cluster, 'n1', 'all')).toMatchObject({ full: false, routes: new Map() });
  });

  it('re-plans everything for a new configuration or a change of this node', () => {
    const cluster = new Cluster();
    cluster.serviceByKey.set('ns/a', {
      key: 'ns/a',
      ips: [parseIP('10.100.0.1')],
      labels: {},
      externalTrafficPolicy: 'Cluster',
    });
    cluster.servingNodes.set('ns/a', new Set(['n2']));
    const state = new BgpPlanState();
    state.update(config, cluster, 'n1', 'all');
    const withoutR2: Config = { ...config, peers: new Map([['r1', peer('r1')]]) };
    const changes = state.update(withoutR2, cluster, 'n1', new Set());
    expect(changes.full).toBe(true);
    expect(state.peers).toEqual(['r1']);
    expect([...changes.routes.get('r1')!.keys()]).toEqual(['10.100.0.1/32']);
    const excluded = new Cluster([{ name: 'n1', labels: {}, networkUnavailable: true }]);
    excluded.serviceByKey.set('ns/a', cluster.serviceByKey.get('ns/a')!);
    const off = state.update(withoutR2, excluded, 'n1', 'all');
    expect(off.full).toBe(true);
    expect(off.routes.get('r1')?.size).toBe(0);
  });
});
