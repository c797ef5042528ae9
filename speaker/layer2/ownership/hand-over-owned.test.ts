import { handOverOwned } from './hand-over-owned.js';

describe('handOverOwned', () => {
  it('keeps the owned set with the responder when its lease end, seen late here, has passed: the responder fences itself', () => {
    // A main thread 2 s behind the worker: its copy of the lease end is long past, while the
    // worker has renewed it (the renewals wait in this thread's queue) and the shared cell the
    // responder reads is current. Emptying the set here would silence IPs under a valid lease.
    expect(handOverOwned(1000, 3000, true)).toBe(true);
    expect(handOverOwned(1000, 999, true)).toBe(true);
  });

  it('withholds it while the lease is −∞ (joining, unhealthy, leaving, no worker), so a rejoin places and announces afresh', () => {
    expect(handOverOwned(Number.NEGATIVE_INFINITY, 0, true)).toBe(false);
    expect(handOverOwned(Number.NEGATIVE_INFINITY, 0, false)).toBe(false);
    expect(handOverOwned(Number.NaN, 0, true)).toBe(false);
  });

  it('without a responder that fences itself, this thread is the fence: nothing once the lease end passed', () => {
    expect(handOverOwned(1000, 999, false)).toBe(true);
    expect(handOverOwned(1000, 1000, false)).toBe(false);
    expect(handOverOwned(Number.POSITIVE_INFINITY, 1e12, false)).toBe(true);
  });
});
