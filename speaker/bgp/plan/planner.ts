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
import type { PlannerInput } from '../../layer2/plan/types.js';
import { excludeLBLabel } from '../../layer2/plan/types.js';
import type {
  BgpNotAnnouncedReason,
  BgpPlan,
  BgpRoute,
  LargeCommunityValue,
  NodeExclusion,
} from './types.js';

interface RouteAcc {
  readonly address: IPAddress;
  readonly length: number;
  localPref?: number;
  readonly communities: Set<number>;
  readonly large: Map<string, LargeCommunityValue>;
  readonly services: Set<string>;
}

export function planBGP(config: Config, input: PlannerInput, self: string): BgpPlan {
  const reasons = new Map<string, BgpNotAnnouncedReason[]>();
  const addReason = (service: string, reason: BgpNotAnnouncedReason): void => {
    const list = reasons.get(service) ?? [];
    list.push(reason);
    reasons.set(service, list);
  };
  const node = input.nodes.find((n) => n.name === self);
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
  const routes = new Map<string, Map<string, RouteAcc>>(peerNames.map((p) => [p, new Map()]));
  const announced = new Map<string, Set<string>>();

  for (const service of [...input.services].sort((a, b) => a.key.localeCompare(b.key))) {
    if (service.ips.length === 0) {
      addReason(service.key, { kind: 'no-ip' });
      continue;
    }
    if (exclusion !== undefined) {
      addReason(service.key, { kind: 'node-excluded', node: self, why: exclusion });
      continue;
    }
    const serving = input.servingNodes.get(service.key);
    // externalTrafficPolicy Local: kube-proxy drops traffic at a node without a local endpoint,
    // so only nodes with one announce. Cluster: every node forwards, but only if some endpoint
    // exists anywhere (MetalLB "noEndpoints").
    if (service.externalTrafficPolicy === 'Local' && serving?.has(self) !== true) {
      addReason(service.key, { kind: 'no-local-endpoints', node: self });
      continue;
    }
    if (serving === undefined || serving.size === 0) {
      addReason(service.key, { kind: 'no-endpoints' });
      continue;
    }
    for (const address of service.ips) {
      const ip = formatIP(address);
      const lookup = poolOf(config, service, address);
      const pool = lookup.kind === 'found' ? config.pools.get(lookup.name) : undefined;
      if (lookup.kind !== 'found' || pool === undefined) {
        addReason(
          service.key,
          lookup.kind === 'none' ? { kind: 'no-pool', ip } : { kind: 'unknown-pool', ip, pool: lookup.name },
        );
        continue;
      }
      const ads = config.bgpAdvertisements.filter(
        (ad) => ad.pools.includes(pool.name) && anySelects(ad.serviceSelectors, service.labels),
      );
      if (ads.length === 0) {
        addReason(service.key, { kind: 'no-bgp-advertisement', ip, pool: pool.name });
        continue;
      }
      const forNode = ads.filter((ad) => anySelects(ad.nodeSelectors, labels));
      if (forNode.length === 0) {
        addReason(service.key, { kind: 'node-not-selected', ip, node: self });
        continue;
      }
      const minimum = minimumAggregation(pool, address);
      const maximum = familyBits(address.family);
      let usable = 0;
      let sent = false;
      for (const ad of forNode) {
        const length = address.family === 4 ? ad.aggregationLength : ad.aggregationLengthV6;
        if (!Number.isInteger(length) || length < minimum || length > maximum) {
          addReason(service.key, {
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
        const targets = peerNames.filter((p) => ad.peers.length === 0 || ad.peers.includes(p));
        for (const peer of targets) {
          addRoute(routes.get(peer)!, service.key, address, length, ad);
          const set = announced.get(service.key) ?? new Set<string>();
          set.add(peer);
          announced.set(service.key, set);
          sent = true;
        }
      }
      if (usable > 0 && !sent) addReason(service.key, { kind: 'no-peer', ip, node: self });
    }
  }

  const peers = new Map<string, readonly BgpRoute[]>();
  for (const [peer, table] of routes) peers.set(peer, [...table.entries()].map(toRoute).sort(compareRoutes));
  return {
    node: self,
    peers,
    announced: new Map([...announced].map(([s, set]) => [s, [...set].sort()])),
    notAnnounced: reasons,
  };
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
  return Math.min(...rangeToCIDRs(entry).map((c) => c.prefixLength));
}

function addRoute(
  table: Map<string, RouteAcc>,
  service: string,
  ip: IPAddress,
  length: number,
  ad: BGPAdvertisement,
): void {
  const address: IPAddress = { family: ip.family, value: ip.value & prefixMask(ip.family, length) };
  const key = `${formatIP(address)}/${length}`;
  let acc = table.get(key);
  if (acc === undefined) {
    acc = { address, length, communities: new Set(), large: new Map(), services: new Set() };
    table.set(key, acc);
  }
  acc.services.add(service);
  if (ad.localPref !== undefined && ad.localPref !== 0)
    acc.localPref = Math.max(acc.localPref ?? 0, ad.localPref);
  for (const c of ad.communities) {
    if (c.kind === 'standard') acc.communities.add(c.value);
    else
      acc.large.set(`${c.global}:${c.local1}:${c.local2}`, {
        global: c.global,
        local1: c.local1,
        local2: c.local2,
      });
  }
}

function toRoute([prefix, acc]: [string, RouteAcc]): BgpRoute {
  return {
    prefix,
    address: acc.address,
    length: acc.length,
    ...(acc.localPref !== undefined ? { localPref: acc.localPref } : {}),
    communities: [...acc.communities].sort((a, b) => a - b),
    largeCommunities: [...acc.large.values()].sort(
      (a, b) => a.global - b.global || a.local1 - b.local1 || a.local2 - b.local2,
    ),
    services: [...acc.services].sort(),
  };
}

function compareRoutes(a: BgpRoute, b: BgpRoute): number {
  return compareIP(a.address, b.address) || a.length - b.length;
}
