// Packing 10,000 host routes into the fewest UPDATEs the session's message size allows.

import { decodeMessage } from './decode.js';
import type { CodecContext, PathAttributes, UpdateMessage } from './messages.js';
import { packAnnouncements, packWithdrawals } from './pack.js';
import type { Prefix } from './prefix.js';
import { formatPrefix, parsePrefix } from './prefix.js';
import { BgpEncodeError } from './errors.js';

const small: CodecContext = { fourOctetAs: true, maxMessageSize: 4096 };
const extended: CodecContext = { fourOctetAs: true, maxMessageSize: 65535 };

function hosts4(n: number): Prefix[] {
  return Array.from({ length: n }, (_, i) =>
    parsePrefix(`10.${77 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32`),
  );
}
function hosts6(n: number): Prefix[] {
  return Array.from({ length: n }, (_, i) => parsePrefix(`2001:db8::${i.toString(16)}/128`));
}

const attrs: PathAttributes = {
  origin: 0,
  asPath: [{ type: 'sequence', asns: [65001] }],
  nextHop: '10.0.0.1',
};
// ORIGIN 3+1, AS_PATH 3+(2+4), NEXT_HOP 3+4 octets.
const ATTRS_V4 = 4 + 9 + 7;
const UPDATE_OVERHEAD = 19 + 2 + 2;

function decodeAll(messages: Buffer[], ctx: CodecContext): UpdateMessage[] {
  return messages.map((b) => {
    expect(b.length).toBeLessThanOrEqual(ctx.maxMessageSize);
    const r = decodeMessage(b, ctx);
    if (r.action !== 'ok' || r.message.type !== 'update')
      throw new Error(`not an UPDATE: ${JSON.stringify(r)}`);
    return r.message;
  });
}

function expectEachOnce(got: Prefix[], want: Prefix[]): void {
  const texts = got.map(formatPrefix);
  expect(texts.length).toBe(want.length);
  expect(new Set(texts)).toEqual(new Set(want.map(formatPrefix)));
}

describe('packing announcements', () => {
  test('10,000 IPv4 /32s with one attribute set fill the minimal number of 4096-octet UPDATEs', () => {
    const prefixes = hosts4(10_000);
    const perMessage = Math.floor((4096 - UPDATE_OVERHEAD - ATTRS_V4) / 5);
    const expected = Math.ceil(10_000 / perMessage);
    expect([perMessage, expected]).toEqual([810, 13]);
    const out = packAnnouncements(prefixes, attrs, small);
    expect(out.length).toBe(expected);
    const updates = decodeAll(out, small);
    for (const u of updates) expect(u.attributes).toEqual(attrs);
    expect(updates.slice(0, -1).every((u) => u.nlri.length === perMessage)).toBe(true);
    expectEachOnce(
      updates.flatMap((u) => u.nlri),
      prefixes,
    );
  });

  test('with Extended Messages, 10,000 /32s fit in one UPDATE and 20,000 in two', () => {
    const perMessage = Math.floor((65535 - UPDATE_OVERHEAD - ATTRS_V4) / 5);
    expect(perMessage).toBe(13098);
    expect(packAnnouncements(hosts4(10_000), attrs, extended).length).toBe(1);
    const prefixes = hosts4(20_000);
    const out = packAnnouncements(prefixes, attrs, extended);
    expect(out.length).toBe(Math.ceil(20_000 / perMessage));
    expectEachOnce(
      decodeAll(out, extended).flatMap((u) => u.nlri),
      prefixes,
    );
  });

  test('10,000 IPv6 /128s go into MP_REACH_NLRI, as few UPDATEs as fit', () => {
    const prefixes = hosts6(10_000);
    const v6attrs: PathAttributes = {
      ...attrs,
      mpReach: { family: 6, nextHop: '2001:db8::1', linkLocalNextHop: 'fe80::1', nlri: [] },
    };
    // MP_REACH: 4-octet header (Extended Length), AFI 2 + SAFI 1 + next hop length 1 + 32 + reserved 1.
    const fixed = UPDATE_OVERHEAD + (4 + 9) + 4 + (2 + 1 + 1 + 32 + 1);
    const perMessage = Math.floor((4096 - fixed) / 17);
    const out = packAnnouncements(prefixes, v6attrs, small);
    expect(out.length).toBe(Math.ceil(10_000 / perMessage));
    const updates = decodeAll(out, small);
    for (const u of updates) {
      expect(u.nlri).toEqual([]);
      // The IPv4 NEXT_HOP is left out of IPv6-only UPDATEs (RFC 4760 §3).
      expect(u.attributes.nextHop).toBeUndefined();
      expect(u.attributes.mpReach).toMatchObject({ nextHop: '2001:db8::1', linkLocalNextHop: 'fe80::1' });
    }
    expectEachOnce(
      updates.flatMap((u) => u.attributes.mpReach!.nlri),
      prefixes,
    );
  });

  test('a mixed list is split by family, and a handful of prefixes still use a 1-octet attribute length', () => {
    const v6attrs: PathAttributes = { ...attrs, mpReach: { family: 6, nextHop: '2001:db8::1', nlri: [] } };
    const out = packAnnouncements([...hosts4(3), ...hosts6(3)], v6attrs, small);
    expect(out.length).toBe(2);
    const [v4, v6] = decodeAll(out, small);
    expect(v4!.nlri.length).toBe(3);
    expect(v6!.attributes.mpReach!.nlri.length).toBe(3);
    expect(out[1]![23]).toBe(0x80); // MP_REACH flags without Extended Length
  });

  test('refuses IPv4 without NEXT_HOP and IPv6 without an MP_REACH next hop', () => {
    expect(() => packAnnouncements(hosts4(1), { origin: 0, asPath: [] }, small)).toThrow(BgpEncodeError);
    expect(() => packAnnouncements(hosts6(1), attrs, small)).toThrow(BgpEncodeError);
  });
});

describe('packing withdrawals', () => {
  test('10,000 IPv4 /32s fill the minimal number of Withdrawn Routes fields', () => {
    const prefixes = hosts4(10_000);
    const out = packWithdrawals(prefixes, small);
    expect(out.length).toBe(Math.ceil(10_000 / Math.floor((4096 - UPDATE_OVERHEAD) / 5)));
    const updates = decodeAll(out, small);
    for (const u of updates) expect(u.attributes).toEqual({});
    expectEachOnce(
      updates.flatMap((u) => u.withdrawn),
      prefixes,
    );
  });

  test('10,000 IPv6 /128s fill the minimal number of MP_UNREACH_NLRI attributes', () => {
    const prefixes = hosts6(10_000);
    const out = packWithdrawals(prefixes, small);
    expect(out.length).toBe(Math.ceil(10_000 / Math.floor((4096 - UPDATE_OVERHEAD - 4 - 3) / 17)));
    expectEachOnce(
      decodeAll(out, small).flatMap((u) => u.attributes.mpUnreach!.withdrawn),
      prefixes,
    );
  });

  test('nothing to withdraw is no message', () => {
    expect(packWithdrawals([], small)).toEqual([]);
  });
});
