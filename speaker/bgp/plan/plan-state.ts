// The BGP plan kept up to date one Service at a time. planBGP (planner.ts) plans every Service;
// at 10,000 Services that is a long task on every change, and the event loop it holds is the
// one that sends KEEPALIVEs and BFD packets. This keeps each Service's plan and each route's
// contributions, so a change to one Service re-plans that Service and re-derives only the
// routes it touches; the result is the same as planBGP's (the unit tests compare them). A new
// configuration or a change to this node's scope (its labels, exclusion, the peers selecting
// it) re-plans everything, as it affects every Service. Pure: no I/O, no clock.

import type { Config } from '../../../lib/config/types.js';
import type { L2Service, PlannerInput } from '../../layer2/plan/types.js';
import {
  compareRoutes,
  planScope,
  planService,
  routeOf,
  type Contribution,
  type PlanScope,
  type ServicePlan,
} from './planner.js';
import type { BgpNotAnnouncedReason, BgpRoute } from './types.js';

/** What the state reads of the cluster: one Service by key, its serving nodes, the nodes. */
export interface PlanStateInput {
  readonly nodes: PlannerInput['nodes'];
  readonly serviceByKey: ReadonlyMap<string, L2Service>;
  readonly servingNodes: PlannerInput['servingNodes'];
}

/** What an update changed. */
export interface PlanChanges {
  /**
   * Everything was re-planned (first update, new configuration, new scope): `routes` holds
   * every route of every peer, `announced` every announced Service; start from scratch.
   */
  readonly full: boolean;
  /** Peer → prefix → its route now, or undefined when it is no longer announced to that peer. */
  readonly routes: ReadonlyMap<string, ReadonlyMap<string, BgpRoute | undefined>>;
  /** Service key → the peers it is announced to now; empty when none (any more). */
  readonly announced: ReadonlyMap<string, readonly string[]>;
}

export class BgpPlanState {
  private config: Config | undefined;
  private scope: PlanScope | undefined;
  private scopeKey = '';
  private readonly plans = new Map<string, ServicePlan>();
  /** Peer → prefix → Service → its contributions to that route. */
  private readonly contributions = new Map<string, Map<string, Map<string, readonly Contribution[]>>>();
  /** Peer → prefix → the route as last derived. */
  private readonly routes = new Map<string, Map<string, BgpRoute>>();

  /** The peers this node holds sessions with (name order); empty before the first update. */
  get peers(): readonly string[] {
    return this.scope?.peerNames ?? [];
  }

  /** One peer's routes, sorted by address then length (as planBGP's). O(routes): for tests and
   * full hand-overs, not for every change. */
  routesOf(peer: string): BgpRoute[] {
    return [...(this.routes.get(peer)?.values() ?? [])].sort(compareRoutes);
  }

  /** Why (some of) a Service's IPs are not announced from this node. */
  reasonsOf(service: string): readonly BgpNotAnnouncedReason[] {
    return this.plans.get(service)?.reasons ?? [];
  }

  /**
   * Brings the plan up to date. `changed`: the Service keys whose Service or endpoints changed
   * since the last update, or 'all' when anything else may have (Nodes).
   */
  update(
    config: Config,
    input: PlanStateInput,
    self: string,
    changed: ReadonlySet<string> | 'all',
  ): PlanChanges {
    const scope = planScope(config, input.nodes, self);
    const scopeKey = JSON.stringify(scope);
    if (config !== this.config || scopeKey !== this.scopeKey) {
      this.config = config;
      this.scope = scope;
      this.scopeKey = scopeKey;
      return this.replanAll(input);
    }
    // Nodes changed, but not this node's scope: no Service's plan depends on anything else.
    if (changed === 'all') return { full: false, routes: new Map(), announced: new Map() };
    const touched = new Map<string, Set<string>>();
    const announced = new Map<string, readonly string[]>();
    for (const key of changed) {
      const before = this.plans.get(key);
      this.remove(key, touched);
      const after = this.add(key, input, touched);
      const was = before?.announced ?? [];
      const now = after?.announced ?? [];
      if (was.length !== now.length || was.some((p, i) => p !== now[i])) announced.set(key, now);
    }
    const routes = new Map<string, Map<string, BgpRoute | undefined>>();
    for (const [peer, prefixes] of touched) {
      const out = new Map<string, BgpRoute | undefined>();
      const table = this.contributions.get(peer);
      const current = this.routes.get(peer)!;
      for (const prefix of prefixes) {
        const route = routeOf(flatten(table?.get(prefix)));
        const old = current.get(prefix);
        if (route === undefined) {
          if (old === undefined) continue;
          current.delete(prefix);
        } else {
          current.set(prefix, route);
          if (old !== undefined && sameRoute(old, route)) continue;
        }
        out.set(prefix, route);
      }
      if (out.size > 0) routes.set(peer, out);
    }
    return { full: false, routes, announced };
  }

  private replanAll(input: PlanStateInput): PlanChanges {
    this.plans.clear();
    this.contributions.clear();
    this.routes.clear();
    for (const peer of this.peers) {
      this.contributions.set(peer, new Map());
      this.routes.set(peer, new Map());
    }
    const touched = new Map<string, Set<string>>();
    for (const key of input.serviceByKey.keys()) this.add(key, input, touched);
    const routes = new Map<string, Map<string, BgpRoute | undefined>>();
    for (const peer of this.peers) {
      const table = this.contributions.get(peer)!;
      const current = this.routes.get(peer)!;
      const out = new Map<string, BgpRoute | undefined>();
      for (const [prefix, byService] of table) {
        const route = routeOf(flatten(byService))!;
        current.set(prefix, route);
        out.set(prefix, route);
      }
      routes.set(peer, out);
    }
    const announced = new Map<string, readonly string[]>();
    for (const [key, plan] of this.plans) if (plan.announced.length > 0) announced.set(key, plan.announced);
    return { full: true, routes, announced };
  }

  private remove(key: string, touched: Map<string, Set<string>>): void {
    const plan = this.plans.get(key);
    if (plan === undefined) return;
    this.plans.delete(key);
    for (const [peer, list] of plan.routes) {
      const table = this.contributions.get(peer);
      for (const c of list) {
        const byService = table?.get(c.prefix);
        byService?.delete(key);
        if (byService?.size === 0) table!.delete(c.prefix);
        touch(touched, peer, c.prefix);
      }
    }
  }

  private add(
    key: string,
    input: PlanStateInput,
    touched: Map<string, Set<string>>,
  ): ServicePlan | undefined {
    const service = input.serviceByKey.get(key);
    if (service === undefined) return undefined;
    const plan = planService(this.config!, this.scope!, service, input.servingNodes.get(key));
    this.plans.set(key, plan);
    for (const [peer, list] of plan.routes) {
      const table = this.contributions.get(peer);
      if (table === undefined) continue;
      // One Service may give a prefix several times (two IPs in one aggregate, two ads).
      const mine = new Map<string, Contribution[]>();
      for (const c of list) {
        const l = mine.get(c.prefix);
        if (l) l.push(c);
        else mine.set(c.prefix, [c]);
      }
      for (const [prefix, cs] of mine) {
        let byService = table.get(prefix);
        if (byService === undefined) table.set(prefix, (byService = new Map()));
        byService.set(key, cs);
        touch(touched, peer, prefix);
      }
    }
    return plan;
  }
}

function touch(touched: Map<string, Set<string>>, peer: string, prefix: string): void {
  let set = touched.get(peer);
  if (set === undefined) touched.set(peer, (set = new Set()));
  set.add(prefix);
}

function* flatten(
  byService: ReadonlyMap<string, readonly Contribution[]> | undefined,
): Generator<[string, Contribution]> {
  if (byService === undefined) return;
  for (const [service, list] of byService) for (const c of list) yield [service, c];
}

/** Same route on the wire and in status (the Services behind it included). */
function sameRoute(a: BgpRoute, b: BgpRoute): boolean {
  const same = <T>(x: readonly T[], y: readonly T[], eq: (p: T, q: T) => boolean): boolean =>
    x.length === y.length && x.every((v, i) => eq(v, y[i]!));
  return (
    a.localPref === b.localPref &&
    same(a.communities, b.communities, (p, q) => p === q) &&
    same(
      a.largeCommunities,
      b.largeCommunities,
      (p, q) => p.global === q.global && p.local1 === q.local1 && p.local2 === q.local2,
    ) &&
    same(a.services, b.services, (p, q) => p === q)
  );
}
