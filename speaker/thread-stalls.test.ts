import { Registry } from 'prom-client';
import { recordStall, registerStallMetrics, stallTotals } from './thread-stalls.js';

describe('thread stall metrics', () => {
  it('adds each stall of a thread to its totals and exports them by cause', async () => {
    const registry = new Registry();
    registerStallMetrics(registry);
    const stall = { gapMs: 300, ranMs: 10, waitedForCpuMs: 250, stolenMs: 0, gcMs: 0, otherMs: 40 };
    recordStall('bfd-worker', stall);
    recordStall('bfd-worker', { ...stall, waitedForCpuMs: 50, gcMs: 200, otherMs: 240 });
    expect(stallTotals('bfd-worker')).toEqual({
      stalls: 2,
      ms: { ran: 20, waited_for_cpu: 300, stolen: 0, gc: 200, other: 280 },
    });
    const text = await registry.metrics();
    expect(text).toContain('beacon_thread_stalls_total{thread="bfd-worker"} 2');
    expect(text).toContain(
      'beacon_thread_stall_seconds_total{thread="bfd-worker",part="waited_for_cpu"} 0.3',
    );
    expect(text).not.toContain('thread="main"');
  });
});
