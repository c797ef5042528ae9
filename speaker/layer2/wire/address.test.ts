import { formatIPv4, formatIPv6, formatMac, parseIPv4, parseIPv6, parseMac } from './address.js';

describe('address text forms', () => {
  it.each([
    ['::', '::'],
    ['::1', '::1'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // RFC 5952 §4.2.3: first of equal runs
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // §4.2.2: a single 0 group is not "::"
    ['fe80::00ff:fe00:0a01', 'fe80::ff:fe00:a01'],
    ['ff02::1:ff00:2', 'ff02::1:ff00:2'],
    ['::ffff:c000:201', '::ffff:192.0.2.1'], // RFC 5952 §5: IPv4-mapped as a dotted quad
  ])('formats %s as %s (RFC 5952)', (input, canonical) => {
    const bytes = parseIPv6(input);
    expect(bytes).toBeDefined();
    expect(formatIPv6(bytes ?? Buffer.alloc(0))).toBe(canonical);
  });

  it.each([
    '',
    ':',
    '1::2::3',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7',
    'g::1',
    '12345::',
    '1:2:3:4:5:6:7::8',
    'fe80::1%eth0',
  ])('rejects the IPv6 text %p', (input) => {
    expect(parseIPv6(input)).toBeUndefined();
  });

  it('round-trips IPv4 and rejects leading zeros and out-of-range octets', () => {
    expect(formatIPv4(parseIPv4('192.0.2.255') ?? Buffer.alloc(4))).toBe('192.0.2.255');
    expect(parseIPv4('192.0.2.256')).toBeUndefined();
    expect(parseIPv4('192.0.2.01')).toBeUndefined();
    expect(parseIPv4('192.0.2')).toBeUndefined();
  });

  it('parses MACs with colons or dashes and prints them lowercase with colons', () => {
    expect(formatMac(parseMac('02-00-5E-00-00-01') ?? Buffer.alloc(6))).toBe('02:00:5e:00:00:01');
    expect(parseMac('02:00:5e:00:00')).toBeUndefined();
    expect(parseMac('02:00:5e:00:00:0g')).toBeUndefined();
  });
});
