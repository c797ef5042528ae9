// Leader election on a coordination.k8s.io/v1 Lease, following client-go's leaderelection:
// the holder renews spec.renewTime every retry period; a candidate takes the Lease over when
// its record has not changed for leaseDuration as measured on the candidate's own clock (the
// holder's timestamps are never compared with ours, so clock skew does not matter); a leader
// that cannot renew within renewDeadline stops leading. On shutdown the leader empties
// holderIdentity so a standby takes over at its next try instead of waiting out the Lease.
//
// Beacon's timings are short on purpose (the standby should take over "within a few
// seconds"): lease 4s, renew deadline 3s, retry 1s — a leader's death is noticed in at most
// 4s + 1s, at the cost of one Lease write per second.

import type { Logger } from '../log.js';

export interface LeaseRecord {
  readonly holderIdentity: string;
  readonly leaseDurationSeconds: number;
  /** MicroTime text, e.g. 2025-01-01T00:00:00.000000Z. */
  readonly acquireTime?: string;
  readonly renewTime?: string;
  readonly leaseTransitions: number;
}

export interface LeaseClient {
  /** The Lease's spec and resourceVersion; undefined when it does not exist. */
  get(): Promise<{ record: LeaseRecord; resourceVersion: string } | undefined>;
  create(record: LeaseRecord): Promise<void>;
  /** Replaces the spec; fails (409) when resourceVersion is stale. */
  update(record: LeaseRecord, resourceVersion: string): Promise<void>;
}

export interface LeaderElectorOptions {
  client: LeaseClient;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  now: () => number;
  sleep?: (ms: number) => Promise<void>;
  log: Logger;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
}

export const leaseTimings = { leaseDurationMs: 4000, renewDeadlineMs: 3000, retryPeriodMs: 1000 } as const;

export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, '000Z');
}

export class LeaderElector {
  private observed: { record: LeaseRecord; at: number } | undefined;
  private leading = false;
  private lastRenew = 0;
  private running = false;
  private wake: (() => void) | undefined;

  constructor(private readonly opts: LeaderElectorOptions) {}

  get isLeader(): boolean {
    return this.leading;
  }

  private get leaseMs(): number {
    return this.opts.leaseDurationMs ?? leaseTimings.leaseDurationMs;
  }

  /**
   * One attempt to acquire or renew; true when we hold the Lease afterwards. Errors count as
   * "not now" (logged).
   */
  async tryAcquireOrRenew(): Promise<boolean> {
    const { client, identity, now } = this.opts;
    try {
      const current = await client.get();
      const t = now();
      const fresh: LeaseRecord = {
        holderIdentity: identity,
        leaseDurationSeconds: Math.ceil(this.leaseMs / 1000),
        acquireTime: microTime(t),
        renewTime: microTime(t),
        leaseTransitions: 0,
      };
      if (current === undefined) {
        await client.create(fresh);
        this.observed = { record: fresh, at: t };
        return true;
      }
      const { record, resourceVersion } = current;
      if (this.observed === undefined || JSON.stringify(this.observed.record) !== JSON.stringify(record))
        this.observed = { record, at: t };
      const mine = record.holderIdentity === identity;
      const expired = this.observed.at + record.leaseDurationSeconds * 1000 <= t;
      if (!mine && record.holderIdentity !== '' && !expired) return false;
      const next: LeaseRecord = mine
        ? { ...record, renewTime: microTime(t), leaseDurationSeconds: fresh.leaseDurationSeconds }
        : { ...fresh, leaseTransitions: record.leaseTransitions + 1 };
      await client.update(next, resourceVersion);
      this.observed = { record: next, at: t };
      return true;
    } catch (err) {
      this.opts.log.debug('lease attempt failed', {
        error: err instanceof Error ? err.message : String(err),
      });
      return false;
    }
  }

  /** Runs until stop(): acquires, then renews; calls the callbacks on each change. */
  async run(): Promise<void> {
    this.running = true;
    const retry = this.opts.retryPeriodMs ?? leaseTimings.retryPeriodMs;
    const deadline = this.opts.renewDeadlineMs ?? leaseTimings.renewDeadlineMs;
    while (this.running) {
      const ok = await this.tryAcquireOrRenew();
      if (!this.running) break;
      const t = this.opts.now();
      if (ok) {
        this.lastRenew = t;
        if (!this.leading) {
          this.leading = true;
          this.opts.log.info('became leader', { identity: this.opts.identity });
          this.opts.onStartedLeading();
        }
      } else if (this.leading && t - this.lastRenew > deadline) {
        this.leading = false;
        this.opts.log.warn('lost leadership: could not renew the lease in time', {
          identity: this.opts.identity,
        });
        this.opts.onStoppedLeading();
      }
      await Promise.race([
        (this.opts.sleep ?? defaultSleep)(retry),
        new Promise<void>((r) => (this.wake = r)),
      ]);
    }
  }

  /** Stops the loop; when leading, empties holderIdentity so a standby takes over at once. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    if (!this.leading) return;
    this.leading = false;
    try {
      const current = await this.opts.client.get();
      if (current === undefined || current.record.holderIdentity !== this.opts.identity) return;
      const t = this.opts.now();
      await this.opts.client.update(
        { ...current.record, holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime(t) },
        current.resourceVersion,
      );
      this.opts.log.info('released the lease', { identity: this.opts.identity });
    } catch (err) {
      this.opts.log.warn('could not release the lease', {
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
