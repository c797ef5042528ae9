// The L2 announcement planner: which nodes may announce each Service IP (planner.ts) and
// which one owns it (ownership.ts). Pure; the speaker feeds it the Kubernetes view and the
// membership view and carries out the result.

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
export type { Election, IPOwnership, MemberView } from '../ownership/ownership.js';
export { electionHash, electOwners } from '../ownership/ownership.js';
