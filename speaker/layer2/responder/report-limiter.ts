// At most one report per key per interval, the rest counted: what keeps a frame flood from
// turning into a flood of log lines and Kubernetes Events. Anyone on the segment can send
// ARP/NDP frames claiming an owned IP from as many MACs as they like, so conflict reports are
// keyed by IP alone (keying by IP and MAC let 20,000 random MACs make 20,000 reports), and
// edge log lines by their message and interface. Pure: time is injected.

export class ReportLimiter {
  /** key → when it was last reported and how many were held back since. */
  readonly #last = new Map<string, { at: number; held: number }>();
  #suppressed = 0;

  constructor(
    private readonly intervalMs: number,
    private readonly now: () => number,
  ) {
    if (!(intervalMs >= 0)) throw new RangeError(`ReportLimiter: intervalMs ${intervalMs} must be >= 0`);
  }

  /**
   * One occurrence of `key`. Returns undefined when it must not be reported (it is counted),
   * or the number of occurrences held back since the key's previous report.
   */
  admit(key: string): number | undefined {
    const t = this.now();
    const entry = this.#last.get(key);
    if (entry !== undefined && t - entry.at < this.intervalMs) {
      entry.held++;
      this.#suppressed++;
      return undefined;
    }
    const held = entry?.held ?? 0;
    this.#last.set(key, { at: t, held: 0 });
    return held;
  }

  /** Occurrences not reported, in total. */
  get suppressed(): number {
    return this.#suppressed;
  }

  /** Keys remembered (bounded by the keys that can occur: owned IPs, edge messages). */
  get size(): number {
    return this.#last.size;
  }

  /** Forgets keys `keep` rejects, e.g. IPs no longer owned. */
  retain(keep: (key: string) => boolean): void {
    for (const key of this.#last.keys()) if (!keep(key)) this.#last.delete(key);
  }
}
