// Which VIPs this node answers for now: pure. Owned by the rendezvous rule in this node's view,
// placed on an interface here, this node a candidate, and the membership lease still valid.

export interface AnsweredInputs {
  /** The VIPs the membership worker says this node owns. */
  readonly owned: readonly string[];
  /** VIP → the interfaces it is answered on here (placement.ts). */
  readonly placed: ReadonlyMap<string, readonly string[]>;
  readonly candidate: boolean;
  /** End of the lease (monotonic ms); −∞: none. */
  readonly until: number;
  readonly now: number;
}

export function answeredVips(i: AnsweredInputs): string[] {
  if (!i.candidate || !(i.now < i.until)) return [];
  return i.owned.filter((vip) => (i.placed.get(vip)?.length ?? 0) > 0).sort();
}
