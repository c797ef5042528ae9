// Local health awareness, after Lifeguard (Dadgar et al., "Lifeguard: Local Health Awareness
// for More Accurate Failure Detection", 2018, the scheme HashiCorp memberlist implements as
// its "awareness" score): a node that is itself slow — late timers, datagrams dropped by its
// own socket, its own lease lapsing for lack of acknowledgements — trusts its view less and
// waits longer before declaring others dead, instead of declaring healthy peers dead because
// it could not hear them. Raising the timeout never weakens fencing (lease.ts: a monitor's
// timeout only has to be at least D).

export class Awareness {
  private score = 0;

  constructor(private readonly max = 8) {}

  get value(): number {
    return this.score;
  }

  /** Something showed this node is slow or deaf. */
  worse(by = 1): void {
    this.score = Math.min(this.max, this.score + by);
  }

  /** One interval went by on time with nothing wrong. */
  better(): void {
    this.score = Math.max(0, this.score - 1);
  }

  /** The detection timeout to use now. */
  scale(timeoutMs: number): number {
    return timeoutMs * (1 + this.score);
  }
}
