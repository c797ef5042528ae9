// The bridge from a plan to the session: one peer's routes as the Announcements its AdjRibOut
// takes (speaker/bgp/session/speaker-rib.ts). The session fixes ORIGIN, AS_PATH, NEXT_HOP and whether
// LOCAL_PREF goes out (internal peers only, RFC 4271 §5.1.5); the plan supplies the rest.

import type { Announcement } from '../session/speaker-rib.js';
import type { BgpRoute } from './types.js';

/** `plan.peers.get(name)` → `rib.setDesired(toRibRoutes(...))`; undefined (no such peer) ⇒ none. */
export function toRibRoutes(routes: readonly BgpRoute[] | undefined): Announcement[] {
  return (routes ?? []).map(toAnnouncement);
}

export function toAnnouncement(r: BgpRoute): Announcement {
  const a: Announcement = { prefix: r.prefix };
  if (r.localPref !== undefined) a.localPref = r.localPref;
  if (r.communities.length > 0) a.communities = [...r.communities];
  if (r.largeCommunities.length > 0) a.largeCommunities = r.largeCommunities.map((c) => ({ ...c }));
  return a;
}

/** One peer's route changes (PlanChanges.routes) as AdjRibOut.update takes them. */
export function* toRibChanges(
  changes: ReadonlyMap<string, BgpRoute | undefined>,
): Generator<readonly [string, Announcement | undefined]> {
  for (const [prefix, route] of changes) yield [prefix, route && toAnnouncement(route)];
}
