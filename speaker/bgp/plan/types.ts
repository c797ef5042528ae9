// The BGP planner's output types. Its input is the L2 planner's PlannerInput (Services, Nodes,
// serving endpoints): both modes read the same Kubernetes view.

import type { IPAddress } from '../../../lib/ip/index.js';

/** RFC 8092 large community; the same shape as speaker/bgp's LargeCommunity. */
export interface LargeCommunityValue {
  readonly global: number;
  readonly local1: number;
  readonly local2: number;
}

/** One prefix this node announces to one peer. */
export interface BgpRoute {
  /** Canonical text, "10.0.0.0/24" or "fd00::/120": the route's identity in plans and diffs. */
  readonly prefix: string;
  /** The network address: the Service IP with the bits past `length` cleared. */
  readonly address: IPAddress;
  /** aggregationLength (IPv4) or aggregationLengthV6 (IPv6) of the advertisement. */
  readonly length: number;
  /** The highest localPref of the advertisements that give one; absent when none does. */
  readonly localPref?: number;
  /** RFC 1997 values (ASN << 16 | value), sorted, no duplicates. */
  readonly communities: readonly number[];
  /** Sorted by global, local1, local2; no duplicates. */
  readonly largeCommunities: readonly LargeCommunityValue[];
  /** The Services this prefix carries (several when shared or aggregated), sorted. */
  readonly services: readonly string[];
}

export type NodeExclusion = 'not-found' | 'network-unavailable' | 'exclude-label';

export type BgpNotAnnouncedReason =
  | { readonly kind: 'no-ip' }
  | { readonly kind: 'node-excluded'; readonly node: string; readonly why: NodeExclusion }
  | { readonly kind: 'no-endpoints' }
  | { readonly kind: 'no-local-endpoints'; readonly node: string }
  | { readonly kind: 'unknown-pool'; readonly ip: string; readonly pool: string }
  | { readonly kind: 'no-pool'; readonly ip: string }
  | { readonly kind: 'no-bgp-advertisement'; readonly ip: string; readonly pool: string }
  | { readonly kind: 'node-not-selected'; readonly ip: string; readonly node: string }
  | {
      readonly kind: 'bad-aggregation-length';
      readonly ip: string;
      /** "namespace/name" of the BGPAdvertisement left out for this IP. */
      readonly advertisement: string;
      readonly length: number;
      /** The shortest length MetalLB accepts for the pool entry holding the IP. */
      readonly minimum: number;
      /** 32 or 128. */
      readonly maximum: number;
    }
  | { readonly kind: 'no-peer'; readonly ip: string; readonly node: string };

export interface BgpPlan {
  readonly node: string;
  /**
   * Every BGPPeer this node should hold a session with (its nodeSelectors select the node), by
   * name, in name order, each with the routes to announce to it sorted by address then length.
   * A peer with no routes is still listed: the session stays up, and anything it had is
   * withdrawn — MetalLB keeps sessions on an excluded node too.
   */
  readonly peers: ReadonlyMap<string, readonly BgpRoute[]>;
  /** Service key → the peers at least one of its IPs is announced to, sorted (ServiceBGPStatus peers). */
  readonly announced: ReadonlyMap<string, readonly string[]>;
  /** Service key → why (some of) its IPs are not announced from this node. */
  readonly notAnnounced: ReadonlyMap<string, readonly BgpNotAnnouncedReason[]>;
}

/** One peer's change between two plans. */
export interface RouteChanges {
  /** New routes and routes whose attributes (localPref, communities) changed. */
  readonly announce: readonly BgpRoute[];
  /** Prefixes announced before and absent now. */
  readonly withdraw: readonly string[];
}

/** One sentence for an Event or a status condition. */
export function bgpReasonText(reason: BgpNotAnnouncedReason): string {
  switch (reason.kind) {
    case 'no-ip':
      return 'the Service has no IP in status.loadBalancer.ingress';
    case 'node-excluded':
      return reason.why === 'not-found'
        ? `node ${reason.node} has no Node object, so it announces nothing`
        : reason.why === 'network-unavailable'
          ? `node ${reason.node} has condition NetworkUnavailable=True, so it announces nothing`
          : `node ${reason.node} is labeled node.kubernetes.io/exclude-from-external-load-balancers, so it announces nothing`;
    case 'no-endpoints':
      return 'the Service has no ready or serving endpoint';
    case 'no-local-endpoints':
      return `externalTrafficPolicy is Local and node ${reason.node} has no ready or serving endpoint of the Service`;
    case 'unknown-pool':
      return `${reason.ip}: pool ${JSON.stringify(reason.pool)} does not exist`;
    case 'no-pool':
      return `${reason.ip}: no IPAddressPool contains this address`;
    case 'no-bgp-advertisement':
      return `${reason.ip}: no BGPAdvertisement applies to pool ${JSON.stringify(reason.pool)} and this Service`;
    case 'node-not-selected':
      return `${reason.ip}: the nodeSelectors of every applicable BGPAdvertisement leave out node ${reason.node}`;
    case 'bad-aggregation-length':
      return reason.length < reason.minimum
        ? `${reason.ip}: BGPAdvertisement ${reason.advertisement} is skipped: aggregation length ${reason.length} is shorter than /${reason.minimum}, the widest block of the pool entry holding the address, so the route would cover addresses outside the pool`
        : `${reason.ip}: BGPAdvertisement ${reason.advertisement} is skipped: aggregation length ${reason.length} is not an integer from ${reason.minimum} to ${reason.maximum}`;
    case 'no-peer':
      return `${reason.ip}: no BGPPeer both selects node ${reason.node} and is allowed by the applicable BGPAdvertisements' peers`;
  }
}
