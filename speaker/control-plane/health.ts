// Whether the local API server is ready, from a stream of probe results. Pure (time is passed
// in). One probe = GET /readyz and /livez; it is good only when both answer 200 in time.
//
// A node starts not ready and becomes ready after `rise` consecutive good probes; it stops
// being ready after `fall` consecutive bad ones — except that a /readyz answering non-200 is
// believed at once: kube-apiserver fails /readyz on purpose as the first step of a graceful
// stop (its "shutdown" check, k8s.io/apiserver pkg/server/healthz), so waiting for more would
// only keep the VIP on a server that announced it is leaving. Timeouts and refused connections
// need `fall` in a row: one slow answer on a loaded node must not move the VIP.

export type ProbeResult =
  { readonly ok: true } | { readonly ok: false; readonly reason: string; readonly declined?: boolean };

export interface HealthThresholds {
  readonly fall: number;
  readonly rise: number;
}

export interface HealthChange {
  readonly ready: boolean;
  readonly reason: string;
  /** When the state before this change began (ms of the injected clock). */
  readonly since: number;
}

export class HealthTracker {
  private readyNow = false;
  private good = 0;
  private bad = 0;
  private sinceMs: number;
  private lastReason = 'no probe yet';

  constructor(
    private readonly t: HealthThresholds,
    now: number,
  ) {
    this.sinceMs = now;
  }

  get ready(): boolean {
    return this.readyNow;
  }

  /** Why the node is (not) ready: the last bad probe's reason, or "ready". */
  get reason(): string {
    return this.readyNow ? 'ready' : this.lastReason;
  }

  get since(): number {
    return this.sinceMs;
  }

  /** Feeds one probe; returns the change it caused, if any. */
  observe(result: ProbeResult, now: number): HealthChange | undefined {
    if (result.ok) {
      this.bad = 0;
      this.good++;
      if (!this.readyNow && this.good >= this.t.rise) return this.flip(true, 'ready', now);
      return undefined;
    }
    this.good = 0;
    this.bad++;
    this.lastReason = result.reason;
    if (this.readyNow && (result.declined === true || this.bad >= this.t.fall))
      return this.flip(false, result.reason, now);
    return undefined;
  }

  private flip(ready: boolean, reason: string, now: number): HealthChange {
    const change = { ready, reason, since: this.sinceMs };
    this.readyNow = ready;
    this.sinceMs = now;
    return change;
  }
}
