// Byte vectors built field by field from the RFC layouts, in the form BIRD 2 and FRR send them.

import { fromHex } from '../../../test/fuzz/bgp-messages.js';
import { decodeMessage } from './decode.js';
import { encodeMessage } from './encode.js';
import { endOfRib, endOfRibFamily } from './end-of-rib.js';
import type { BgpMessage, CodecContext, UpdateMessage } from './messages.js';
import { buildOpen } from './open.js';
import { parsePrefix } from './prefix.js';
import { WellKnownCommunity } from './constants.js';
import { parseCommunity } from './community.js';

const ctx4: CodecContext = { fourOctetAs: true, maxMessageSize: 4096 };

function decodeOk(bytes: Buffer, ctx: CodecContext = ctx4): BgpMessage {
  const r = decodeMessage(bytes, ctx);
  if (r.action !== 'ok') throw new Error(`expected ok, got ${JSON.stringify(r)}`);
  return r.message;
}

// RFC 4271 §4.2 OPEN from AS 4200000001 (so My AS = AS_TRANS, RFC 6793), hold 90 s,
// identifier 10.0.0.1, all capabilities in one Capabilities optional parameter (as BIRD 2 does).
const openHex = `
  ff*16 003f 01          # marker, length 63, type OPEN
  04 5ba0 005a 0a000001  # version 4, My AS 23456, hold time 90, BGP Identifier
  22                     # Opt Parm Len = 34, at offset 28 of the message
  02 20                  # parameter type 2 (Capabilities), length 32
  01 04 0001 00 01       # multiprotocol IPv4 unicast
  01 04 0002 00 01       # multiprotocol IPv6 unicast
  02 00                  # route refresh
  46 00                  # enhanced route refresh
  40 06 0078 0001 01 80  # graceful restart: 120 s, IPv4 unicast with forwarding state
  41 04 fa56ea01         # 4-octet AS 4200000001
  06 00                  # extended message
`;

describe('BGP byte vectors', () => {
  test('an OPEN encodes to the RFC 4271 layout with Opt Parm Len at offset 28', () => {
    const open = buildOpen({
      asn: 4200000001,
      holdTime: 90,
      bgpId: '10.0.0.1',
      capabilities: [
        { kind: 'multiprotocol', afi: 1, safi: 1 },
        { kind: 'multiprotocol', afi: 2, safi: 1 },
        { kind: 'route-refresh' },
        { kind: 'enhanced-route-refresh' },
        {
          kind: 'graceful-restart',
          restarting: false,
          notification: false,
          restartTime: 120,
          families: [{ afi: 1, safi: 1, forwardingState: true }],
        },
        { kind: 'four-octet-as', asn: 4200000001 },
        { kind: 'extended-message' },
      ],
    });
    const bytes = encodeMessage(open);
    expect(bytes.toString('hex')).toBe(fromHex(openHex).toString('hex'));
    expect(bytes[28]).toBe(34); // Opt Parm Len: the byte BIRD reads to find the capabilities
    expect(bytes.readUInt16BE(16)).toBe(bytes.length);
  });

  test('an OPEN as BIRD sends it decodes to every capability', () => {
    const open = decodeOk(fromHex(openHex));
    expect(open).toEqual({
      type: 'open',
      version: 4,
      myAs: 23456,
      holdTime: 90,
      bgpId: '10.0.0.1',
      capabilities: [
        { kind: 'multiprotocol', afi: 1, safi: 1 },
        { kind: 'multiprotocol', afi: 2, safi: 1 },
        { kind: 'route-refresh' },
        { kind: 'enhanced-route-refresh' },
        {
          kind: 'graceful-restart',
          restarting: false,
          notification: false,
          restartTime: 120,
          families: [{ afi: 1, safi: 1, forwardingState: true }],
        },
        { kind: 'four-octet-as', asn: 4200000001 },
        { kind: 'extended-message' },
      ],
    });
  });

  test('an OPEN with one capability per optional parameter (older FRR) decodes the same capabilities', () => {
    const bytes = fromHex(`
      ff*16 0035 01 04 fde8 00b4 c0000201
      18                       # 24 octets of parameters
      02 06 01 04 0001 00 01   # multiprotocol IPv4 unicast
      02 02 02 00              # route refresh
      02 06 41 04 0000fde8     # 4-octet AS 65000
      02 02 80 00              # Cisco's pre-standard route refresh (unknown, kept raw)
    `);
    const open = decodeOk(bytes);
    expect(open).toMatchObject({ myAs: 65000, holdTime: 180, bgpId: '192.0.2.1' });
    expect(open.type === 'open' && open.capabilities).toEqual([
      { kind: 'multiprotocol', afi: 1, safi: 1 },
      { kind: 'route-refresh' },
      { kind: 'four-octet-as', asn: 65000 },
      { kind: 'unknown', code: 128, data: Buffer.alloc(0) },
    ]);
  });

  test('a graceful restart capability carries the R and N bits and the 12-bit restart time', () => {
    const bytes = fromHex(`ff*16 0027 01 04 fde8 005a 0a000001 0a 02 08 40 06 cfff 0002 01 00`);
    const open = decodeOk(bytes);
    expect(open.type === 'open' && open.capabilities[0]).toEqual({
      kind: 'graceful-restart',
      restarting: true,
      notification: true,
      restartTime: 4095,
      families: [{ afi: 2, safi: 1, forwardingState: false }],
    });
    expect(encodeMessage(open)).toEqual(bytes);
  });

  test('an OPEN with the RFC 9072 extended optional parameters length decodes', () => {
    const bytes = fromHex(`
      ff*16 0027 01 04 fde8 005a 0a000001
      ff ff 0007               # Non-Ext OP Len 255, Non-Ext OP Type 255, Extended Opt. Parm. Length 7
      02 0004 02 00 06 00      # Capabilities with a 2-octet length: route refresh, extended message
    `);
    const open = decodeOk(bytes);
    expect(open.type === 'open' && open.capabilities).toEqual([
      { kind: 'route-refresh' },
      { kind: 'extended-message' },
    ]);
  });

  test('a KEEPALIVE is the 19-octet header alone', () => {
    const bytes = fromHex('ff*16 0013 04');
    expect(encodeMessage({ type: 'keepalive' })).toEqual(bytes);
    expect(decodeOk(bytes)).toEqual({ type: 'keepalive' });
  });

  test('a NOTIFICATION carries code, subcode and data (Cease / Administrative Shutdown, RFC 9003 message)', () => {
    const bytes = fromHex('ff*16 001a 03 06 02 04 62 79 65 21');
    const msg = {
      type: 'notification',
      code: 6,
      subcode: 2,
      data: Buffer.from('\x04bye!', 'latin1'),
    } as const;
    expect(encodeMessage(msg)).toEqual(bytes);
    expect(decodeOk(bytes)).toEqual(msg);
  });

  test('a ROUTE-REFRESH carries AFI, the RFC 7313 subtype and SAFI', () => {
    const bytes = fromHex('ff*16 0017 05 0002 01 01');
    const msg = { type: 'route-refresh', afi: 2, safi: 1, subtype: 1 } as const;
    expect(encodeMessage(msg)).toEqual(bytes);
    expect(decodeOk(bytes)).toEqual(msg);
  });

  const updateHex = `
    ff*16 0052 02
    0000                          # no withdrawn routes
    0032                          # 50 octets of path attributes
    40 01 01 00                   # ORIGIN IGP
    40 02 0a 02 02 0000fde8 fa56ea01  # AS_PATH: AS_SEQUENCE 65000 4200000001 (4-octet)
    40 03 04 0a000001             # NEXT_HOP 10.0.0.1
    c0 08 08 fde80064 ffffff01    # COMMUNITIES 65000:100 NO_EXPORT
    c0 20 0c fa56ea01 00000001 00000002  # LARGE_COMMUNITY 4200000001:1:2
    20 0a4d640a                   # 10.77.100.10/32
    18 c00002                     # 192.0.2.0/24
  `;
  const update: UpdateMessage = {
    type: 'update',
    withdrawn: [],
    attributes: {
      origin: 0,
      asPath: [{ type: 'sequence', asns: [65000, 4200000001] }],
      nextHop: '10.0.0.1',
      communities: [parseCommunity('65000:100'), WellKnownCommunity.NO_EXPORT],
      largeCommunities: [{ global: 4200000001, local1: 1, local2: 2 }],
    },
    nlri: [parsePrefix('10.77.100.10/32'), parsePrefix('192.0.2.0/24')],
  };

  test('an IPv4 UPDATE with a 4-octet AS_PATH, communities and NLRI matches the wire layout', () => {
    expect(encodeMessage(update, ctx4).toString('hex')).toBe(fromHex(updateHex).toString('hex'));
    expect(decodeOk(fromHex(updateHex))).toEqual(update);
  });

  test('without the 4-octet capability, a big ASN goes out as AS_TRANS with the real path in AS4_PATH', () => {
    const bytes = encodeMessage(update, { fourOctetAs: false, maxMessageSize: 4096 });
    const msg = decodeOk(bytes, { fourOctetAs: false, maxMessageSize: 4096 }) as UpdateMessage;
    expect(msg.attributes.asPath).toEqual([{ type: 'sequence', asns: [65000, 23456] }]);
    expect(msg.attributes.other).toEqual([
      { flags: 0xc0, typeCode: 17, value: fromHex('02 02 0000fde8 fa56ea01') },
    ]);
  });

  const mpHex = `
    ff*16 0066 02 0000 004f
    80 0e 3f                      # MP_REACH_NLRI, optional non-transitive, 63 octets, first (RFC 7606 §5.1)
    0002 01 20                    # AFI IPv6, SAFI unicast, next hop length 32
    20010db8000000000000000000000001  # global next hop 2001:db8::1
    fe800000000000000000000000000001  # link-local next hop fe80::1 (RFC 2545 §3)
    00                            # reserved
    80 20010db8000000000000000000000010  # 2001:db8::10/128
    40 20010db800010000           # 2001:db8:1::/64
    40 01 01 00                   # ORIGIN IGP
    40 02 06 02 01 0000fde8       # AS_PATH 65000
  `;

  test('an IPv6 MP_REACH_NLRI with global and link-local next hops matches the wire layout', () => {
    const msg: UpdateMessage = {
      type: 'update',
      withdrawn: [],
      attributes: {
        origin: 0,
        asPath: [{ type: 'sequence', asns: [65000] }],
        mpReach: {
          family: 6,
          nextHop: '2001:db8::1',
          linkLocalNextHop: 'fe80::1',
          nlri: [parsePrefix('2001:db8::10/128'), parsePrefix('2001:db8:1::/64')],
        },
      },
      nlri: [],
    };
    expect(encodeMessage(msg, ctx4).toString('hex')).toBe(fromHex(mpHex).toString('hex'));
    expect(decodeOk(fromHex(mpHex))).toEqual(msg);
  });

  test('End-of-RIB for IPv4 is an empty UPDATE and for IPv6 an empty MP_UNREACH_NLRI', () => {
    const v4 = fromHex('ff*16 0017 02 0000 0000');
    const v6 = fromHex('ff*16 001d 02 0000 0006 80 0f 03 0002 01');
    expect(encodeMessage(endOfRib(4), ctx4)).toEqual(v4);
    expect(encodeMessage(endOfRib(6), ctx4)).toEqual(v6);
    expect(endOfRibFamily(decodeOk(v4) as UpdateMessage)).toBe(4);
    expect(endOfRibFamily(decodeOk(v6) as UpdateMessage)).toBe(6);
    expect(endOfRibFamily(update)).toBeUndefined();
    expect(
      endOfRibFamily({
        ...endOfRib(6),
        attributes: { mpUnreach: { family: 6, withdrawn: [parsePrefix('2001:db8::/32')] } },
      }),
    ).toBeUndefined();
  });
});
