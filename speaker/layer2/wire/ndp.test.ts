import {
  answerNeighborSolicitation,
  decodeNdpFrame,
  decodeNdpMessage,
  encodeNdpFrame,
  encodeNdpMessage,
  type NdpFrame,
  unsolicitedNeighborAdvertisement,
} from './ndp.js';
import { icmpv6Checksum, multicastMac, solicitedNodeMulticast } from './ipv6.js';
import { capture } from './testdata/hex-file.js';

function mustDecode(frame: Buffer): NdpFrame {
  const result = decodeNdpFrame(frame);
  if (!result.ok) throw new Error(`expected an NDP frame, got ${result.reason}: ${result.detail}`);
  return result.value;
}

describe('NDP codec (RFC 4861)', () => {
  it('decodes a multicast Neighbor Solicitation captured from the Linux kernel', () => {
    expect(mustDecode(capture('ns-multicast'))).toEqual({
      ethernetSource: '02:00:00:00:0a:01',
      ethernetDestination: '33:33:ff:00:00:02',
      source: '2001:db8::1',
      destination: 'ff02::1:ff00:2',
      hopLimit: 255,
      message: {
        type: 'neighbor-solicitation',
        target: '2001:db8::2',
        sourceLinkAddress: '02:00:00:00:0a:01',
      },
    });
  });

  it('decodes a solicited Neighbor Advertisement with its R/S/O flags and target link-layer address', () => {
    expect(mustDecode(capture('na-solicited')).message).toEqual({
      type: 'neighbor-advertisement',
      target: '2001:db8::2',
      router: false,
      solicited: true,
      override: true,
      targetLinkAddress: '02:00:00:00:0b:01',
    });
  });

  it('accepts a DAD solicitation from :: and skips its unknown Nonce option (RFC 4861 §4.6)', () => {
    const dad = mustDecode(capture('ns-dad-link-local-with-nonce'));
    expect(dad.source).toBe('::');
    expect(dad.message).toEqual({ type: 'neighbor-solicitation', target: 'fe80::ff:fe00:a01' });
  });

  it('classifies other ICMPv6 messages as not neighbor discovery', () => {
    const result = decodeNdpFrame(capture('router-solicitation'));
    expect(result).toMatchObject({ ok: false, reason: 'not-neighbor-discovery' });
  });

  it('answers the captured solicitation with the same bytes the kernel sent', () => {
    const ns = mustDecode(capture('ns-multicast'));
    const answer = answerNeighborSolicitation(ns, '02:00:00:00:0b:01');
    const frame = encodeNdpFrame({ ethernetSource: '02:00:00:00:0b:01', source: '2001:db8::2', ...answer });
    expect(frame.toString('hex')).toBe(capture('na-solicited').toString('hex'));
  });

  it('encodes a solicitation identical to the kernel one, sent to the solicited-node group', () => {
    const frame = encodeNdpFrame({
      ethernetSource: '02:00:00:00:0a:01',
      source: '2001:db8::1',
      destination: solicitedNodeMulticast('2001:db8::2'),
      message: {
        type: 'neighbor-solicitation',
        target: '2001:db8::2',
        sourceLinkAddress: '02:00:00:00:0a:01',
      },
    });
    expect(frame.toString('hex')).toBe(capture('ns-multicast').toString('hex'));
  });

  it('answers a DAD solicitation to all-nodes with S=0 (RFC 4861 §7.2.4)', () => {
    const answer = answerNeighborSolicitation(
      mustDecode(capture('ns-dad-link-local-with-nonce')),
      '02:77:00:00:00:11',
    );
    expect(answer).toEqual({
      destination: 'ff02::1',
      ethernetDestination: '33:33:00:00:00:01',
      message: {
        type: 'neighbor-advertisement',
        target: 'fe80::ff:fe00:a01',
        router: false,
        solicited: false,
        override: true,
        targetLinkAddress: '02:77:00:00:00:11',
      },
    });
  });

  it('builds an unsolicited advertisement that a receiver accepts as valid (RFC 4861 §7.2.6)', () => {
    const frame = encodeNdpFrame({
      ethernetSource: '02:77:00:00:00:11',
      source: 'fe80::77:11',
      destination: 'ff02::1',
      message: unsolicitedNeighborAdvertisement('2001:db8::100', '02:77:00:00:00:11'),
    });
    expect(frame.subarray(0, 6).toString('hex')).toBe('333300000001');
    expect(mustDecode(frame).message).toEqual({
      type: 'neighbor-advertisement',
      target: '2001:db8::100',
      router: false,
      solicited: false,
      override: true,
      targetLinkAddress: '02:77:00:00:00:11',
    });
  });

  it('round-trips the router flag and a message without options', () => {
    const na = {
      type: 'neighbor-advertisement' as const,
      target: '2001:db8::1',
      router: true,
      solicited: false,
      override: false,
    };
    const body = encodeNdpMessage(na);
    expect(body).toHaveLength(24);
    expect(body[4]).toBe(0x80);
    expect(decodeNdpMessage(body)).toEqual({ ok: true, value: na });
  });

  it('computes the ICMPv6 checksum over the IPv6 pseudo-header (RFC 4443 §2.3)', () => {
    const ns = capture('ns-multicast');
    const message = Buffer.from(ns.subarray(54));
    expect(message.readUInt16BE(2)).toBe(0x1227);
    message.writeUInt16BE(0, 2);
    expect(icmpv6Checksum('2001:db8::1', 'ff02::1:ff00:2', message)).toBe(0x1227);
    // Odd length: the last byte is padded with a zero byte (RFC 1071).
    expect(icmpv6Checksum('::', '::', Buffer.from([0x01]))).toBe(~(0x0100 + 1 + 58) & 0xffff);
  });

  it('decodes a message from a raw ICMPv6 socket, checking only what the IP layer reported', () => {
    const body = capture('ns-multicast').subarray(54);
    expect(decodeNdpMessage(body)).toMatchObject({ ok: true, value: { target: '2001:db8::2' } });
    expect(decodeNdpMessage(body, { hopLimit: 64 })).toMatchObject({
      ok: false,
      reason: 'hop-limit-not-255',
    });
    const dadWithSlla = encodeNdpMessage({
      type: 'neighbor-solicitation',
      target: '2001:db8::2',
      sourceLinkAddress: '02:00:00:00:00:01',
    });
    expect(decodeNdpMessage(dadWithSlla, { source: '::' })).toMatchObject({
      ok: false,
      reason: 'dad-with-source-link-address',
    });
  });

  it('derives solicited-node groups and their multicast MACs (RFC 4291 §2.7.1, RFC 2464 §7)', () => {
    expect(solicitedNodeMulticast('fe80::ff:fe00:a01')).toBe('ff02::1:ff00:a01');
    expect(solicitedNodeMulticast('2001:db8::abcd:1234:5678')).toBe('ff02::1:ff34:5678');
    expect(multicastMac('ff02::1:ff34:5678')).toBe('33:33:ff:34:56:78');
    expect(() => multicastMac('2001:db8::1')).toThrow(TypeError);
  });
});
