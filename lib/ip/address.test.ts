import { compareIP, formatIP, formatIPValue, isBuggyIPv4, parseIP, tryParseIP } from './address.js';
import { IPParseError } from './parse-error.js';

describe('parseIP', () => {
  it.each([
    ['0.0.0.0', 4, 0n],
    ['10.0.0.1', 4, 0x0a000001n],
    ['255.255.255.255', 4, 0xffffffffn],
    ['192.168.10.222', 4, 0xc0a80aden],
    ['::', 6, 0n],
    ['::1', 6, 1n],
    ['fc00::', 6, 0xfc00n << 112n],
    ['2001:DB8::1', 6, (0x20010db8n << 96n) | 1n],
    ['1:2:3:4:5:6:7:8', 6, 0x0001000200030004000500060007_0008n],
    ['1:2:3:4:5:6:7::', 6, 0x0001000200030004000500060007_0000n],
    ['::2:3:4:5:6:7:8', 6, 0x0000000200030004000500060007_0008n],
    ['::ffff:10.0.0.1', 6, (0xffffn << 32n) | 0x0a000001n],
    ['64:ff9b::192.0.2.33', 6, (0x0064ff9bn << 96n) | 0xc0000221n],
    ['1:2:3:4:5:6:1.2.3.4', 6, 0x000100020003000400050006_01020304n],
  ])('reads %s', (text, family, value) => {
    expect(parseIP(text)).toEqual({ family, value });
  });

  it.each([
    '10.0.0.300',
    '10.0.0',
    '10.0.0.1.2',
    '10.0.0.01',
    '10.0.0.-1',
    ' 10.0.0.1',
    '10.0.0.1 ',
    '',
    'a.b.c.d',
    ':::',
    '1::2::3',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7',
    '1:2:3:4:5:6:7:8::',
    '12345::',
    'fe80::1%eth0',
    ':1::',
    '1.2.3.4::',
    '::1.2.3',
    '1:2:3:4:5:6:7:1.2.3.4',
    'g::1',
  ])('refuses %j', (text) => {
    expect(tryParseIP(text)).toBeUndefined();
    expect(() => parseIP(text)).toThrow(IPParseError);
  });

  it('says what is wrong and quotes the input', () => {
    expect(() => parseIP('10.0.0.300')).toThrow('"10.0.0.300": not an IP address');
    try {
      parseIP('10.0.0.300');
    } catch (e) {
      expect(e).toBeInstanceOf(IPParseError);
      expect((e as IPParseError).input).toBe('10.0.0.300');
      expect((e as IPParseError).reason).toBe('not an IP address');
    }
  });
});

describe('formatIP (RFC 5952)', () => {
  it.each([
    ['10.0.0.1', '10.0.0.1'],
    ['2001:0DB8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // first of two equal runs (§4.2.3)
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single zero group stays (§4.2.2)
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // the longest run wins (§4.2.3)
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['fc00:0:0:0:0:0:0:0', 'fc00::'],
    ['::ffff:10.0.0.1', '::ffff:10.0.0.1'], // mixed notation for IPv4-mapped (§5)
    ['0:0:0:0:0:ffff:a00:1', '::ffff:10.0.0.1'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
  ])('writes %s as %s', (text, canonical) => {
    expect(formatIP(parseIP(text))).toBe(canonical);
  });

  it('round-trips every canonical form it writes', () => {
    for (let i = 0; i < 2000; i++) {
      // A spread of values with zero runs in varied places.
      let value = 0n;
      for (let g = 0; g < 8; g++)
        value = (value << 16n) | BigInt((i * 7919 + g * 104729) % 5 === 0 ? 0 : (i * 31 + g) & 0xffff);
      const text = formatIPValue(6, value);
      expect(parseIP(text)).toEqual({ family: 6, value });
    }
  });
});

describe('compareIP and isBuggyIPv4', () => {
  it('orders IPv4 before IPv6, then by value', () => {
    const ips = ['fc00::1', '10.0.0.2', '10.0.0.1', '::1'].map(parseIP).sort(compareIP).map(formatIP);
    expect(ips).toEqual(['10.0.0.1', '10.0.0.2', '::1', 'fc00::1']);
  });

  it.each([
    ['10.0.0.0', true],
    ['10.0.0.255', true],
    ['10.0.1.0', true],
    ['10.0.0.1', false],
    ['10.0.0.254', false],
  ])('calls %s buggy: %s', (text, buggy) => {
    expect(isBuggyIPv4(parseIP(text).value)).toBe(buggy);
  });
});
