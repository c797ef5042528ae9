import type { HealthSettings } from './config.js';
import type { HealthChange, ProbeResult } from './health.js';
import { HealthMonitor } from './probe.js';

/** A stand-in API server: answers in 1 ms until `hang()`, then never (each probe times out). */
class FakeServer {
  hung = false;
  inFlight = 0;
  maxInFlight = 0;
  readonly timeouts: number[] = [];

  probe = (_base: string, timeoutMs: number): Promise<ProbeResult> => {
    this.timeouts.push(timeoutMs);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    const hung = this.hung;
    return new Promise((resolve) =>
      setTimeout(
        () => {
          this.inFlight--;
          resolve(hung ? { ok: false, reason: `no answer within ${timeoutMs} ms` } : { ok: true });
        },
        hung ? timeoutMs : 1,
      ),
    );
  };
}

const settings: HealthSettings = {
  url: 'https://127.0.0.1:6443',
  intervalMs: 20,
  timeoutMs: 5000,
  timeoutMinMs: 60,
  fall: 2,
  rise: 2,
};

function monitor(server: FakeServer): {
  m: HealthMonitor;
  changes: HealthChange[];
  next: () => Promise<HealthChange>;
} {
  const changes: HealthChange[] = [];
  let waiter: ((c: HealthChange) => void) | undefined;
  const m = new HealthMonitor({
    settings,
    now: () => performance.now(),
    probe: server.probe,
    onChange: (c) => {
      changes.push(c);
      waiter?.(c);
    },
  });
  const next = (): Promise<HealthChange> => new Promise((resolve) => (waiter = resolve));
  return { m, changes, next };
}

describe('health monitor against a server that hangs', () => {
  it('times out after a few times the server’s own latency, not the ceiling, with probes overlapping, and declares it not ready', async () => {
    const server = new FakeServer();
    const { m, next } = monitor(server);
    const ready = next();
    m.start();
    try {
      expect((await ready).ready).toBe(true);
      // Enough fast answers to learn the latency.
      while (server.timeouts.length < 12) await new Promise((r) => setTimeout(r, 5));
      server.hung = true;
      const down = await next();
      expect(down.ready).toBe(false);
      // The adaptive timeout (4 × the fast answers' p99, at least the floor), far below the
      // ceiling, and probes did not wait for the hung ones.
      const used = Number(/no answer within (\d+) ms/.exec(down.reason)?.[1]);
      expect(used).toBeGreaterThanOrEqual(settings.timeoutMinMs);
      expect(used).toBeLessThan(settings.timeoutMs);
    } finally {
      m.stop();
    }
  });

  it('uses the ceiling before any probe has succeeded', async () => {
    const server = new FakeServer();
    server.hung = true;
    const { m } = monitor(server);
    m.start();
    try {
      while (server.timeouts.length < 1) await new Promise((r) => setTimeout(r, 5));
      expect(server.timeouts[0]).toBe(5000);
      expect(m.tracker.ready).toBe(false);
    } finally {
      m.stop();
    }
  });
});
