// RFC 7606 classification of malformed UPDATEs: which action, which subcode, which data.

import { fromHex } from '../../../test/fuzz/bgp-messages.js';
import { decodeMessage } from './decode.js';
import type { DecodeResult } from './decode-result.js';
import type { CodecContext } from './messages.js';
import { ErrorCode, UpdateSubcode } from './notification-codes.js';
import { formatPrefix } from './prefix.js';

const ctx: CodecContext = { fourOctetAs: true, maxMessageSize: 4096 };

/** An UPDATE around the given withdrawn routes, path attributes and NLRI (hex). */
function update(attrs: string, nlri = '20 0a4d640a', withdrawn = ''): Buffer {
  const w = fromHex(withdrawn);
  const a = fromHex(attrs);
  const n = fromHex(nlri);
  const body = Buffer.concat([
    Buffer.from([w.length >> 8, w.length & 255]),
    w,
    Buffer.from([a.length >> 8, a.length & 255]),
    a,
    n,
  ]);
  const head = fromHex('ff*16 0000 02');
  head.writeUInt16BE(19 + body.length, 16);
  return Buffer.concat([head, body]);
}

const ORIGIN = '40 01 01 00';
const AS_PATH = '40 02 06 02 01 0000fde8';
const NEXT_HOP = '40 03 04 0a000001';
const BASE = `${ORIGIN} ${AS_PATH} ${NEXT_HOP}`;
const MP_REACH_V6 = '80 0e 1e 0002 01 10 20010db8000000000000000000000001 00 40 20010db800000000';

function classify(r: DecodeResult): { action: string; subcode: number | undefined } {
  if (r.action === 'session-reset') {
    expect(r.notification.code).toBe(ErrorCode.UPDATE_MESSAGE);
    return { action: r.action, subcode: r.notification.subcode };
  }
  if (r.action === 'ok') return { action: 'ok', subcode: undefined };
  return { action: r.action, subcode: r.errors[0]!.subcode };
}

describe('RFC 7606 UPDATE error handling', () => {
  test('a well-formed UPDATE is ok', () => {
    expect(classify(decodeMessage(update(BASE), ctx))).toEqual({ action: 'ok', subcode: undefined });
  });

  test.each([
    ['ORIGIN with length 2', `40 01 02 0000 ${AS_PATH} ${NEXT_HOP}`, UpdateSubcode.ATTRIBUTE_LENGTH_ERROR],
    ['ORIGIN value 3', `40 01 01 03 ${AS_PATH} ${NEXT_HOP}`, UpdateSubcode.INVALID_ORIGIN],
    ['ORIGIN flagged optional', `c0 01 01 00 ${AS_PATH} ${NEXT_HOP}`, UpdateSubcode.ATTRIBUTE_FLAGS_ERROR],
    [
      'AS_PATH segment type 5',
      `${ORIGIN} 40 02 06 05 01 0000fde8 ${NEXT_HOP}`,
      UpdateSubcode.MALFORMED_AS_PATH,
    ],
    ['AS_PATH empty segment', `${ORIGIN} 40 02 02 02 00 ${NEXT_HOP}`, UpdateSubcode.MALFORMED_AS_PATH],
    [
      'AS_PATH segment overrun',
      `${ORIGIN} 40 02 06 02 02 0000fde8 ${NEXT_HOP}`,
      UpdateSubcode.MALFORMED_AS_PATH,
    ],
    [
      'AS_PATH lone trailing octet',
      `${ORIGIN} 40 02 07 02 01 0000fde8 02 ${NEXT_HOP}`,
      UpdateSubcode.MALFORMED_AS_PATH,
    ],
    [
      'NEXT_HOP with length 5',
      `${ORIGIN} ${AS_PATH} 40 03 05 0a00000100`,
      UpdateSubcode.ATTRIBUTE_LENGTH_ERROR,
    ],
    ['NEXT_HOP 0.0.0.0', `${ORIGIN} ${AS_PATH} 40 03 04 00000000`, UpdateSubcode.INVALID_NEXT_HOP],
    ['NEXT_HOP multicast', `${ORIGIN} ${AS_PATH} 40 03 04 e0000001`, UpdateSubcode.INVALID_NEXT_HOP],
    ['MED with length 2', `${BASE} 80 04 02 0001`, UpdateSubcode.ATTRIBUTE_LENGTH_ERROR],
    ['LOCAL_PREF with length 3', `${BASE} 40 05 03 000064`, UpdateSubcode.ATTRIBUTE_LENGTH_ERROR],
    ['COMMUNITIES with length 6', `${BASE} c0 08 06 fde80064 0000`, UpdateSubcode.ATTRIBUTE_LENGTH_ERROR],
    ['COMMUNITIES with length 0', `${BASE} c0 08 00`, UpdateSubcode.ATTRIBUTE_LENGTH_ERROR],
    [
      'LARGE_COMMUNITY with length 8',
      `${BASE} c0 20 08 0000fde8 00000001`,
      UpdateSubcode.ATTRIBUTE_LENGTH_ERROR,
    ],
    ['ORIGINATOR_ID with length 3', `${BASE} 80 09 03 0a0000`, UpdateSubcode.ATTRIBUTE_LENGTH_ERROR],
    ['CLUSTER_LIST with length 5', `${BASE} 80 0a 05 0a00000100`, UpdateSubcode.ATTRIBUTE_LENGTH_ERROR],
    ['EXTENDED_COMMUNITIES with length 4', `${BASE} c0 10 04 00020001`, UpdateSubcode.ATTRIBUTE_LENGTH_ERROR],
    ['missing NEXT_HOP with NLRI', `${ORIGIN} ${AS_PATH}`, UpdateSubcode.MISSING_WELL_KNOWN_ATTRIBUTE],
    ['missing ORIGIN', `${AS_PATH} ${NEXT_HOP}`, UpdateSubcode.MISSING_WELL_KNOWN_ATTRIBUTE],
    ['no attributes at all with NLRI', ``, UpdateSubcode.MISSING_WELL_KNOWN_ATTRIBUTE],
    [
      'attribute overrunning the attribute field (RFC 7606 §4)',
      `${BASE} c0 08 08 fde80064`,
      UpdateSubcode.ATTRIBUTE_LENGTH_ERROR,
    ],
    [
      'two octets left after the last attribute (RFC 7606 §4)',
      `${BASE} c0 08`,
      UpdateSubcode.MALFORMED_ATTRIBUTE_LIST,
    ],
  ])('%s is treat-as-withdraw', (_name, attrs, subcode) => {
    const r = decodeMessage(update(attrs, '20 0a4d640a', '18 c00002'), ctx);
    expect(classify(r)).toEqual({ action: 'treat-as-withdraw', subcode });
    // Every prefix the message touched is withdrawn: the Withdrawn Routes field and the NLRI.
    expect(r.action === 'treat-as-withdraw' && r.withdrawn.map(formatPrefix)).toEqual([
      '192.0.2.0/24',
      '10.77.100.10/32',
    ]);
  });

  test('treat-as-withdraw also withdraws the NLRI inside MP_REACH_NLRI', () => {
    const r = decodeMessage(update(`${MP_REACH_V6} 40 01 01 09 ${AS_PATH}`, ''), ctx);
    expect(r.action === 'treat-as-withdraw' && r.withdrawn.map(formatPrefix)).toEqual(['2001:db8::/64']);
  });

  test.each([
    ['ATOMIC_AGGREGATE with length 1', `${BASE} 40 06 01 00`, UpdateSubcode.ATTRIBUTE_LENGTH_ERROR, 6],
    [
      'AGGREGATOR with length 6 on a 4-octet session',
      `${BASE} c0 07 06 fde8 0a000001`,
      UpdateSubcode.ATTRIBUTE_LENGTH_ERROR,
      7,
    ],
    [
      'AGGREGATOR flagged non-transitive',
      `${BASE} 80 07 08 0000fde8 0a000001`,
      UpdateSubcode.ATTRIBUTE_FLAGS_ERROR,
      7,
    ],
    [
      'AS4_AGGREGATOR with length 6',
      `${BASE} c0 12 06 fde8 0a000001`,
      UpdateSubcode.ATTRIBUTE_LENGTH_ERROR,
      18,
    ],
    ['AS4_PATH with an empty segment', `${BASE} c0 11 02 02 00`, UpdateSubcode.MALFORMED_AS_PATH, 17],
    [
      'a second COMMUNITIES (RFC 7606 §3(g))',
      `${BASE} c0 08 04 fde80064 c0 08 04 fde80065`,
      UpdateSubcode.MALFORMED_ATTRIBUTE_LIST,
      8,
    ],
  ])('%s is attribute-discard and the rest of the UPDATE stands', (_name, attrs, subcode, typeCode) => {
    const r = decodeMessage(update(attrs), ctx);
    expect(classify(r)).toEqual({ action: 'attribute-discard', subcode });
    if (r.action !== 'attribute-discard') return;
    expect(r.errors[0]!.typeCode).toBe(typeCode);
    expect(r.message.nlri.map(formatPrefix)).toEqual(['10.77.100.10/32']);
    expect(r.message.attributes.aggregator).toBeUndefined();
    expect(r.message.attributes.atomicAggregate).toBeUndefined();
    // The first COMMUNITIES survives; only the repeat is discarded.
    if (typeCode === 8) expect(r.message.attributes.communities).toEqual([0xfde80064]);
  });

  test('LOCAL_PREF from an external peer is discarded (RFC 7606 §7.5)', () => {
    const r = decodeMessage(update(`${BASE} 40 05 04 00000064`), { ...ctx, external: true });
    expect(r.action).toBe('attribute-discard');
    const internal = decodeMessage(update(`${BASE} 40 05 04 00000064`), ctx);
    expect(
      internal.action === 'ok' && internal.message.type === 'update' && internal.message.attributes.localPref,
    ).toBe(100);
  });

  test('the strongest action wins when errors differ (RFC 7606 §3)', () => {
    const r = decodeMessage(update(`${BASE} 40 06 01 00 c0 08 06 fde80064 0000`), ctx);
    expect(r.action).toBe('treat-as-withdraw');
    expect(r.action === 'treat-as-withdraw' && r.errors.map((e) => e.action)).toEqual([
      'attribute-discard',
      'treat-as-withdraw',
    ]);
  });

  test.each([
    [
      'a second MP_REACH_NLRI',
      `${MP_REACH_V6} ${MP_REACH_V6} ${ORIGIN} ${AS_PATH}`,
      UpdateSubcode.MALFORMED_ATTRIBUTE_LIST,
    ],
    [
      'MP_REACH_NLRI with a 20-octet IPv6 next hop',
      `80 0e 22 0002 01 14 ${'00'.repeat(20)} 00 40 20010db800000000 ${ORIGIN} ${AS_PATH}`,
      UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR,
    ],
    [
      'MP_REACH_NLRI with a /129 prefix',
      `80 0e 17 0002 01 10 20010db8000000000000000000000001 00 81 20 ${ORIGIN} ${AS_PATH}`,
      UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR,
    ],
    [
      'MP_REACH_NLRI with a prefix overrunning it',
      `80 0e 17 0002 01 10 20010db8000000000000000000000001 00 40 20 ${ORIGIN} ${AS_PATH}`,
      UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR,
    ],
    [
      'MP_REACH_NLRI too short for its header',
      `80 0e 02 0002 ${ORIGIN} ${AS_PATH}`,
      UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR,
    ],
    ['MP_UNREACH_NLRI flagged transitive', `c0 0f 03 0002 01`, UpdateSubcode.ATTRIBUTE_FLAGS_ERROR],
    [
      'an unrecognised well-known attribute',
      `${BASE} 40 63 01 00`,
      UpdateSubcode.UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE,
    ],
  ])('%s resets the session', (_name, attrs, subcode) => {
    const r = decodeMessage(update(attrs, ''), ctx);
    expect(classify(r)).toEqual({ action: 'session-reset', subcode });
  });

  test('the data of an attribute error is the whole offending attribute (RFC 4271 §6.3)', () => {
    const r = decodeMessage(update(`${BASE} 40 63 02 abcd`), ctx);
    expect(r.action === 'session-reset' && r.notification.data).toEqual(fromHex('40 63 02 abcd'));
  });

  test.each([
    ['a /33 in the NLRI field', BASE, '21 0a4d640a00', '', UpdateSubcode.INVALID_NETWORK_FIELD],
    ['an NLRI prefix cut short', BASE, '20 0a4d', '', UpdateSubcode.INVALID_NETWORK_FIELD],
    ['a /40 in the Withdrawn Routes', '', '', '28 0a4d640a00', UpdateSubcode.INVALID_NETWORK_FIELD],
  ])(
    '%s resets the session: unparseable NLRI cannot be withdrawn (RFC 7606 §5.3)',
    (_n, attrs, nlri, withdrawn, subcode) => {
      expect(classify(decodeMessage(update(attrs, nlri, withdrawn), ctx))).toEqual({
        action: 'session-reset',
        subcode,
      });
    },
  );

  test('Withdrawn Routes Length or Total Path Attribute Length past the end is Malformed Attribute List', () => {
    const tooLongWithdrawn = fromHex('ff*16 0017 02 0005 0000');
    const tooLongAttrs = fromHex('ff*16 0018 02 0000 0009 40');
    for (const bytes of [tooLongWithdrawn, tooLongAttrs])
      expect(classify(decodeMessage(bytes, ctx))).toEqual({
        action: 'session-reset',
        subcode: UpdateSubcode.MALFORMED_ATTRIBUTE_LIST,
      });
  });

  test('an UPDATE that only withdraws needs no attributes', () => {
    expect(decodeMessage(update('', '', '18 c00002'), ctx).action).toBe('ok');
  });

  test('MP_REACH_NLRI for an AFI/SAFI the codec does not model is kept raw', () => {
    const vpn = '80 0e 0d 0001 80 04 0a000001 00 00000000'; // AFI 1, SAFI 128
    const r = decodeMessage(update(`${vpn} ${ORIGIN} ${AS_PATH}`, ''), ctx);
    expect(
      r.action === 'ok' && r.message.type === 'update' && r.message.attributes.other?.[0]?.typeCode,
    ).toBe(14);
  });

  test('a 2-octet session reads 2-octet AS_PATH and AGGREGATOR', () => {
    const r = decodeMessage(update(`${ORIGIN} 40 02 04 02 01 fde8 ${NEXT_HOP} c0 07 06 fde8 0a000001`), {
      fourOctetAs: false,
      maxMessageSize: 4096,
    });
    expect(r.action === 'ok' && r.message.type === 'update' && r.message.attributes).toMatchObject({
      asPath: [{ type: 'sequence', asns: [65000] }],
      aggregator: { asn: 65000, address: '10.0.0.1' },
    });
  });
});
