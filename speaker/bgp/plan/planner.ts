// Which prefixes this node announces to which BGP peer, with which attributes — MetalLB's BGP
// speaker rules (MetalLB's speaker/bgp_controller.go ShouldAnnounce, SetBalancer,
// syncPeers, adsForPeer), for one node. Unlike L2 there is no election: every eligible node
// announces the same prefix with itself as next hop and the router spreads traffic (ECMP).
// Pure; the speaker feeds it the Kubernetes view and hands each peer's routes to its Adj-RIB-Out.
//
// Choices where MetalLB is silent or its modes differ, all deterministic:
// - Several advertisements or Services producing the same prefix for one peer give one route:
//   communities are the union (MetalLB's frr-k8s mode: a prefix is put in every community's
//   prefix list); localPref is the highest given (frr-k8s orders its localPref route-map
//   entries by value with `on-match next`, so the highest is set last). The config builder
//   already drops advertisements whose localPref conflicts on a pool, so this is rare.
// - localPref 0 counts as unset: MetalLB's field is a plain uint32, so 0 is what "unset" reads as.
// - aggregationLength must be at least the widest block (shortest prefix) of the pool entry
//   holding the IP, or the route would attract traffic for addresses outside the pool; MetalLB's
//   config parser rejects such an advertisement, ours does not yet, so the planner skips it for
//   that IP and says why.

import type { LabelSelector, Labels } from '../../../lib/kube/label-selector.js';
import { matchesLabelSelector } from '../../../lib/kube/label-selector.js';
import type { BGPAdvertisement, Config, Pool } from '../../../lib/config/types.js';
import type { IPAddress } from '../../../lib/ip/index.js';
import {
  compareIP,
  familyBits,
  formatIP,
  prefixMask,
  rangeContains,
  rangeToCIDRs,
} from '../../../lib/ip/index.js';
import { poolOf } from '../../layer2/plan/planner.js';
import type { L2Service, PlannerInput } from '../../layer2/plan/types.js';
import { excludeLBLabel } from '../../layer2/plan/types.js';
import type {
  BgpNotAnnouncedReason,
  BgpPlan,
  BgpRoute,
  LargeCommunityValue,
  NodeExclusion,
} from './types.js';

/** One Service IP's part in one route to one peer (several add up to a route, see routeOf). */
export interface Contribution {
  /** The route's identity, "10.0.0.0/24". */
  readonly prefix: string;
  readonly address: IPAddress;
  readonly length: number;
  readonly advertisement: BGPAdvertisement;
}

/** What a single Service gives this node: its routes per peer, or why it gives none. */
export interface ServicePlan {
  /** Peer → this Service's contributions to that peer's routes. */
  readonly routes: ReadonlyMap<string, readonly Contribution[]>;
  /** The peers it is announced to, sorted (empty when none). */
  readonly announced: readonly string[];
  readonly reasons: readonly BgpNotAnnouncedReason[];
}

/** What every Service's plan shares: the node's peers, labels and exclusion. */
export interface PlanScope {
  readonly self: string;
  readonly labels: Labels;
  readonly exclusion: NodeExclusion | undefined;
  /** The BGPPeers whose nodeSelectors select this node, by name, sorted. */
  readonly peerNames: readonly string[];
}

export function planScope(config: Config, nodes: PlannerInput['nodes'], self: string): PlanScope {
  const node = nodes.find((n) => n.name === self);
  // MetalLB treats a speaker whose Node it cannot see as having no labels: only peers without
  // nodeSelectors run, and ShouldAnnounce refuses every Service.
  const labels: Labels = node?.labels ?? {};
  const exclusion: NodeExclusion | undefined =
    node === undefined
      ? 'not-found'
      : node.networkUnavailable
        ? 'network-unavailable'
        : Object.hasOwn(node.labels, excludeLBLabel)
          ? 'exclude-label'
          : undefined;
  // Sessions run wherever the peer's nodeSelectors select the node, excluded or not (MetalLB
  // syncPeers); exclusion only empties what is announced over them.
  const peerNames = [...config.peers.values()]
    .filter((p) => anySelects(p.nodeSelectors, labels))
    .map((p) => p.ref.name)
    .sort();
  return { self, labels, exclusion, peerNames };
}

const noRoutes: ReadonlyMap<string, readonly Contribution[]> = new Map();

/** One Service's plan on this node. Pure; costs O(that Service). */
export function planService(
  config: Config,
  scope: PlanScope,
  service: L2Service,
  serving: ReadonlySet<string> | undefined,
): ServicePlan {
  const reasons: BgpNotAnnouncedReason[] = [];
  const none = (reason: BgpNotAnnouncedReason): ServicePlan => ({
    routes: noRoutes,
    announced: [],
    reasons: [reason],
  });
  const { self, labels, exclusion, peerNames } = scope;
  if (service.ips.length === 0) return none({ kind: 'no-ip' });
  if (exclusion !== undefined) return none({ kind: 'node-excluded', node: self, why: exclusion });
  // externalTrafficPolicy Local: kube-proxy drops traffic at a node without a local endpoint,
  // so only nodes with one announce. Cluster: every node forwards, but only if some endpoint
  // exists anywhere (MetalLB "noEndpoints").
  if (service.externalTrafficPolicy === 'Local' && serving?.has(self) !== true)
    return none({ kind: 'no-local-endpoints', node: self });
  if (serving === undefined || serving.size === 0) return none({ kind: 'no-endpoints' });

  const routes = new Map<string, Contribution[]>();
  for (const address of service.ips) {
    const ip = formatIP(address);
    const lookup = poolOf(config, service, address);
    const pool = lookup.kind === 'found' ? config.pools.get(lookup.name) : undefined;
    if (lookup.kind !== 'found' || pool === undefined) {
      reasons.push(
        lookup.kind === 'none' ? { kind: 'no-pool', ip } : { kind: 'unknown-pool', ip, pool: lookup.name },
      );
      continue;
    }
    const ads = config.bgpAdvertisements.filter(
      (ad) => ad.pools.includes(pool.name) && anySelects(ad.serviceSelectors, service.labels),
    );
    if (ads.length === 0) {
      reasons.push({ kind: 'no-bgp-advertisement', ip, pool: pool.name });
      continue;
    }
    const forNode = ads.filter((ad) => anySelects(ad.nodeSelectors, labels));
    if (forNode.length === 0) {
      reasons.push({ kind: 'node-not-selected', ip, node: self });
      continue;
    }
    const minimum = minimumAggregation(pool, address);
    const maximum = familyBits(address.family);
    let usable = 0;
    let sent = false;
    for (const ad of forNode) {
      const length = address.family === 4 ? ad.aggregationLength : ad.aggregationLengthV6;
      if (!Number.isInteger(length) || length < minimum || length > maximum) {
        reasons.push({
          kind: 'bad-aggregation-length',
          ip,
          advertisement: `${ad.ref.namespace}/${ad.ref.name}`,
          length,
          minimum,
          maximum,
        });
        continue;
      }
      usable++;
      const network: IPAddress = {
        family: address.family,
        value: address.value & prefixMask(address.family, length),
      };
      const prefix = `${formatIP(network)}/${length}`;
      for (const peer of peerNames) {
        if (ad.peers.length > 0 && !ad.peers.includes(peer)) continue;
        let list = routes.get(peer);
        if (list === undefined) routes.set(peer, (list = []));
        list.push({ prefix, address: network, length, advertisement: ad });
        sent = true;
      }
    }
    if (usable > 0 && !sent) reasons.push({ kind: 'no-peer', ip, node: self });
  }
  return { routes, announced: [...routes.keys()].sort(), reasons };
}

/**
 * The route one prefix makes from every Service's contributions to it (to one peer):
 * communities are the union, localPref the highest given, Services sorted.
 */
export function routeOf(contributions: Iterable<[service: string, Contribution]>): BgpRoute | undefined {
  let first: Contribution | undefined;
  let localPref: number | undefined;
  const communities = new Set<number>();
  const large = new Map<string, LargeCommunityValue>();
  const services = new Set<string>();
  for (const [service, c] of contributions) {
    first ??= c;
    services.add(service);
    const ad = c.advertisement;
    if (ad.localPref !== undefined && ad.localPref !== 0) localPref = Math.max(localPref ?? 0, ad.localPref);
    for (const cm of ad.communities) {
      if (cm.kind === 'standard') communities.add(cm.value);
      else
        large.set(`${cm.global}:${cm.local1}:${cm.local2}`, {
          global: cm.global,
          local1: cm.local1,
          local2: cm.local2,
        });
    }
  }
  if (first === undefined) return undefined;
  return {
    prefix: first.prefix,
    address: first.address,
    length: first.length,
    ...(localPref !== undefined ? { localPref } : {}),
    communities: [...communities].sort((a, b) => a - b),
    largeCommunities: [...large.values()].sort(
      (a, b) => a.global - b.global || a.local1 - b.local1 || a.local2 - b.local2,
    ),
    services: [...services].sort(),
  };
}

/** Plain code-unit order: deterministic, and far cheaper than localeCompare at 10,000 keys. */
export const byKey = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export function planBGP(config: Config, input: PlannerInput, self: string): BgpPlan {
  const scope = planScope(config, input.nodes, self);
  const tables = new Map<string, Map<string, [string, Contribution][]>>(
    scope.peerNames.map((p) => [p, new Map()]),
  );
  const reasons = new Map<string, BgpNotAnnouncedReason[]>();
  const announced = new Map<string, readonly string[]>();
  for (const service of [...input.services].sort((a, b) => byKey(a.key, b.key))) {
    const plan = planService(config, scope, service, input.servingNodes.get(service.key));
    if (plan.reasons.length > 0) reasons.set(service.key, [...plan.reasons]);
    if (plan.announced.length > 0) announced.set(service.key, plan.announced);
    for (const [peer, list] of plan.routes) {
      const table = tables.get(peer)!;
      for (const c of list) {
        const entry = table.get(c.prefix);
        if (entry) entry.push([service.key, c]);
        else table.set(c.prefix, [[service.key, c]]);
      }
    }
  }
  const peers = new Map<string, readonly BgpRoute[]>();
  for (const [peer, table] of tables)
    peers.set(peer, [...table.values()].map((cs) => routeOf(cs)!).sort(compareRoutes));
  return { node: self, peers, announced, notAnnounced: reasons };
}

/** Empty selector list ⇒ everything (MetalLB's nodeSelectors and serviceSelectors). */
function anySelects(selectors: readonly LabelSelector[], labels: Labels): boolean {
  return selectors.length === 0 || selectors.some((s) => matchesLabelSelector(s, labels));
}

/**
 * MetalLB's rule (internal/config validateBGPAdvPerPool): the aggregation length may not be
 * shorter than the widest CIDR block of the spec.addresses entry (a range counts as its
 * summarizing CIDRs). An IP outside every entry (a stale pool annotation) gets host routes only.
 */
function minimumAggregation(pool: Pool, address: IPAddress): number {
  const entry = pool.ranges.find((r) => rangeContains(r, address));
  if (entry === undefined) return familyBits(address.family);
  let widest = widestBlock.get(entry);
  if (widest === undefined) {
    widest = Math.min(...rangeToCIDRs(entry).map((c) => c.prefixLength));
    widestBlock.set(entry, widest);
  }
  return widest;
}

/** Per pool entry (the config's own objects): its widest CIDR block, computed once. */
const widestBlock = new WeakMap<Pool['ranges'][number], number>();

export function compareRoutes(a: BgpRoute, b: BgpRoute): number {
  return compareIP(a.address, b.address) || a.length - b.length;
}
