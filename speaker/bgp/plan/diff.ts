// What changes between two plans, per peer: the routes to (re)announce and the prefixes to
// withdraw. The speaker's AdjRibOut (speaker/bgp/session/speaker-rib.ts) computes the same thing against
// what it has actually sent, so the session path does not need this; it is for logs, Events and
// tests that want to say "this change withdraws that prefix".

import type { BgpRoute, RouteChanges } from './types.js';

/**
 * Peers present in either plan whose routes differ, in name order. A route counts as changed
 * when its localPref or communities differ; a change in the Services behind a prefix alone
 * sends nothing to the peer, so it is not one. A peer missing from `next` withdraws everything.
 */
export function diffRoutes(
  previous: ReadonlyMap<string, readonly BgpRoute[]>,
  next: ReadonlyMap<string, readonly BgpRoute[]>,
): Map<string, RouteChanges> {
  const out = new Map<string, RouteChanges>();
  const peers = [...new Set([...previous.keys(), ...next.keys()])].sort();
  for (const peer of peers) {
    const before = new Map((previous.get(peer) ?? []).map((r) => [r.prefix, r]));
    const after = next.get(peer) ?? [];
    const announce = after.filter((r) => {
      const old = before.get(r.prefix);
      return old === undefined || !sameAttributes(old, r);
    });
    const kept = new Set(after.map((r) => r.prefix));
    const withdraw = [...before.keys()].filter((p) => !kept.has(p));
    if (announce.length > 0 || withdraw.length > 0) out.set(peer, { announce, withdraw });
  }
  return out;
}

/** Same path attributes on the wire (the lists are sorted and deduplicated by the planner). */
export function sameAttributes(a: BgpRoute, b: BgpRoute): boolean {
  return (
    a.localPref === b.localPref &&
    a.communities.length === b.communities.length &&
    a.communities.every((c, i) => c === b.communities[i]) &&
    a.largeCommunities.length === b.largeCommunities.length &&
    a.largeCommunities.every((c, i) => {
      const d = b.largeCommunities[i];
      return d !== undefined && c.global === d.global && c.local1 === d.local1 && c.local2 === d.local2;
    })
  );
}
