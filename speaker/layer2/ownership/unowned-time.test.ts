import { UnownedTime, unownedNow } from './unowned-time.js';

describe('UnownedTime', () => {
  it('counts, per IP, the time it stayed unowned between updates', () => {
    const t = new UnownedTime(1000);
    expect(t.update(1500, new Set(['10.0.0.1', '10.0.0.2']))).toEqual(new Map());
    expect(t.any).toBe(true);
    expect(t.update(2500, new Set(['10.0.0.2']))).toEqual(
      new Map([
        ['10.0.0.1', 1],
        ['10.0.0.2', 1],
      ]),
    );
    expect(t.update(4000, new Set())).toEqual(new Map([['10.0.0.2', 1.5]]));
    expect(t.any).toBe(false);
    expect(t.update(9000, new Set())).toEqual(new Map());
  });

  it('never counts backwards when the clock is read out of order', () => {
    const t = new UnownedTime(1000);
    t.update(2000, new Set(['10.0.0.1']));
    expect(t.update(1900, new Set(['10.0.0.1']))).toEqual(new Map());
    expect(t.update(2500, new Set())).toEqual(new Map([['10.0.0.1', 0.5]]));
  });
});

describe('unownedNow', () => {
  const plan = ['10.0.0.1', '10.0.0.2', '10.0.0.3'];

  it('is the planned IPs no candidate can own', () => {
    expect(unownedNow(plan, new Set(['10.0.0.3']), ['10.0.0.1'], true)).toEqual(new Set(['10.0.0.3']));
  });

  it('adds the IPs this node owns while it may not answer them', () => {
    expect(unownedNow(plan, new Set(['10.0.0.3']), ['10.0.0.1'], false)).toEqual(
      new Set(['10.0.0.1', '10.0.0.3']),
    );
  });

  it('ignores IPs that are no longer in the plan', () => {
    expect(unownedNow(plan, new Set(['192.0.2.9']), ['192.0.2.8'], false)).toEqual(new Set());
  });
});
