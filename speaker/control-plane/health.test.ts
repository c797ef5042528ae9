import { HealthTracker, type ProbeResult } from './health.js';

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
