// Who owns each Service IP: sticky, yet computed by every speaker on its own from knowledge
// all speakers share, so they agree without writing anything to the Kubernetes API.
//
// Shared knowledge: the plan (from the Kubernetes view) and the membership view, in which
// every speaker's heartbeat carries its liveness, its data-plane health and its *claims*: the
// IPs it currently owns, each with a term. The rule, per IP:
//
//   candidates = eligible nodes (plan) that are alive and healthy (membership)
//   1. if candidates claim the IP, the owner is the claimant with the lowest term, then the
//      highest preferred weight, then the lowest sha256(node#ip): the incumbent keeps it.
//   2. otherwise the owner is the candidate with the highest preferred weight, then the lowest
//      sha256(node#ip) (MetalLB's hash), and it claims with term = highest term seen + 1.
//
// Why this is sticky: a node that joins holds no claim, so rule 1 keeps the incumbent; an IP
// moves only when its claimant dies, leaves, turns unhealthy or stops being eligible. A node
// does not claim before it is "ready" (it has listened for a full failure-detection window
// since it started, so it has heard every live peer's claims): a booting node cannot grab an
// IP it merely has not heard claimed. It still counts as a candidate for everyone, itself
// included, so all speakers keep computing the same owner; if that is a node still warming
// up, the IP waits for it (at most one window, 300 ms) rather than two nodes answering.
//
// Why the lowest term wins a conflict: two claims for one IP only exist after a partition or a
// false suspicion. The side that took the IP over did so with a higher term; the original
// owner (lower term) keeps it, the other drops its claim as soon as it hears the original's
// heartbeat (≤ one interval, 100 ms). Everyone sees the same claims, so everyone agrees.
//
// Failure modes (documented in ../membership/README.md): a partition makes each side elect its
// own owner (that is the best L2 can do: a side cut from the owner must answer); after healing,
// one owner within one heartbeat interval. Simultaneous joins claim nothing. A restarted
// speaker comes back with a new incarnation and no claims.

import { createHash } from 'node:crypto';
import type { IPPlan, L2Plan, NotAnnouncedReason } from '../plan/types.js';

/** One speaker as the membership layer sees it. */
export interface MemberView {
  readonly node: string;
  /** Heard within the failure window and not leaving. */
  readonly alive: boolean;
  /** Link up and responder working, as the node itself reports. */
  readonly healthy: boolean;
  /** IP → term of the node's claims, from its latest heartbeat (for self: the local claims). */
  readonly claims: ReadonlyMap<string, number>;
}

export interface IPOwnership {
  readonly ip: string;
  readonly owner: string;
  readonly term: number;
  /** True when the owner already claims the IP; false for a takeover not yet announced. */
  readonly claimed: boolean;
}

export interface Election {
  /** IP → owner, for IPs with at least one live candidate. */
  readonly owners: ReadonlyMap<string, IPOwnership>;
  /** The claims `self` should announce from now on (IP → term): the IPs it owns. */
  readonly claims: ReadonlyMap<string, number>;
  /** Service key → IPs that have eligible nodes but no live, healthy one. */
  readonly notAnnounced: ReadonlyMap<string, readonly NotAnnouncedReason[]>;
}

/** MetalLB's tie-break: sha256(node + "#" + ip), compared as hex. */
export function electionHash(node: string, ip: string): string {
  return createHash('sha256').update(`${node}#${ip}`).digest('hex');
}

/**
 * `selfReady`: whether `self` may claim yet (Membership.ready). An IP `self` should own while
 * not ready is left unclaimed, and listed in `owners` all the same.
 */
export function electOwners(
  plan: L2Plan,
  members: ReadonlyMap<string, MemberView>,
  self: string,
  selfReady = true,
): Election {
  const owners = new Map<string, IPOwnership>();
  const claims = new Map<string, number>();
  const notAnnounced = new Map<string, NotAnnouncedReason[]>();
  for (const ipPlan of plan.ips) {
    const decision = electOne(ipPlan, members);
    if (decision === undefined) {
      for (const s of ipPlan.services) {
        const list = notAnnounced.get(s) ?? [];
        list.push({ kind: 'no-live-node', ip: ipPlan.ip });
        notAnnounced.set(s, list);
      }
      continue;
    }
    owners.set(ipPlan.ip, decision);
    if (decision.owner === self && selfReady) claims.set(ipPlan.ip, decision.term);
  }
  return { owners, claims, notAnnounced };
}

function electOne(plan: IPPlan, members: ReadonlyMap<string, MemberView>): IPOwnership | undefined {
  const candidates: string[] = [];
  for (const node of plan.eligible) {
    const m = members.get(node);
    if (m?.alive === true && m.healthy) candidates.push(node);
  }
  if (candidates.length === 0) return undefined;
  const weight = (n: string): number => plan.weights.get(n) ?? 0;
  const hashes = new Map(candidates.map((n) => [n, electionHash(n, plan.ip)] as const));
  const byPreference = (a: string, b: string): number => {
    const w = weight(b) - weight(a);
    if (w !== 0) return w;
    const ha = hashes.get(a) ?? '';
    const hb = hashes.get(b) ?? '';
    return ha < hb ? -1 : ha > hb ? 1 : 0;
  };

  const claimants = candidates
    .map((node) => ({ node, term: members.get(node)?.claims.get(plan.ip) }))
    .filter((c): c is { node: string; term: number } => c.term !== undefined)
    .sort((a, b) => a.term - b.term || byPreference(a.node, b.node));
  const incumbent = claimants[0];
  if (incumbent !== undefined)
    return { ip: plan.ip, owner: incumbent.node, term: incumbent.term, claimed: true };

  const owner = [...candidates].sort(byPreference)[0];
  if (owner === undefined) return undefined;
  // The highest term anyone (alive or not) has claimed the IP with, plus one: the takeover
  // loses any conflict against a claim that predates it.
  let maxTerm = 0;
  for (const m of members.values()) maxTerm = Math.max(maxTerm, m.claims.get(plan.ip) ?? 0);
  return { ip: plan.ip, owner, term: maxTerm + 1, claimed: false };
}
