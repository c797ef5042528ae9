// Which nodes may answer ARP/NDP for which Service IP, on which interfaces, with which
// preference — MetalLB's L2 eligibility rules (MetalLB's speaker/layer2_controller.go ShouldAnnounce), without liveness.
// Liveness and the choice of one owner are ../ownership/'s job (owner-index.ts); this depends only on the
// Kubernetes view, which every speaker shares, so every speaker computes the same plan.

import type { LabelSelector } from '../../../lib/kube/label-selector.js';
import { matchesLabelSelector } from '../../../lib/kube/label-selector.js';
import type { Config, L2Advertisement } from '../../../lib/config/types.js';
import type { IPAddress } from '../../../lib/ip/index.js';
import { compareIP, formatIP, rangeContains } from '../../../lib/ip/index.js';
import type {
  InterfaceSet,
  IPPlan,
  L2Node,
  L2Plan,
  L2Service,
  NotAnnouncedReason,
  PlannerInput,
} from './types.js';
import { excludeLBLabel } from './types.js';

interface ServiceIPPlan {
  readonly service: string;
  readonly eligible: ReadonlySet<string>;
  readonly weights: ReadonlyMap<string, number>;
  readonly interfaces: ReadonlyMap<string, InterfaceSet>;
}

export function planL2(config: Config, input: PlannerInput): L2Plan {
  const reasons = new Map<string, NotAnnouncedReason[]>();
  const addReason = (service: string, reason: NotAnnouncedReason): void => {
    const list = reasons.get(service) ?? [];
    list.push(reason);
    reasons.set(service, list);
  };
  // The nodes no advertisement can ever use (MetalLB speaker: NetworkUnavailable and the
  // exclude-from-external-load-balancers label remove a node from every election).
  const usableNodes = input.nodes.filter(
    (n) => !n.networkUnavailable && !Object.hasOwn(n.labels, excludeLBLabel),
  );

  const perIP = new Map<string, { address: IPAddress; parts: ServiceIPPlan[] }>();
  // Code-unit order (the cluster view's): localeCompare cost seconds per plan at 10,000 Services.
  for (const service of [...input.services].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))) {
    if (service.ips.length === 0) {
      addReason(service.key, { kind: 'no-ip' });
      continue;
    }
    const serving = input.servingNodes.get(service.key);
    // MetalLB announces neither a Cluster nor a Local Service without an endpoint: traffic
    // would only be dropped at the node.
    if (serving === undefined || serving.size === 0) {
      addReason(service.key, { kind: 'no-endpoints' });
      continue;
    }
    for (const address of service.ips) {
      const ip = formatIP(address);
      const pool = poolOf(config, service, address);
      if (pool.kind !== 'found') {
        addReason(
          service.key,
          pool.kind === 'unknown' ? { kind: 'unknown-pool', ip, pool: pool.name } : { kind: 'no-pool', ip },
        );
        continue;
      }
      const ads = config.l2Advertisements.filter(
        (ad) => ad.pools.includes(pool.name) && anySelects(ad.serviceSelectors, service.labels),
      );
      if (ads.length === 0) {
        addReason(service.key, { kind: 'no-l2-advertisement', ip, pool: pool.name });
        continue;
      }
      const part = planServiceIP(service, ads, usableNodes, serving);
      const entry = perIP.get(ip) ?? { address, parts: [] };
      entry.parts.push(part);
      perIP.set(ip, entry);
    }
  }

  const ips: IPPlan[] = [];
  for (const [ip, { address, parts }] of perIP) {
    const plan = mergeShared(ip, address, parts);
    if (plan.eligible.length === 0) {
      for (const s of plan.services) addReason(s, { kind: 'no-eligible-node', ip });
      continue;
    }
    ips.push(plan);
  }
  ips.sort((a, b) => compareIP(a.address, b.address));
  return { ips, notAnnounced: reasons };
}

export type PoolLookup =
  { kind: 'found'; name: string } | { kind: 'unknown'; name: string } | { kind: 'none' };

/** The pool an IP of the Service came from: the annotation, else the pool containing it. Shared
 * with the BGP planner (speaker/bgp/plan) so both modes agree. */
export function poolOf(config: Config, service: L2Service, ip: IPAddress): PoolLookup {
  if (service.pool !== undefined) {
    return config.pools.has(service.pool)
      ? { kind: 'found', name: service.pool }
      : { kind: 'unknown', name: service.pool };
  }
  // Pools do not overlap once the config builder has validated them; the first by name wins
  // if they ever do, so that every speaker picks the same one.
  const names = [...config.pools.keys()].sort();
  for (const name of names) {
    const pool = config.pools.get(name);
    if (pool?.ranges.some((r) => rangeContains(r, ip))) return { kind: 'found', name };
  }
  return { kind: 'none' };
}

/** Empty selector list ⇒ everything (MetalLB's serviceSelectors and nodeSelectors). */
function anySelects(selectors: readonly LabelSelector[], labels: Readonly<Record<string, string>>): boolean {
  return selectors.length === 0 || selectors.some((s) => matchesLabelSelector(s, labels));
}

function planServiceIP(
  service: L2Service,
  ads: readonly L2Advertisement[],
  nodes: readonly L2Node[],
  serving: ReadonlySet<string>,
): ServiceIPPlan {
  const eligible = new Set<string>();
  const weights = new Map<string, number>();
  const interfaces = new Map<string, InterfaceSet>();
  for (const node of nodes) {
    // externalTrafficPolicy Local: only a node with a local endpoint may take the traffic,
    // or kube-proxy drops it.
    if (service.externalTrafficPolicy === 'Local' && !serving.has(node.name)) continue;
    const selecting = ads.filter((ad) => anySelects(ad.nodeSelectors, node.labels));
    if (selecting.length === 0) continue;
    eligible.add(node.name);
    let weight = 0;
    let all = false;
    const names = new Set<string>();
    for (const ad of selecting) {
      for (const pref of ad.preferredNodeSelectors) {
        if (matchesLabelSelector(pref.preference, node.labels)) weight += pref.weight;
      }
      if (ad.interfaces.length === 0) all = true;
      for (const name of ad.interfaces) names.add(name);
    }
    if (weight > 0) weights.set(node.name, weight);
    interfaces.set(node.name, all ? 'all' : [...names].sort());
  }
  return { service: service.key, eligible, weights, interfaces };
}

/**
 * Services sharing an IP (metallb.io/allow-shared-ip) need one owner that can serve all of
 * them: the eligible nodes are the intersection, the interfaces the union, the weight the
 * highest any of them gives.
 */
function mergeShared(ip: string, address: IPAddress, parts: readonly ServiceIPPlan[]): IPPlan {
  const [first, ...rest] = parts;
  if (first === undefined) throw new Error(`mergeShared: no service for ${ip}`);
  const eligible = [...first.eligible].filter((n) => rest.every((p) => p.eligible.has(n))).sort();
  const weights = new Map<string, number>();
  const interfaces = new Map<string, InterfaceSet>();
  for (const node of eligible) {
    let weight = 0;
    let ifaces: InterfaceSet = [];
    for (const p of parts) {
      weight = Math.max(weight, p.weights.get(node) ?? 0);
      ifaces = unionInterfaces(ifaces, p.interfaces.get(node) ?? []);
    }
    if (weight > 0) weights.set(node, weight);
    interfaces.set(node, ifaces);
  }
  return { ip, address, services: parts.map((p) => p.service).sort(), eligible, weights, interfaces };
}

function unionInterfaces(a: InterfaceSet, b: InterfaceSet): InterfaceSet {
  if (a === 'all' || b === 'all') return 'all';
  return [...new Set([...a, ...b])].sort();
}
