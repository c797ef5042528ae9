// Who owns each Service IP, kept up to date incrementally: the first candidate in the
// rendezvous order (hrw.ts) among the IP's eligible nodes that the membership view says are
// alive and healthy. Pure; no I/O, no clock.
//
// Sticky ownership (the control-plane VIP, member.ts `sticky`): each candidate comes with a
// seniority from the view, and the order is weight, then seniority (lower first), then the
// rendezvous score. A node that becomes a candidate is the most junior, so it takes nothing
// from a live candidate, and an owner keeps its IPs while it stays a candidate. Without
// sticky mode every seniority is 0 and the order is the rendezvous order alone.
//
// Why incremental: with 10,000 IPs and 2,000 nodes a full election is 20 million scores. A
// change of the view touches only what it can change:
// - a node stops being a candidate: only the IPs it owns are re-ranked;
// - a node becomes a candidate: each IP it is eligible for compares one score against its
//   current owner (the plan table lists those IPs by eligibility group);
// - a new plan re-ranks only the IPs whose eligible nodes or weights changed, or are new.
// Nothing is recomputed per heartbeat: the membership layer reports view changes only.
//
// State per view is one Int32Array (owner node id per IP) plus the candidate set, so a
// simulation can hold thousands of views of one shared PlanTable.

import { compareRank, pairScore } from './hrw.js';
import { PlanTable } from './plan-table.js';

export interface OwnerChange {
  readonly ip: string;
  readonly from: string | undefined;
  readonly to: string | undefined;
}

const none = -1;

export class OwnerIndex {
  private table: PlanTable = new PlanTable([]);
  /** Owner node id per IP index, or -1. */
  private owners = new Int32Array(0);
  /** Owner score per IP index (valid when owners[i] >= 0). */
  private scores = new Uint32Array(0);
  /** Candidate → its seniority (0 unless sticky). */
  private readonly candidates = new Map<string, number>();
  /** Candidate flag per node id of the current table. */
  private candidateIds = new Uint8Array(0);
  /** Seniority per node id of the current table (valid for candidates). */
  private seniorityIds = new Float64Array(0);
  private readonly mine = new Set<string>();

  constructor(readonly self: string) {}

  get plan(): PlanTable {
    return this.table;
  }

  /** The owner of `ip`, or undefined when no eligible node is a candidate (or no such IP). */
  owner(ip: string): string | undefined {
    const i = this.table.ipId(ip);
    if (i === undefined) return undefined;
    const id = this.owners[i] ?? none;
    return id === none ? undefined : this.table.nodes[id];
  }

  /** The IPs this node owns (live set; copy it to keep it). */
  owned(): ReadonlySet<string> {
    return this.mine;
  }

  /** The IPs `node` owns: a scan, for tests and diagnostics. */
  ownedBy(node: string): string[] {
    const id = this.table.nodeId(node);
    if (id === undefined) return [];
    const out: string[] = [];
    for (let i = 0; i < this.owners.length; i++)
      if (this.owners[i] === id) out.push(this.table.ips[i] as string);
    return out;
  }

  /** The IPs no candidate can own (every eligible node dead, left or unhealthy): a scan. */
  unowned(): string[] {
    const out: string[] = [];
    for (let i = 0; i < this.owners.length; i++)
      if (this.owners[i] === none) out.push(this.table.ips[i] as string);
    return out;
  }

  /** How many IPs each node owns, and how many have no owner ("" key): a scan, for diagnostics. */
  ownerCounts(): Map<string, number> {
    const out = new Map<string, number>();
    for (const id of this.owners) {
      const name = id === none ? '' : (this.table.nodes[id] as string);
      out.set(name, (out.get(name) ?? 0) + 1);
    }
    return out;
  }

  isCandidate(node: string): boolean {
    return this.candidates.has(node);
  }

  /** A new plan. Returns the IPs whose owner changed (including added and removed IPs). */
  setPlan(table: PlanTable): OwnerChange[] {
    const old = this.table;
    const oldOwners = this.owners;
    const oldScores = this.scores;
    this.table = table;
    this.owners = new Int32Array(table.ips.length).fill(none);
    this.scores = new Uint32Array(table.ips.length);
    this.candidateIds = new Uint8Array(table.nodes.length);
    this.seniorityIds = new Float64Array(table.nodes.length);
    for (const [node, seniority] of this.candidates) {
      const id = table.nodeId(node);
      if (id === undefined) continue;
      this.candidateIds[id] = 1;
      this.seniorityIds[id] = seniority;
    }
    const changes: OwnerChange[] = [];
    const kept = new Set<number>();
    for (let i = 0; i < table.ips.length; i++) {
      const ip = table.ips[i] as string;
      const j = old.ipId(ip);
      const before = j === undefined ? undefined : nameOf(old, oldOwners[j] ?? none);
      if (j !== undefined) kept.add(j);
      if (j !== undefined && old.inputKeyOf[j] === table.inputKeyOf[i]) {
        // Same eligible nodes and weights: the owner stands (scores do not depend on the table).
        const id = before === undefined ? none : (table.nodeId(before) ?? none);
        this.owners[i] = id;
        this.scores[i] = oldScores[j] ?? 0;
        continue;
      }
      this.rerank(i);
      const after = nameOf(table, this.owners[i] ?? none);
      if (after !== before) changes.push({ ip, from: before, to: after });
    }
    for (let j = 0; j < old.ips.length; j++) {
      if (kept.has(j)) continue;
      const before = nameOf(old, oldOwners[j] ?? none);
      if (before !== undefined) changes.push({ ip: old.ips[j] as string, from: before, to: undefined });
    }
    this.mine.clear();
    const self = table.nodeId(this.self);
    if (self !== undefined)
      for (let i = 0; i < this.owners.length; i++)
        if (this.owners[i] === self) this.mine.add(table.ips[i] as string);
    return changes;
  }

  /** Becomes a copy of `other`'s view (same plan table), for simulations of many nodes. */
  copyFrom(other: OwnerIndex): void {
    this.table = other.table;
    this.owners = Int32Array.from(other.owners);
    this.scores = Uint32Array.from(other.scores);
    this.candidateIds = Uint8Array.from(other.candidateIds);
    this.seniorityIds = Float64Array.from(other.seniorityIds);
    this.candidates.clear();
    for (const [c, s] of other.candidates) this.candidates.set(c, s);
    this.mine.clear();
    const self = this.table.nodeId(this.self);
    if (self !== undefined)
      for (let i = 0; i < this.owners.length; i++)
        if (this.owners[i] === self) this.mine.add(this.table.ips[i] as string);
  }

  /**
   * Membership says `node` is (not) alive and healthy, with `seniority` (sticky mode; lower
   * ranks first). Returns the IPs whose owner changed.
   */
  setCandidate(node: string, candidate: boolean, seniority = 0): OwnerChange[] {
    const known = this.candidates.get(node);
    if (candidate && known !== undefined && known !== seniority) {
      // A candidate ranked anew: out, then in with its new seniority.
      const out = this.setCandidate(node, false);
      return [...out, ...this.setCandidate(node, true, seniority)];
    }
    if ((known !== undefined) === candidate) return [];
    if (candidate) this.candidates.set(node, seniority);
    else this.candidates.delete(node);
    const t = this.table;
    const id = t.nodeId(node);
    if (id === undefined) return [];
    this.candidateIds[id] = candidate ? 1 : 0;
    this.seniorityIds[id] = candidate ? seniority : 0;
    const changes: OwnerChange[] = [];
    if (candidate) {
      const nodeHash = t.nodeHashes[id] ?? 0;
      for (const group of t.groupsOfNode[id] ?? [])
        for (const i of group.ips) {
          const current = this.owners[i] ?? none;
          const score = pairScore(nodeHash, t.ipHashes[i] ?? 0);
          if (current === none || this.before(i, id, score, current, this.scores[i] ?? 0))
            this.set(i, id, score, changes);
        }
    } else {
      for (let i = 0; i < this.owners.length; i++) {
        if (this.owners[i] !== id) continue;
        const before = this.owners[i] ?? none;
        this.rerank(i);
        this.report(i, before, changes);
      }
    }
    return changes;
  }

  /** Does node `a` (with `scoreA`) rank before node `b` for IP `i`? compareRank, inlined. */
  private before(i: number, a: number, scoreA: number, b: number, scoreB: number): boolean {
    const t = this.table;
    const w = t.weightsOf[i];
    if (w !== undefined) {
      const wa = w.get(a) ?? 0;
      const wb = w.get(b) ?? 0;
      if (wa !== wb) return wa > wb;
    }
    const sa = this.seniorityIds[a] ?? 0;
    const sb = this.seniorityIds[b] ?? 0;
    if (sa !== sb) return sa < sb;
    if (scoreA !== scoreB) return scoreA < scoreB;
    return (
      compareRank(
        { node: t.nodes[a] as string, weight: 0, score: 0 },
        { node: t.nodes[b] as string, weight: 0, score: 0 },
      ) < 0
    );
  }

  private rerank(i: number): void {
    if (this.candidates.size === 0) {
      this.owners[i] = none;
      return;
    }
    const t = this.table;
    const group = t.groupOf[i];
    const ipHash = t.ipHashes[i] ?? 0;
    let best = none;
    let bestScore = 0;
    if (group !== undefined)
      for (const id of group.members) {
        if (this.candidateIds[id] !== 1) continue;
        const score = pairScore(t.nodeHashes[id] ?? 0, ipHash);
        if (best === none || this.before(i, id, score, best, bestScore)) {
          best = id;
          bestScore = score;
        }
      }
    this.owners[i] = best;
    this.scores[i] = bestScore;
  }

  private set(i: number, id: number, score: number, changes: OwnerChange[]): void {
    const before = this.owners[i] ?? none;
    this.owners[i] = id;
    this.scores[i] = score;
    this.report(i, before, changes);
  }

  private report(i: number, beforeId: number, changes: OwnerChange[]): void {
    const afterId = this.owners[i] ?? none;
    if (afterId === beforeId) return;
    const t = this.table;
    const ip = t.ips[i] as string;
    const from = nameOf(t, beforeId);
    const to = nameOf(t, afterId);
    if (from === this.self) this.mine.delete(ip);
    if (to === this.self) this.mine.add(ip);
    changes.push({ ip, from, to });
  }
}

function nameOf(t: PlanTable, id: number): string | undefined {
  return id === none ? undefined : t.nodes[id];
}
