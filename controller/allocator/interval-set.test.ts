import { IntervalSet } from './interval-set.js';
import { mulberry32 } from '../../test/support/prng.js';

describe('IntervalSet', () => {
  it('merges neighbours into one run and splits it again', () => {
    const s = new IntervalSet();
    s.add(1n);
    s.add(3n);
    expect([...s.entries()]).toEqual([
      [1n, 1n],
      [3n, 3n],
    ]);
    s.add(2n);
    expect([...s.entries()]).toEqual([[1n, 3n]]);
    expect(s.firstAbsentAtOrAfter(1n)).toBe(4n);
    expect(s.firstAbsentAtOrAfter(0n)).toBe(0n);
    s.delete(2n);
    expect([...s.entries()]).toEqual([
      [1n, 1n],
      [3n, 3n],
    ]);
    expect(s.firstAbsentAtOrAfter(1n)).toBe(2n);
    expect(s.size).toBe(2);
  });

  it('reports whether add and delete changed anything', () => {
    const s = new IntervalSet();
    expect(s.add(5n)).toBe(true);
    expect(s.add(5n)).toBe(false);
    expect(s.delete(6n)).toBe(false);
    expect(s.delete(5n)).toBe(true);
    expect(s.size).toBe(0);
    expect(s.runCount).toBe(0);
  });

  it('holds 200,000 consecutive values in one run', () => {
    const s = new IntervalSet();
    const base = 1n << 100n;
    for (let i = 0n; i < 200_000n; i++) s.add(base + i);
    expect(s.runCount).toBe(1);
    expect(s.firstAbsentAtOrAfter(base)).toBe(base + 200_000n);
  });

  it.each([1, 2, 3, 4, 5])('agrees with a plain Set under random adds and deletes (seed %i)', (seed) => {
    const random = mulberry32(seed);
    const s = new IntervalSet();
    const model = new Set<number>();
    for (let step = 0; step < 4000; step++) {
      const x = Math.floor(random() * 300);
      if (random() < 0.6) {
        const fresh = !model.has(x);
        model.add(x);
        expect(s.add(BigInt(x))).toBe(fresh);
      } else {
        expect(s.delete(BigInt(x))).toBe(model.delete(x));
      }
      const probe = Math.floor(random() * 310);
      let free = probe;
      while (model.has(free)) free++;
      expect(s.firstAbsentAtOrAfter(BigInt(probe))).toBe(BigInt(free));
      expect(s.has(BigInt(probe))).toBe(model.has(probe));
    }
    expect(s.size).toBe(model.size);
    // Runs are maximal: sorted, disjoint and never adjacent.
    let previousEnd: bigint | undefined;
    let count = 0n;
    for (const [start, end] of s.entries()) {
      expect(start <= end).toBe(true);
      if (previousEnd !== undefined) expect(start > previousEnd + 1n).toBe(true);
      previousEnd = end;
      count += end - start + 1n;
    }
    expect(count).toBe(BigInt(model.size));
  });
});
