// The view-independent half of ownership: the plan's IPs with their hashes and eligible nodes,
// as compact integer tables that every ownership view (owner-index.ts) of the same plan can
// share. IPs whose eligible lists are equal share one group, so "which IPs may node n own" is
// a walk over the groups n belongs to, not over every IP. Immutable once built.

import { textHash } from './hrw.js';

/** What ownership needs of one IP of the L2 plan (the planner's IPPlan has these fields). */
export interface OwnershipInput {
  readonly ip: string;
  /** Nodes allowed to own the IP, before liveness. */
  readonly eligible: readonly string[];
  /** Preferred-node weights; nodes not listed weigh 0. */
  readonly weights: ReadonlyMap<string, number>;
}

export interface PlanGroup {
  readonly key: string;
  /** Node ids. */
  readonly members: Int32Array;
  /** IP indexes. */
  readonly ips: readonly number[];
}

const noWeights: ReadonlyMap<string, number> = new Map();

export class PlanTable {
  readonly ips: readonly string[];
  readonly ipHashes: Uint32Array;
  /** Per IP index, its group. */
  readonly groupOf: readonly PlanGroup[];
  /** Per IP index, weights by node id; undefined when no node is preferred. */
  readonly weightsOf: readonly (ReadonlyMap<number, number> | undefined)[];
  readonly nodes: readonly string[];
  readonly nodeHashes: Uint32Array;
  /** Per node id, the groups it is eligible in. */
  readonly groupsOfNode: readonly (readonly PlanGroup[])[];
  private readonly ipIndex = new Map<string, number>();
  private readonly nodeIndex = new Map<string, number>();
  /** Per IP index, a text that is equal exactly when group and weights are equal. */
  readonly inputKeyOf: readonly string[];

  constructor(inputs: readonly OwnershipInput[], nodeHash: (node: string) => number = textHash) {
    const nodes: string[] = [];
    const idOf = (node: string): number => {
      let id = this.nodeIndex.get(node);
      if (id === undefined) {
        id = nodes.length;
        nodes.push(node);
        this.nodeIndex.set(node, id);
      }
      return id;
    };
    const keyByArray = new Map<readonly string[], string>();
    const groups = new Map<string, { members: number[]; ips: number[] }>();
    const ips: string[] = [];
    const groupKeys: string[] = [];
    const weightsOf: (ReadonlyMap<number, number> | undefined)[] = [];
    const inputKeys: string[] = [];
    for (const input of inputs) {
      if (this.ipIndex.has(input.ip)) continue;
      const index = ips.length;
      this.ipIndex.set(input.ip, index);
      ips.push(input.ip);
      let key = keyByArray.get(input.eligible);
      if (key === undefined) {
        key = [...new Set(input.eligible)].sort().join('\n');
        keyByArray.set(input.eligible, key);
      }
      let group = groups.get(key);
      if (group === undefined) {
        group = { members: key === '' ? [] : key.split('\n').map(idOf), ips: [] };
        groups.set(key, group);
      }
      group.ips.push(index);
      groupKeys.push(key);
      const weights = input.weights ?? noWeights;
      if (weights.size === 0) {
        weightsOf.push(undefined);
        inputKeys.push(key);
      } else {
        const byId = new Map<number, number>();
        for (const [node, w] of weights) byId.set(idOf(node), w);
        weightsOf.push(byId);
        inputKeys.push(`${key}\n#${[...weights].sort(([a], [b]) => (a < b ? -1 : 1)).join(';')}`);
      }
    }
    const built = new Map<string, PlanGroup>();
    for (const [key, g] of groups) built.set(key, { key, members: Int32Array.from(g.members), ips: g.ips });
    this.ips = ips;
    this.groupOf = groupKeys.map((k) => built.get(k) as PlanGroup);
    this.weightsOf = weightsOf;
    this.inputKeyOf = inputKeys;
    this.nodes = nodes;
    this.nodeHashes = Uint32Array.from(nodes, (n) => nodeHash(n) >>> 0);
    this.ipHashes = Uint32Array.from(ips, (ip) => textHash(ip) >>> 0);
    const groupsOfNode: PlanGroup[][] = nodes.map(() => []);
    for (const g of built.values()) for (const id of g.members) groupsOfNode[id]?.push(g);
    this.groupsOfNode = groupsOfNode;
  }

  ipId(ip: string): number | undefined {
    return this.ipIndex.get(ip);
  }

  nodeId(node: string): number | undefined {
    return this.nodeIndex.get(node);
  }
}
