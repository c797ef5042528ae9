// The L2 announcement planner: which nodes may announce each Service IP (planner.ts). Pure;
// which one of them owns it is ../ownership/'s business (rendezvous order over the live ones).

export type {
  InterfaceSet,
  IPPlan,
  L2Node,
  L2Plan,
  L2Service,
  NotAnnouncedReason,
  PlannerInput,
} from './types.js';
export { excludeLBLabel, poolAnnotation, reasonText } from './types.js';
export { planL2 } from './planner.js';
