// The I/O edge of health.ts: one probe is GET <url>/readyz and GET <url>/livez over TLS, each
// on a new connection (a kept-alive connection would hide a listener that stopped accepting),
// with a timeout. The loop probes every interval and feeds HealthTracker; it never throws.
// The timeout adapts to the server's recent latency (ProbeTimeout in health.ts). Probes start
// every interval even while earlier ones are still waiting (up to a few in flight), and while
// the node is ready a failed probe is confirmed by another one at once: a hung server loses the
// VIP when `fall` probes in a row have timed out — about one timeout plus the smaller of one
// interval and one more timeout after it hung — and a stall must outlast `fall` timeouts of
// overlapping probes to move the VIP.

import fs from 'node:fs';
import https from 'node:https';
import { HealthTracker, ProbeTimeout, type HealthChange, type ProbeResult } from './health.js';
import type { HealthSettings } from './config.js';

function get(url: string, timeoutMs: number, ca: Buffer | undefined): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (r: ProbeResult): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(r);
    };
    let req: ReturnType<typeof https.get>;
    try {
      req = https.get(
        url,
        {
          agent: false,
          // Without a CA the probe only reads a status code from a server on this node; the
          // API server's certificate need not name 127.0.0.1 for that.
          ...(ca !== undefined ? { ca } : { rejectUnauthorized: false }),
          headers: { accept: 'text/plain' },
        },
        (res) => {
          res.resume();
          const status = res.statusCode ?? 0;
          res.on('end', () =>
            finish(
              status === 200 ? { ok: true } : { ok: false, reason: `${url}: HTTP ${status}`, declined: true },
            ),
          );
          res.on('error', (err) => finish({ ok: false, reason: `${url}: ${err.message}` }));
        },
      );
    } catch (err) {
      finish({ ok: false, reason: `${url}: ${(err as Error).message}` });
      return;
    }
    const timer = setTimeout(() => {
      finish({ ok: false, reason: `${url}: no answer within ${timeoutMs} ms` });
      req.destroy();
    }, timeoutMs);
    req.on('error', (err) => finish({ ok: false, reason: `${url}: ${err.message}` }));
  });
}

/** One probe: both endpoints; the first failure (a declined /readyz first) is the result. */
export async function probeApiServer(base: string, timeoutMs: number, ca?: Buffer): Promise<ProbeResult> {
  const [ready, live] = await Promise.all([
    get(`${base}/readyz`, timeoutMs, ca),
    get(`${base}/livez`, timeoutMs, ca),
  ]);
  if (!ready.ok) return ready;
  if (!live.ok) return { ok: false, reason: live.reason };
  return { ok: true };
}

export interface HealthMonitorOptions {
  readonly settings: HealthSettings;
  readonly now: () => number;
  readonly onChange: (change: HealthChange, tracker: HealthTracker) => void;
  /** Every failed probe while the node is not ready yet or still ready (for the first-error log). */
  readonly onFailure?: (reason: string) => void;
  readonly probe?: (base: string, timeoutMs: number, ca?: Buffer) => Promise<ProbeResult>;
}

/** Probes in flight at most (a hung server holds each until its timeout). */
const maxInFlight = 4;

export class HealthMonitor {
  readonly tracker: HealthTracker;
  readonly timeout: ProbeTimeout;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private ca: Buffer | undefined;
  private inFlight = 0;

  constructor(private readonly o: HealthMonitorOptions) {
    this.tracker = new HealthTracker(o.settings, o.now());
    this.timeout = new ProbeTimeout({ floorMs: o.settings.timeoutMinMs, ceilingMs: o.settings.timeoutMs });
  }

  /** Reads the CA file (throws naming the flag) and starts probing. */
  start(): void {
    const caFile = this.o.settings.caFile;
    if (caFile !== undefined) {
      try {
        this.ca = fs.readFileSync(caFile);
      } catch (err) {
        throw new Error(`--health-ca ${JSON.stringify(caFile)}: ${(err as Error).message}`, { cause: err });
      }
    }
    this.timer = setInterval(() => this.launch(), this.o.settings.intervalMs);
    this.launch();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearInterval(this.timer);
  }

  /**
   * One probe, on the interval whatever earlier probes are doing: a probe that hangs does not
   * hold the next one back, so against a hung server a failure arrives every interval once
   * the first timeout has passed (and sooner when a suspicion is confirmed).
   */
  private launch(): void {
    if (this.stopped || this.inFlight >= maxInFlight) return;
    this.inFlight++;
    void this.probeOnce().finally(() => this.inFlight--);
  }

  private async probeOnce(): Promise<void> {
    const started = this.o.now();
    let result: ProbeResult;
    try {
      result = await (this.o.probe ?? probeApiServer)(this.o.settings.url, this.timeout.timeoutMs(), this.ca);
    } catch (err) {
      result = { ok: false, reason: (err as Error).message };
    }
    if (this.stopped) return;
    if (result.ok) this.timeout.good(this.o.now() - started);
    else this.o.onFailure?.(result.reason);
    const change = this.tracker.observe(result, this.o.now());
    if (change !== undefined) {
      try {
        this.o.onChange(change, this.tracker);
      } catch {
        // The handler logs its own failures; the probe loop must go on.
      }
    }
    // Suspicion (a failure while still ready): confirm now, not at the next interval.
    if (!result.ok && this.tracker.ready) setImmediate(() => this.launch());
  }
}
