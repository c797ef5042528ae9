// Every NOTIFICATION the decoder and validateOpen can ask for, with its data field.

import { fromHex } from '../../../test/fuzz/bgp-messages.js';
import { decodeMessage } from './decode.js';
import type { DecodeResult } from './decode-result.js';
import { encodeMessage } from './encode.js';
import type { CodecContext, NotificationMessage, OpenMessage } from './messages.js';
import {
  ErrorCode,
  HeaderSubcode,
  OpenSubcode,
  RouteRefreshErrorSubcode,
  describeNotification,
} from './notification-codes.js';
import { buildOpen, negotiate, validateOpen } from './open.js';
import type { OpenExpectations } from './open.js';

const ctx: CodecContext = { fourOctetAs: true, maxMessageSize: 4096 };

/** A message of the given type around the body, with a correct header length. */
function frame(type: number, body: string): Buffer {
  const b = fromHex(body);
  const head = fromHex('ff*16 0000 00');
  head.writeUInt16BE(19 + b.length, 16);
  head[18] = type;
  return Buffer.concat([head, b]);
}

function resetWith(r: DecodeResult): NotificationMessage {
  if (r.action !== 'session-reset') throw new Error(`expected session-reset, got ${r.action}`);
  return r.notification;
}

describe('message header errors (RFC 4271 §6.1)', () => {
  test('a marker that is not all ones is Connection Not Synchronized', () => {
    const n = resetWith(decodeMessage(fromHex('ff*15 fe 0013 04'), ctx));
    expect([n.code, n.subcode]).toEqual([
      ErrorCode.MESSAGE_HEADER,
      HeaderSubcode.CONNECTION_NOT_SYNCHRONIZED,
    ]);
  });

  test.each([
    ['a KEEPALIVE of 20 octets', 'ff*16 0014 04 00', 20],
    ['an OPEN shorter than 29 octets', 'ff*16 001c 01 04 fde8 005a 0a000001', 28],
    ['an UPDATE shorter than 23 octets', 'ff*16 0016 02 0000 00', 22],
    ['a NOTIFICATION shorter than 21 octets', 'ff*16 0014 03 06', 20],
    ['a frame whose header disagrees with its size', 'ff*16 0020 04', 32],
  ])('%s is Bad Message Length with the length field as data', (_n, hex, length) => {
    const n = resetWith(decodeMessage(fromHex(hex), ctx));
    expect([n.code, n.subcode]).toEqual([ErrorCode.MESSAGE_HEADER, HeaderSubcode.BAD_MESSAGE_LENGTH]);
    expect(n.data.readUInt16BE(0)).toBe(length);
  });

  test('an OPEN over 4096 octets is Bad Message Length even with Extended Messages (RFC 8654 §4)', () => {
    const open = Buffer.alloc(5000);
    fromHex('ff*16 1388 01 04 fde8 005a 0a000001 00').copy(open);
    const n = resetWith(decodeMessage(open, { ...ctx, maxMessageSize: 65535 }));
    expect([n.code, n.subcode]).toEqual([ErrorCode.MESSAGE_HEADER, HeaderSubcode.BAD_MESSAGE_LENGTH]);
  });

  test('type 6 is Bad Message Type with the type as data', () => {
    const n = resetWith(decodeMessage(fromHex('ff*16 0013 06'), ctx));
    expect(n).toEqual({
      type: 'notification',
      code: 1,
      subcode: HeaderSubcode.BAD_MESSAGE_TYPE,
      data: Buffer.from([6]),
    });
  });
});

describe('ROUTE-REFRESH errors (RFC 7313 §5)', () => {
  test('a ROUTE-REFRESH of the wrong length is Invalid Message Length with the whole message as data', () => {
    const bytes = fromHex('ff*16 0018 05 0001 00 01 00');
    const n = resetWith(decodeMessage(bytes, ctx));
    expect([n.code, n.subcode]).toEqual([
      ErrorCode.ROUTE_REFRESH,
      RouteRefreshErrorSubcode.INVALID_MESSAGE_LENGTH,
    ]);
    expect(n.data).toEqual(bytes);
  });
});

describe('OPEN decoding errors', () => {
  test.each([
    ['Opt Parm Len longer than the message', '04 fde8 005a 0a000001 05 02 02 02 00'],
    ['Opt Parm Len shorter than the parameters', '04 fde8 005a 0a000001 01 02 02 02 00'],
    ['a capability overrunning its parameter', '04 fde8 005a 0a000001 04 02 02 41 04'],
    ['a 4-octet AS capability of 2 octets', '04 fde8 005a 0a000001 06 02 04 41 02 fde8'],
    ['a graceful restart capability of 3 octets', '04 fde8 005a 0a000001 07 02 05 40 03 0078 00'],
    ['RFC 9072 form with a short extended length', '04 fde8 005a 0a000001 ff ff 0002 02 0004'],
  ])('%s is OPEN Message Error (unspecific)', (_n, hex) => {
    const n = resetWith(decodeMessage(frame(1, hex), ctx));
    expect([n.code, n.subcode]).toEqual([ErrorCode.OPEN_MESSAGE, OpenSubcode.UNSPECIFIC]);
  });

  test('an unparseable OPEN of another version is Unsupported Version Number, data 4', () => {
    const n = resetWith(decodeMessage(frame(1, '05 fde8 005a 0a000001 09 02 02 02 00'), ctx));
    expect(n).toEqual({
      type: 'notification',
      code: 2,
      subcode: OpenSubcode.UNSUPPORTED_VERSION,
      data: Buffer.from([0, 4]),
    });
  });
});

describe('validateOpen (RFC 4271 §6.2)', () => {
  const expectations: OpenExpectations = {
    localAs: 64512,
    localBgpId: '10.0.0.1',
    peerAs: 4200000001,
    requiredCapabilities: [{ kind: 'multiprotocol', afi: 2, safi: 1 }],
  };
  const good: OpenMessage = buildOpen({
    asn: 4200000001,
    holdTime: 90,
    bgpId: '10.0.0.2',
    capabilities: [
      { kind: 'multiprotocol', afi: 1, safi: 1 },
      { kind: 'multiprotocol', afi: 2, safi: 1 },
    ],
  });

  function subcodeFor(open: OpenMessage, exp = expectations): { subcode: number; data: Buffer } | 'ok' {
    const r = validateOpen(open, exp);
    if (r.ok) return 'ok';
    expect(r.notification.code).toBe(ErrorCode.OPEN_MESSAGE);
    return { subcode: r.notification.subcode, data: r.notification.data };
  }

  test('accepts the expected peer and reports its 4-octet ASN', () => {
    expect(good.myAs).toBe(23456);
    expect(validateOpen(good, expectations)).toEqual({ ok: true, peerAs: 4200000001 });
  });

  test('version 3 is Unsupported Version Number with 4 as data', () => {
    expect(subcodeFor({ ...good, version: 3 })).toEqual({
      subcode: OpenSubcode.UNSUPPORTED_VERSION,
      data: Buffer.from([0, 4]),
    });
  });

  test.each([
    ['another ASN than configured', { capabilities: [{ kind: 'four-octet-as' as const, asn: 65001 }] }],
    ['AS 0 (RFC 7607)', { myAs: 0, capabilities: [] }],
    ['AS_TRANS without the 4-octet capability', { capabilities: [] }],
  ])('%s is Bad Peer AS', (_n, change) => {
    expect(subcodeFor({ ...good, ...change }, { ...expectations, requiredCapabilities: [] })).toMatchObject({
      subcode: OpenSubcode.BAD_PEER_AS,
    });
  });

  test('AS 0 is refused even when any peer AS is accepted', () => {
    const open = { ...good, myAs: 0, capabilities: [] };
    expect(subcodeFor(open, { localAs: 64512, localBgpId: '10.0.0.1' })).toMatchObject({
      subcode: OpenSubcode.BAD_PEER_AS,
    });
  });

  describe('dynamicASN (no configured peer AS)', () => {
    const open = (asn: number): OpenMessage =>
      buildOpen({ asn, holdTime: 90, bgpId: '10.0.0.2', capabilities: [] });
    const dynamic = (dynamicAs: 'internal' | 'external'): OpenExpectations => ({
      localAs: 64512,
      localBgpId: '10.0.0.1',
      dynamicAs,
    });

    test('external refuses a peer in our own AS with Bad Peer AS (2/2), and accepts any other', () => {
      const r = validateOpen(open(64512), dynamic('external'));
      expect(r).toMatchObject({
        ok: false,
        notification: { code: ErrorCode.OPEN_MESSAGE, subcode: OpenSubcode.BAD_PEER_AS },
      });
      expect(r.ok ? '' : r.reason).toBe(
        'OPEN: peer AS is 64512, our own AS: dynamicASN external accepts only an external peer',
      );
      expect(validateOpen(open(64500), dynamic('external'))).toEqual({ ok: true, peerAs: 64500 });
      expect(validateOpen(open(4200000001), dynamic('external'))).toEqual({ ok: true, peerAs: 4200000001 });
    });

    test('internal refuses a peer in another AS with Bad Peer AS (2/2), and accepts our own', () => {
      const r = validateOpen(open(64500), dynamic('internal'));
      expect(r).toMatchObject({
        ok: false,
        notification: { code: ErrorCode.OPEN_MESSAGE, subcode: OpenSubcode.BAD_PEER_AS },
      });
      expect(r.ok ? '' : r.reason).toBe(
        'OPEN: peer AS is 64500, not our AS 64512: dynamicASN internal accepts only an internal peer',
      );
      expect(validateOpen(open(64512), dynamic('internal'))).toEqual({ ok: true, peerAs: 64512 });
    });

    test('a configured peer AS decides alone', () => {
      const exp = { ...dynamic('external'), peerAs: 64512 };
      expect(validateOpen(open(64512), exp)).toEqual({ ok: true, peerAs: 64512 });
    });
  });

  test.each([1, 2])('a hold time of %i s is Unacceptable Hold Time', (holdTime) => {
    expect(subcodeFor({ ...good, holdTime })).toMatchObject({ subcode: OpenSubcode.UNACCEPTABLE_HOLD_TIME });
  });

  test.each([0, 3])('a hold time of %i s is acceptable', (holdTime) => {
    expect(subcodeFor({ ...good, holdTime })).toBe('ok');
  });

  test('BGP identifier 0.0.0.0 is Bad BGP Identifier', () => {
    expect(subcodeFor({ ...good, bgpId: '0.0.0.0' })).toMatchObject({
      subcode: OpenSubcode.BAD_BGP_IDENTIFIER,
    });
  });

  test('an internal peer with our own BGP identifier is Bad BGP Identifier; an external one is fine (RFC 6286)', () => {
    const internal = buildOpen({ asn: 64512, holdTime: 90, bgpId: '10.0.0.1', capabilities: [] });
    const exp = { localAs: 64512, localBgpId: '10.0.0.1' };
    expect(subcodeFor(internal, exp)).toMatchObject({ subcode: OpenSubcode.BAD_BGP_IDENTIFIER });
    expect(subcodeFor({ ...good, bgpId: '10.0.0.1' }, { ...exp, localAs: 64513 })).toBe('ok');
  });

  test('a non-capability optional parameter is Unsupported Optional Parameter', () => {
    expect(subcodeFor({ ...good, otherParameters: [{ type: 1, data: Buffer.from([0]) }] })).toMatchObject({
      subcode: OpenSubcode.UNSUPPORTED_OPTIONAL_PARAMETER,
    });
  });

  test('a missing required capability is Unsupported Capability listing it as data (RFC 5492 §5)', () => {
    const open = {
      ...good,
      capabilities: good.capabilities.filter((c) => !(c.kind === 'multiprotocol' && c.afi === 2)),
    };
    expect(subcodeFor(open)).toEqual({
      subcode: OpenSubcode.UNSUPPORTED_CAPABILITY,
      data: fromHex('01 04 0002 00 01'),
    });
  });

  test('negotiation takes the smaller hold time, shared families, 4-octet ASNs and extended messages from both sides', () => {
    const local = buildOpen({
      asn: 64512,
      holdTime: 30,
      bgpId: '10.0.0.1',
      capabilities: [{ kind: 'multiprotocol', afi: 2, safi: 1 }, { kind: 'extended-message' }],
    });
    const remote = { ...good, capabilities: [...good.capabilities, { kind: 'extended-message' as const }] };
    expect(negotiate(local, remote)).toEqual({
      context: { fourOctetAs: true, maxMessageSize: 65535, external: true },
      holdTime: 30,
      families: [{ afi: 2, safi: 1 }],
    });
    expect(negotiate(local, good).context.maxMessageSize).toBe(4096);
  });

  test('a peer that advertises no multiprotocol capability gets IPv4 unicast only (RFC 4760 §8)', () => {
    const open = (capabilities: Parameters<typeof buildOpen>[0]['capabilities']) =>
      buildOpen({ asn: 64512, holdTime: 30, bgpId: '10.0.0.1', capabilities });
    const both = open([
      { kind: 'multiprotocol', afi: 1, safi: 1 },
      { kind: 'multiprotocol', afi: 2, safi: 1 },
    ]);
    const none = open([]);
    expect(negotiate(both, none).families).toEqual([{ afi: 1, safi: 1 }]);
    expect(negotiate(none, both).families).toEqual([{ afi: 1, safi: 1 }]);
    expect(negotiate(none, none).families).toEqual([{ afi: 1, safi: 1 }]);
    expect(negotiate(open([{ kind: 'multiprotocol', afi: 2, safi: 1 }]), none).families).toEqual([]);
  });
});

describe('NOTIFICATION names and encoding', () => {
  test.each([
    [6, 2, 'Cease / Administrative Shutdown'],
    [6, 8, 'Cease / Out of Resources'],
    [3, 11, 'UPDATE Message Error / Malformed AS_PATH'],
    [4, 0, 'Hold Timer Expired'],
    [5, 3, 'Finite State Machine Error / Receive Unexpected Message in Established State'],
    [9, 9, 'error code 9 / subcode 9'],
  ])('%i/%i reads as "%s"', (code, subcode, text) => {
    expect(describeNotification(code, subcode)).toBe(text);
  });

  test('NOTIFICATION data too long for the session is cut to fit rather than not sent', () => {
    const bytes = encodeMessage(
      { type: 'notification', code: 3, subcode: 1, data: Buffer.alloc(10000) },
      ctx,
    );
    expect(bytes.length).toBe(4096);
    expect(decodeMessage(bytes, ctx).action).toBe('ok');
  });
});
