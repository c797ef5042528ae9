import { parseIP } from './address.js';
import { cidrContains, cidrSize, formatCIDR, parseCIDR } from './cidr.js';
import { IPParseError } from './parse-error.js';
import {
  cidrToRange,
  formatRange,
  parseAddressSpec,
  parseRange,
  rangeContains,
  rangeContainsRange,
  rangesOverlap,
  rangeSize,
  rangeToCIDRs,
} from './range.js';

const v4 = (t: string): bigint => parseIP(t).value;
const v6 = (t: string): bigint => parseIP(t).value;

describe('parseCIDR', () => {
  it.each([
    ['10.0.0.0/24', 4, '10.0.0.0', 24, false],
    ['10.0.0.5/24', 4, '10.0.0.0', 24, true], // MetalLB (net.ParseCIDR) keeps the network
    ['10.0.0.5/32', 4, '10.0.0.5', 32, false],
    ['0.0.0.0/0', 4, '0.0.0.0', 0, false],
    ['fc00::/64', 6, 'fc00::', 64, false],
    ['fc00::1/64', 6, 'fc00::', 64, true],
    ['2001:db8::1/128', 6, '2001:db8::1', 128, false],
  ])('reads %s', (text, family, network, prefixLength, hostBitsSet) => {
    expect(parseCIDR(text)).toEqual({ family, network: parseIP(network).value, prefixLength, hostBitsSet });
  });

  it.each([
    ['10.0.0.0/33', '"10.0.0.0/33": prefix length 33 is out of range for IPv4 (0-32)'],
    ['fc00::/129', '"fc00::/129": prefix length 129 is out of range for IPv6 (0-128)'],
    ['10.0.0.0/', '"10.0.0.0/": prefix length "" is not a number'],
    ['10.0.0.0/x', '"10.0.0.0/x": prefix length "x" is not a number'],
    ['10.0.0.0/-1', '"10.0.0.0/-1": prefix length "-1" is not a number'],
    ['10.0.0.300/24', '"10.0.0.300/24": "10.0.0.300" is not an IP address'],
    ['10.0.0.0', '"10.0.0.0": not a CIDR (expected address/prefix-length)'],
  ])('refuses %s', (text, message) => {
    expect(() => parseCIDR(text)).toThrow(new IPParseError(text, message.slice(text.length + 4)));
    expect(() => parseCIDR(text)).toThrow(message);
  });

  it('sizes, contains and formats', () => {
    const c = parseCIDR('fc00::/64');
    expect(cidrSize(c)).toBe(1n << 64n);
    expect(cidrContains(c, 6, v6('fc00::ffff:ffff:ffff:ffff'))).toBe(true);
    expect(cidrContains(c, 6, v6('fc00:0:0:1::'))).toBe(false);
    expect(cidrContains(c, 4, 0n)).toBe(false);
    expect(formatCIDR(parseCIDR('10.0.0.5/24'))).toBe('10.0.0.0/24');
  });
});

describe('parseRange', () => {
  it.each([
    ['192.168.10.200-192.168.10.250', 4, '192.168.10.200', '192.168.10.250'],
    ['192.168.10.200 - 192.168.10.250', 4, '192.168.10.200', '192.168.10.250'],
    ['10.0.0.1-10.0.0.1', 4, '10.0.0.1', '10.0.0.1'],
    ['fc00::1-fc00::ff', 6, 'fc00::1', 'fc00::ff'],
  ])('reads %j', (text, family, first, last) => {
    expect(parseRange(text)).toEqual({ family, first: parseIP(first).value, last: parseIP(last).value });
  });

  it.each([
    ['10.0.0.9-10.0.0.1', '"10.0.0.9-10.0.0.1": range start is after its end'],
    ['10.0.0.1-fc00::1', '"10.0.0.1-fc00::1": range start and end are different IP families'],
    ['10.0.0.x-10.0.0.5', '"10.0.0.x-10.0.0.5": range start "10.0.0.x" is not an IP address'],
    ['10.0.0.1-10.0.0.256', '"10.0.0.1-10.0.0.256": range end "10.0.0.256" is not an IP address'],
    ['10.0.0.1-', '"10.0.0.1-": range end "" is not an IP address'],
  ])('refuses %j', (text, message) => {
    expect(() => parseRange(text)).toThrow(message);
  });
});

describe('parseAddressSpec', () => {
  it('takes a CIDR or a range', () => {
    expect(parseAddressSpec('10.0.0.0/30')).toMatchObject({
      kind: 'cidr',
      range: { first: v4('10.0.0.0'), last: v4('10.0.0.3') },
    });
    expect(parseAddressSpec(' 10.0.0.1-10.0.0.2 ')).toMatchObject({
      kind: 'range',
      range: { first: v4('10.0.0.1') },
    });
  });

  it('refuses a bare address and says how to write it', () => {
    expect(() => parseAddressSpec('10.0.0.5')).toThrow(
      '"10.0.0.5": a single address must be written as a CIDR: 10.0.0.5/32',
    );
    expect(() => parseAddressSpec('fc00::5')).toThrow('fc00::5/128');
    expect(() => parseAddressSpec('banana')).toThrow('"banana": not an IP address, CIDR or range');
  });
});

describe('range ↔ CIDR', () => {
  const cidrs = (text: string): string[] => rangeToCIDRs(parseRange(text)).map(formatCIDR);

  it.each([
    ['10.0.0.0-10.0.0.255', ['10.0.0.0/24']],
    ['10.0.0.1-10.0.0.6', ['10.0.0.1/32', '10.0.0.2/31', '10.0.0.4/31', '10.0.0.6/32']],
    [
      '192.168.10.200-192.168.10.250',
      [
        '192.168.10.200/29',
        '192.168.10.208/28',
        '192.168.10.224/28',
        '192.168.10.240/29',
        '192.168.10.248/31',
        '192.168.10.250/32',
      ],
    ],
    ['0.0.0.0-255.255.255.255', ['0.0.0.0/0']],
    ['10.0.0.7-10.0.0.7', ['10.0.0.7/32']],
    ['fc00::-fc00::ffff:ffff:ffff:ffff', ['fc00::/64']],
    ['::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', ['::/0']],
  ])('summarises %s', (text, expected) => {
    expect(cidrs(text)).toEqual(expected);
  });

  it('covers the range exactly, without gaps or overlaps', () => {
    for (let a = 0; a < 64; a += 3) {
      for (let b = a; b < 300; b += 7) {
        const range = { family: 4 as const, first: BigInt(a), last: BigInt(b) };
        let next = range.first;
        for (const c of rangeToCIDRs(range)) {
          const r = cidrToRange(c);
          expect(r.first).toBe(next);
          next = r.last + 1n;
        }
        expect(next).toBe(range.last + 1n);
      }
    }
  });

  it('turns a CIDR back into its range', () => {
    expect(formatRange(cidrToRange(parseCIDR('10.0.0.0/30')))).toBe('10.0.0.0-10.0.0.3');
    expect(formatRange(cidrToRange(parseCIDR('10.0.0.9/32')))).toBe('10.0.0.9');
  });
});

describe('contains and overlap', () => {
  const a = parseRange('10.0.0.0-10.0.0.10');
  const b = parseRange('10.0.0.10-10.0.0.20');
  const c = parseRange('10.0.0.11-10.0.0.20');
  const six = parseRange('::-::ff');

  it('sees a shared address as overlap', () => expect(rangesOverlap(a, b)).toBe(true));
  it('sees adjacent ranges as disjoint', () => expect(rangesOverlap(a, c)).toBe(false));
  it('never mixes families', () => {
    expect(rangesOverlap(a, six)).toBe(false);
    expect(rangeContains(six, parseIP('0.0.0.5'))).toBe(false);
  });
  it('contains its ends', () => {
    expect(rangeContains(a, parseIP('10.0.0.0'))).toBe(true);
    expect(rangeContains(a, parseIP('10.0.0.10'))).toBe(true);
    expect(rangeContains(a, parseIP('10.0.0.11'))).toBe(false);
  });
  it('contains a sub-range', () => {
    expect(rangeContainsRange(parseRange('10.0.0.0-10.0.0.20'), c)).toBe(true);
    expect(rangeContainsRange(c, a)).toBe(false);
  });
  it('sizes', () => expect(rangeSize(a)).toBe(11n));
});
