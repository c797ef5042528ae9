import { ReportLimiter } from './report-limiter.js';

describe('ReportLimiter', () => {
  it('admits a key once per interval and says how many were held back in between', () => {
    let t = 0;
    const limiter = new ReportLimiter(1_000, () => t);
    expect(limiter.admit('10.0.0.1')).toBe(0);
    expect(limiter.admit('10.0.0.1')).toBeUndefined();
    expect(limiter.admit('10.0.0.1')).toBeUndefined();
    expect(limiter.admit('10.0.0.2')).toBe(0);
    t = 999;
    expect(limiter.admit('10.0.0.1')).toBeUndefined();
    t = 1_000;
    expect(limiter.admit('10.0.0.1')).toBe(3);
    expect(limiter.suppressed).toBe(3);
  });

  it('forgets the keys it is told to drop, so its memory follows the owned set', () => {
    const limiter = new ReportLimiter(1_000, () => 0);
    for (let i = 0; i < 100; i++) limiter.admit(`10.0.0.${i}`);
    limiter.retain((ip) => ip === '10.0.0.7');
    expect(limiter.size).toBe(1);
    expect(limiter.admit('10.0.0.7')).toBeUndefined();
    expect(limiter.admit('10.0.0.8')).toBe(0);
  });

  it('rejects a negative interval, naming it', () => {
    expect(() => new ReportLimiter(-1, () => 0)).toThrow(/intervalMs -1/);
  });
});
