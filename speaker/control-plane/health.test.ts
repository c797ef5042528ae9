import { HealthTracker, ProbeTimeout, type ProbeResult } from './health.js';

const ok: ProbeResult = { ok: true };
const timeout: ProbeResult = { ok: false, reason: 'no answer within 500 ms' };
const declined: ProbeResult = { ok: false, reason: '/readyz: HTTP 500', declined: true };

describe('API server health from probes', () => {
  it('starts not ready and becomes ready after `rise` good probes in a row', () => {
    const h = new HealthTracker({ fall: 2, rise: 2 }, 0);
    expect(h.ready).toBe(false);
    expect(h.observe(ok, 200)).toBeUndefined();
    expect(h.observe(timeout, 400)).toBeUndefined();
    expect(h.observe(ok, 600)).toBeUndefined();
    expect(h.observe(ok, 800)).toEqual({ ready: true, reason: 'ready', since: 0 });
    expect(h.ready).toBe(true);
    expect(h.since).toBe(800);
  });

  it('needs `fall` failures in a row before a silent server counts as not ready', () => {
    const h = new HealthTracker({ fall: 3, rise: 1 }, 0);
    h.observe(ok, 0);
    expect(h.observe(timeout, 200)).toBeUndefined();
    expect(h.observe(ok, 400)).toBeUndefined();
    expect(h.observe(timeout, 600)).toBeUndefined();
    expect(h.observe(timeout, 800)).toBeUndefined();
    expect(h.observe(timeout, 1000)).toEqual({ ready: false, reason: timeout.reason, since: 0 });
    expect(h.reason).toBe(timeout.reason);
  });

  it('believes a /readyz that declines at once (a graceful stop)', () => {
    const h = new HealthTracker({ fall: 3, rise: 1 }, 0);
    h.observe(ok, 0);
    expect(h.observe(declined, 200)).toEqual({ ready: false, reason: declined.reason, since: 0 });
  });
});

describe('probe timeout from the server’s own latency', () => {
  it('uses the ceiling until a probe has succeeded', () => {
    const t = new ProbeTimeout({ floorMs: 100, ceilingMs: 500 });
    expect(t.p99).toBeUndefined();
    expect(t.timeoutMs()).toBe(500);
  });

  it('shortens to the floor for a server that answers in a few milliseconds', () => {
    const t = new ProbeTimeout({ floorMs: 100, ceilingMs: 500 });
    for (let i = 0; i < 50; i++) t.good(5 + (i % 7));
    expect(t.timeoutMs()).toBe(100);
  });

  it('grows with a loaded node’s latency (4 × its p99), up to the ceiling', () => {
    const t = new ProbeTimeout({ floorMs: 100, ceilingMs: 500 });
    for (let i = 0; i < 64; i++) t.good(i === 10 ? 60 : 20);
    expect(t.p99).toBe(60);
    expect(t.timeoutMs()).toBe(240);
    for (let i = 0; i < 64; i++) t.good(300);
    expect(t.timeoutMs()).toBe(500);
  });

  it('forgets old latencies: the window follows the load down again', () => {
    const t = new ProbeTimeout({ floorMs: 100, ceilingMs: 500, window: 8 });
    for (let i = 0; i < 8; i++) t.good(100);
    expect(t.timeoutMs()).toBe(400);
    for (let i = 0; i < 8; i++) t.good(10);
    expect(t.timeoutMs()).toBe(100);
  });

  it('never exceeds the ceiling, even with a floor set above it', () => {
    const t = new ProbeTimeout({ floorMs: 300, ceilingMs: 200 });
    t.good(1);
    expect(t.timeoutMs()).toBe(200);
  });
});
