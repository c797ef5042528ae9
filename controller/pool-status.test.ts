import { int64Max, poolStatusCounts, poolStatusPatch } from './pool-status.js';

const usage = (v4: [number, bigint], v6: [number, bigint]) => ({
  ipv4: { assigned: v4[0], available: v4[1], capacity: 0n },
  ipv6: { assigned: v6[0], available: v6[1], capacity: 0n },
});

describe('pool status', () => {
  it('counts assigned and available addresses per family', () => {
    expect(poolStatusCounts(usage([2, 49n], [0, 0n]))).toEqual({
      assignedIPv4: 2n,
      assignedIPv6: 0n,
      availableIPv4: 49n,
      availableIPv6: 0n,
    });
  });

  it('clamps the availability of a /64 to the int64 maximum', () => {
    expect(poolStatusCounts(usage([0, 0n], [1, (1n << 64n) - 1n])).availableIPv6).toBe(int64Max);
  });

  it('writes nothing when the pool already shows the counts, even a clamped one read back as a number', () => {
    const want = poolStatusCounts(usage([2, 49n], [1, 1n << 64n]));
    const current = JSON.parse(
      '{"assignedIPv4":2,"assignedIPv6":1,"availableIPv4":49,"availableIPv6":9223372036854775807}',
    ) as Record<string, number>;
    expect(poolStatusPatch(current, want)).toBeUndefined();
    expect(poolStatusPatch({ ...current, assignedIPv4: 1 }, want)).toEqual({ status: want });
    expect(poolStatusPatch(undefined, want)).toEqual({ status: want });
  });
});
