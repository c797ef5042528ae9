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

// How long one probe may take before it counts as failed. A stopped API server (SIGSTOP, a
// wedged process) still completes TCP handshakes — the kernel queues them on its listen
// socket — but never answers, so the only sign is time. A fixed timeout must cover the slowest
// answer a loaded node ever gives, which makes detection slow everywhere (two 500 ms timeouts
// were 1.0–1.2 s of outage). Instead the timeout follows the server's own recent latency: a
// probe fails when it takes `multiplier` times the p99 of the last `window` good probes, never
// less than `floorMs` and never more than `ceilingMs` (--health-timeout-min, --health-timeout).
// A node that is loaded answers slowly on every probe, so its p99 and its timeout grow with the
// load; only a server that suddenly answers many times slower than it just did is suspected,
// and `fall` such probes in a row (health.ts) are needed before the VIP moves. Before any good
// probe the ceiling applies. Pure.

export interface ProbeTimeoutSettings {
  readonly floorMs: number;
  readonly ceilingMs: number;
  /** Timeout = multiplier × recent p99 (clamped); default 4. */
  readonly multiplier?: number;
  /** Good probes remembered; default 64. */
  readonly window?: number;
}

export class ProbeTimeout {
  private readonly latencies: number[] = [];
  private readonly multiplier: number;
  private readonly window: number;

  constructor(private readonly s: ProbeTimeoutSettings) {
    this.multiplier = s.multiplier ?? 4;
    this.window = s.window ?? 64;
  }

  /** A probe that succeeded took `ms`. */
  good(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    this.latencies.push(ms);
    if (this.latencies.length > this.window) this.latencies.shift();
  }

  /** The p99 of the remembered good probes; undefined before the first. */
  get p99(): number | undefined {
    if (this.latencies.length === 0) return undefined;
    const sorted = [...this.latencies].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.ceil(0.99 * sorted.length) - 1)];
  }

  /** The timeout for the next probe. */
  timeoutMs(): number {
    const p99 = this.p99;
    const floor = Math.min(this.s.floorMs, this.s.ceilingMs);
    if (p99 === undefined) return this.s.ceilingMs;
    return Math.round(Math.min(this.s.ceilingMs, Math.max(floor, this.multiplier * p99)));
  }
}
