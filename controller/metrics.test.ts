import { Registry } from 'prom-client';
import { ControllerMetrics } from './metrics.js';

describe('ControllerMetrics: pool gauges', () => {
  it('reports a /64 as MetalLB does: int64 maximum, not 2^64', async () => {
    const registry = new Registry();
    const metrics = new ControllerMetrics(registry);
    metrics.setPools(
      new Map([
        [
          'v6',
          {
            ipv4: { assigned: 1, available: 255n, capacity: 256n },
            ipv6: { assigned: 2, available: (1n << 64n) - 2n, capacity: 1n << 64n },
          },
        ],
      ]),
    );
    const text = await registry.metrics();
    const value = (name: string) => new RegExp(`^${name}\\{pool="v6"\\} (\\S+)$`, 'm').exec(text)?.[1];
    expect(value('metallb_allocator_ipv6_addresses_total')).toBe('9223372036854776000');
    expect(value('metallb_allocator_addresses_total')).toBe('9223372036854776000');
    expect(value('metallb_allocator_ipv4_addresses_total')).toBe('256');
    expect(value('metallb_allocator_addresses_in_use_total')).toBe('3');
  });
});
