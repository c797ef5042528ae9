// The BGP announcement planner: per peer, the prefixes this node announces (planner.ts), the
// change between two plans (diff.ts) and the hand-off to a session's Adj-RIB-Out (rib-routes.ts).
// Pure; the input is the L2 planner's PlannerInput.

export type {
  BgpNotAnnouncedReason,
  BgpPlan,
  BgpRoute,
  LargeCommunityValue,
  NodeExclusion,
  RouteChanges,
} from './types.js';
export { bgpReasonText } from './types.js';
export { planBGP } from './planner.js';
export { diffRoutes, sameAttributes } from './diff.js';
export { toAnnouncement, toRibChanges, toRibRoutes } from './rib-routes.js';
export { BgpPlanState, type PlanChanges, type PlanStateInput } from './plan-state.js';
