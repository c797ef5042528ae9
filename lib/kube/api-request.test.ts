import { toJSON } from './api-request.js';

describe('toJSON', () => {
  it('writes bigints as exact JSON integers', () => {
    expect(toJSON({ status: { availableIPv6: (1n << 63n) - 1n, assignedIPv4: 3n, name: 'x' } })).toBe(
      '{"status":{"availableIPv6":9223372036854775807,"assignedIPv4":3,"name":"x"}}',
    );
  });
});
