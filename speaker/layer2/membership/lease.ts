// The liveness lease: how long this node may answer ARP/NDP, proven by its ring monitors.
//
// Fencing argument. A node is declared dead only by one of its designated monitors, after
// D ms without a heartbeat from it (member.ts). The node's lease ends L < D after the SEND
// time of its latest heartbeat each monitor has acknowledged (the minimum over monitors; a
// monitor that has acknowledged nothing yet counts from the first heartbeat sent to it).
// A monitor that received a heartbeat sent at s declares death no earlier than s + D, and
// the acknowledged heartbeat was sent no later than the last one received, so the owner's
// lease (≤ s + L) has ended before any monitor may declare it dead, and every takeover
// follows a declaration. Clock rates differ by parts per million; D − L is 150 ms by default.
//
// Continuity. A lease that lapsed may have been followed by a declaration: if, for some
// monitor, more than D − margin passed between the send time of its previous acknowledged
// heartbeat and the arrival of a newer acknowledgement (or its removal as dead), the monitor
// may have declared this node dead meanwhile and peers may have taken its IPs. The node then
// must not answer again under this incarnation: it is "tainted" and rejoins (member.ts: new
// incarnation, then every peer must apply it before it answers — the handover barrier).
//
// A monitor leaves the set only when it acknowledges a heartbeat that told it to stop
// monitoring (monitor: false). News that it is dead does not remove it: the news may be false
// (it was only cut off from its own monitors) and it may still be watching us. It goes on
// counting, without acknowledgements the lease lapses, and once D − margin passed since its
// last acknowledged heartbeat the node must rejoin (`mustRejoin`), as after any long lapse.
// When it is designated again (its death refuted, back on the ring) it is a monitor like any
// other from then on (designate).

export interface LeaseOptions {
  readonly leaseMs: number;
  readonly deadAfterMs: number;
  /** Allowance for clock-rate differences and scheduling between the two sides. */
  readonly marginMs: number;
}

interface Monitor {
  /** Send time of the first heartbeat to it under this designation. */
  readonly first: number;
  /** Send time of the newest acknowledged heartbeat. */
  acked: number | undefined;
  /** Heartbeats now tell it to stop; removed once one of those is acknowledged. */
  releasingFrom: number | undefined;
  /** seq → send time of recent heartbeats to it. */
  readonly sent: Map<number, number>;
  /** Reported dead or gone from the cluster. */
  gone: boolean;
}

export type AckVerdict = 'renewed' | 'released' | 'tainted' | 'ignored';

const keepSent = 64;

export class Lease {
  private readonly monitors = new Map<string, Monitor>();

  constructor(private readonly options: LeaseOptions) {}

  /** Names of designated monitors (including the ones being released). */
  names(): string[] {
    return [...this.monitors.keys()];
  }

  has(name: string): boolean {
    return this.monitors.has(name);
  }

  releasing(name: string): boolean {
    return this.monitors.get(name)?.releasingFrom !== undefined;
  }

  /** The ring's monitors now: new ones start at `now`, dropped ones start being released. */
  designate(wanted: readonly string[], now: number): void {
    const set = new Set(wanted);
    for (const name of set) {
      const m = this.monitors.get(name);
      if (m === undefined)
        this.monitors.set(name, {
          first: now,
          acked: undefined,
          releasingFrom: undefined,
          sent: new Map(),
          gone: false,
        });
      else {
        // Wanted again: it is back on the ring, so this node's view holds it alive (news of
        // its death was refuted). It must monitor us again, with `monitor: true`: left
        // releasing, its acknowledgement would drop it for good (the ring does not change
        // again to designate it anew), it would stop watching this node, and if this node and
        // its other monitors then died together nobody could ever declare this node dead.
        // Safe to count it as a live monitor: its silence still ends the lease, and an
        // acknowledgement after a gap of D − margin still taints (acked).
        m.gone = false;
        m.releasingFrom = undefined;
      }
    }
    for (const [name, m] of this.monitors)
      if (!set.has(name) && m.releasingFrom === undefined) m.releasingFrom = Number.POSITIVE_INFINITY;
  }

  /** A heartbeat went to `name`; returns whether it asks the monitor to keep monitoring. */
  sent(name: string, seq: number, now: number): boolean {
    const m = this.monitors.get(name);
    if (m === undefined) return false;
    m.sent.set(seq, now);
    if (m.sent.size > keepSent) {
      const oldest = m.sent.keys().next();
      if (oldest.done !== true) m.sent.delete(oldest.value);
    }
    if (m.releasingFrom === undefined) return true;
    if (m.releasingFrom === Number.POSITIVE_INFINITY) m.releasingFrom = seq;
    return false;
  }

  /** `name` acknowledged heartbeat `seq` at `now`. */
  acked(name: string, seq: number, now: number): AckVerdict {
    const m = this.monitors.get(name);
    const at = m?.sent.get(seq);
    if (m === undefined || at === undefined) return 'ignored';
    const previous = m.acked ?? m.first;
    if (at <= previous && m.acked !== undefined) return 'ignored';
    if (now - previous >= this.options.deadAfterMs - this.options.marginMs) {
      this.monitors.delete(name);
      return 'tainted';
    }
    m.acked = at;
    if (m.releasingFrom !== undefined && seq >= m.releasingFrom) {
      this.monitors.delete(name);
      return 'released';
    }
    return 'renewed';
  }

  /**
   * `name` stopped for good under the incarnation it monitored with: it left, or it is
   * restarting (its own news, sent after it stopped running its timers). It can declare nobody
   * dead from then on. If it could not have done so before either — less than D − margin since
   * the send time of the newest heartbeat it acknowledged — it simply stops counting, with no
   * rejoin: a rolling restart of the speakers then pauses nobody's IPs. Otherwise as markGone.
   */
  stopped(name: string, now: number): void {
    const m = this.monitors.get(name);
    if (m === undefined) return;
    if (now < (m.acked ?? m.first) + this.options.deadAfterMs - this.options.marginMs)
      this.monitors.delete(name);
    else this.markGone(name);
  }

  /** `name` is reported dead or left the cluster: release it, and stop waiting for it (mustRejoin). */
  markGone(name: string): void {
    const m = this.monitors.get(name);
    if (m === undefined) return;
    m.gone = true;
    if (m.releasingFrom === undefined) m.releasingFrom = Number.POSITIVE_INFINITY;
  }

  /** A monitor reported gone has been silent long enough that it may have declared us dead. */
  mustRejoin(now: number): boolean {
    return now >= this.rejoinAt();
  }

  /** When mustRejoin turns true (+Infinity: no gone monitor). */
  rejoinAt(): number {
    let at = Number.POSITIVE_INFINITY;
    const gap = this.options.deadAfterMs - this.options.marginMs;
    for (const m of this.monitors.values()) if (m.gone) at = Math.min(at, (m.acked ?? m.first) + gap);
    return at;
  }

  /** Each monitor's state, for diagnostics: ms since its latest acknowledged heartbeat was sent. */
  debug(now: number): { name: string; ackedAgoMs: number | null; releasing: boolean; gone: boolean }[] {
    return [...this.monitors].map(([name, m]) => ({
      name,
      ackedAgoMs: m.acked === undefined ? null : Math.round(now - m.acked),
      releasing: m.releasingFrom !== undefined,
      gone: m.gone,
    }));
  }

  /** Forget every monitor (a new incarnation starts its own designations). */
  clear(): void {
    this.monitors.clear();
  }

  /** When answering must stop: +Infinity with no monitor (nobody could declare this node dead). */
  end(): number {
    let end = Number.POSITIVE_INFINITY;
    for (const m of this.monitors.values()) end = Math.min(end, (m.acked ?? m.first) + this.options.leaseMs);
    return end;
  }
}
