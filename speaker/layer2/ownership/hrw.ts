// Rendezvous (highest-random-weight) ranking of the nodes that may answer for one IP: every
// speaker computes the same order from the same inputs, so ownership never travels on the wire.
//
// MetalLB orders a Service's candidate nodes by sha256(node + "#" + ip) (public source:
// speaker/layer2_controller.go, ShouldAnnounce) and the first one announces. The same order is
// kept here (preferred-node weight first, then the hash, then the name), but the per-pair hash
// is split: sha256 is taken once per node and once per IP, and the pair score is a 32-bit
// avalanche mix of the two (the finaliser of MurmurHash3, public domain). That makes one score
// a handful of integer operations, so a ranking of 2,000 nodes for 10,000 IPs stays cheap,
// while the order remains uniform and independent per IP (the mix is a bijection with full
// avalanche, applied to the node hash xor the IP hash).

import { createHash } from 'node:crypto';

/** The first 32 bits of sha256(text), unsigned. */
export function textHash(text: string): number {
  return createHash('sha256').update(text).digest().readUInt32BE(0);
}

/** The score of `nodeHash` for `ipHash`: lower ranks first. Uniform over uint32. */
export function pairScore(nodeHash: number, ipHash: number): number {
  let h = (nodeHash ^ ipHash) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** One candidate's rank key for one IP. */
export interface RankKey {
  readonly node: string;
  /** Summed preferredNodeSelectors weight (0 when none): higher first. */
  readonly weight: number;
  readonly score: number;
}

/** Negative when `a` ranks before `b`: heavier weight, then lower score, then lower name. */
export function compareRank(a: RankKey, b: RankKey): number {
  if (a.weight !== b.weight) return b.weight - a.weight;
  if (a.score !== b.score) return a.score - b.score;
  return a.node < b.node ? -1 : a.node > b.node ? 1 : 0;
}
