import { decodeArp, decodeArpFrame, encodeArp, encodeArpReply, encodeGratuitousArp } from './arp.js';
import { capture } from './testdata/hex-file.js';

function mustDecode(frame: Buffer) {
  const result = decodeArpFrame(frame);
  if (!result.ok) throw new Error(`expected an ARP frame, got ${result.reason}: ${result.detail}`);
  return result.value;
}

describe('ARP codec (RFC 826)', () => {
  it('decodes a request captured from the Linux kernel', () => {
    expect(mustDecode(capture('arp-request'))).toEqual({
      operation: 'request',
      senderMac: '02:00:00:00:0a:01',
      senderIp: '192.0.2.1',
      targetMac: '00:00:00:00:00:00',
      targetIp: '192.0.2.2',
      ethernetSource: '02:00:00:00:0a:01',
      ethernetDestination: 'ff:ff:ff:ff:ff:ff',
      gratuitous: false,
      probe: false,
    });
  });

  it('answers that request with the bytes the kernel itself sent', () => {
    // The kernel of 192.0.2.2 (02:00:00:00:0b:01) answered the captured request; our encoder
    // must produce the identical frame for the same question.
    const request = mustDecode(capture('arp-request'));
    expect(encodeArpReply({ request, mac: '02:00:00:00:0b:01' }).toString('hex')).toBe(
      capture('arp-reply').toString('hex'),
    );
  });

  it('recognises gratuitous requests and replies sent by arping', () => {
    const request = mustDecode(capture('arp-gratuitous-request-iputils'));
    const reply = mustDecode(capture('arp-gratuitous-reply-iputils'));
    expect([request.operation, request.gratuitous, request.senderIp]).toEqual(['request', true, '192.0.2.1']);
    expect([reply.operation, reply.gratuitous, reply.targetMac]).toEqual([
      'reply',
      true,
      '02:00:00:00:0a:01',
    ]);
  });

  it('builds gratuitous ARP as broadcast with sender IP = target IP (RFC 5227 §3, RFC 5944 §4.6)', () => {
    const request = encodeGratuitousArp({
      ip: '198.51.100.7',
      mac: '02:77:00:00:00:11',
      operation: 'request',
    });
    const reply = encodeGratuitousArp({ ip: '198.51.100.7', mac: '02:77:00:00:00:11', operation: 'reply' });
    expect(request.toString('hex')).toBe(
      'ffffffffffff' +
        '027700000011' +
        '0806' +
        '0001080006040001' +
        '027700000011' +
        'c6336407' +
        '000000000000' +
        'c6336407',
    );
    expect(mustDecode(reply)).toMatchObject({
      operation: 'reply',
      senderMac: '02:77:00:00:00:11',
      targetMac: '02:77:00:00:00:11',
      senderIp: '198.51.100.7',
      targetIp: '198.51.100.7',
      ethernetDestination: 'ff:ff:ff:ff:ff:ff',
      gratuitous: true,
    });
  });

  it('flags an ARP probe (sender IP 0.0.0.0, RFC 5227 §2.1.1)', () => {
    const probe = encodeArp({
      operation: 'request',
      senderMac: '02:00:00:00:00:01',
      senderIp: '0.0.0.0',
      targetMac: '00:00:00:00:00:00',
      targetIp: '192.0.2.9',
    });
    const frame = Buffer.concat([Buffer.from('ffffffffffff0200000000010806', 'hex'), probe]);
    expect(mustDecode(frame)).toMatchObject({ probe: true, gratuitous: false });
  });

  it('ignores Ethernet padding after the 28-byte body', () => {
    const padded = Buffer.concat([capture('arp-request'), Buffer.alloc(18)]);
    expect(padded).toHaveLength(60);
    expect(mustDecode(padded).targetIp).toBe('192.0.2.2');
  });

  it('decodes what it encodes', () => {
    const packet = {
      operation: 'reply' as const,
      senderMac: '0a:1b:2c:3d:4e:5f',
      senderIp: '10.255.0.1',
      targetMac: '02:00:00:00:00:02',
      targetIp: '10.0.0.254',
    };
    expect(decodeArp(encodeArp(packet))).toEqual({ ok: true, value: packet });
  });

  it('throws a TypeError naming the field for a bad address given to an encoder', () => {
    expect(() =>
      encodeGratuitousArp({ ip: '10.0.0.300', mac: '02:00:00:00:00:01', operation: 'request' }),
    ).toThrow('senderIp "10.0.0.300" is not a valid IPv4 address');
  });
});
