// `beacon_layer2_unowned_seconds_total`, decided without I/O: how long each IP that should be
// announced had no live owner as this speaker sees it. Unowned means: no eligible node is a
// candidate in this speaker's view, or this speaker owns the IP but may not answer it now
// because its lease lapsed (ring-ownership.ts decides which). Each speaker counts on its own; the
// alert and the dashboard take the maximum across speakers (docs/metrics.md).
//
// The edge calls `update` whenever the unowned set may have changed and at least once a second
// while it is not empty, so the counter grows while an IP stays unowned and a scrape sees it.

export class UnownedTime {
  private unowned: ReadonlySet<string> = new Set();
  private since: number;

  constructor(now: number) {
    this.since = now;
  }

  /** Is any IP unowned now (the edge then keeps calling `update` periodically)? */
  get any(): boolean {
    return this.unowned.size > 0;
  }

  /**
   * The IPs unowned from now on (`now`: monotonic ms). Returns the seconds to add per IP for
   * the time since the previous call, for the IPs that were unowned during it.
   */
  update(now: number, unowned: ReadonlySet<string>): Map<string, number> {
    const out = new Map<string, number>();
    const seconds = (now - this.since) / 1000;
    if (seconds > 0) for (const ip of this.unowned) out.set(ip, seconds);
    if (now > this.since) this.since = now;
    this.unowned = unowned;
    return out;
  }
}

/** The unowned set from the membership view (`noOwner`) and this node's own state. */
export function unownedNow(
  planned: readonly string[],
  noOwner: ReadonlySet<string>,
  ownedHere: readonly string[],
  answering: boolean,
): Set<string> {
  const planSet = new Set(planned);
  const out = new Set<string>();
  for (const ip of noOwner) if (planSet.has(ip)) out.add(ip);
  if (!answering) for (const ip of ownedHere) if (planSet.has(ip)) out.add(ip);
  return out;
}
