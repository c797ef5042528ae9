// The responder's byte-level hot paths (decideArpBytes, decideNdpBytes) and the ARP socket
// filter (arpFilter) must never change a decision: decodeFrame + decideFrame are the
// reference. Checked over the captures, the malformed corpus, frames built for owned and
// unowned addresses, and seeded mutations of all of them.
import { join } from 'node:path';
import { parseMac } from '../wire/address.js';
import { encodeArp } from '../wire/arp.js';
import { ETHERTYPE_ARP, encodeEthernet } from '../wire/ethernet.js';
import { decodeFrame } from '../wire/frame.js';
import { solicitedNodeMulticast, upperLayerChecksum } from '../wire/ipv6.js';
import { encodeNdpFrame } from '../wire/ndp.js';
import {
  type FrameDecision,
  arpFilter,
  decideArpBytes,
  decideFrame,
  decideNdpBytes,
  ownedV4Keys,
  ownedV6Keys,
} from './responder.js';
import { TESTDATA, readHexDir } from '../wire/testdata/hex-file.js';
import type { BpfInstruction } from '../../native/index.js';
import { mulberry32 } from '../../../test/support/prng.js';

const OUR_MAC = '02:77:00:00:00:0b';
const CLIENT_MAC = '02:77:00:00:00:64';
const OUR_MAC_BYTES = parseMac(OUR_MAC) ?? Buffer.alloc(6);
const OWNED = ['192.168.10.222', '10.77.0.200', 'fd00:77::200:10', 'fd00:77::200:11'];
const v4Keys = ownedV4Keys(OWNED.filter((ip) => !ip.includes(':')));
const v6Keys = ownedV6Keys(OWNED.filter((ip) => ip.includes(':')));
const owns = (ip: string): boolean => OWNED.includes(ip);

/** The reference: what the responder did before the hot paths, or "malformed". */
function reference(bytes: Buffer): FrameDecision | 'malformed' {
  const decoded = decodeFrame(bytes);
  if (!decoded.ok) return 'malformed';
  return decideFrame(decoded.value, { mac: OUR_MAC, owns });
}

function arpFrame(
  op: 'request' | 'reply',
  senderIp: string,
  targetIp: string,
  dst = 'ff:ff:ff:ff:ff:ff',
): Buffer {
  const body = encodeArp({
    operation: op,
    senderMac: CLIENT_MAC,
    senderIp,
    targetMac: op === 'request' ? '00:00:00:00:00:00' : OUR_MAC,
    targetIp,
  });
  return encodeEthernet({ destination: dst, source: CLIENT_MAC, etherType: ETHERTYPE_ARP }, body);
}

function nsFrame(target: string, opts: { unicast?: boolean; source?: string; sll?: boolean } = {}): Buffer {
  const group = solicitedNodeMulticast(target);
  return encodeNdpFrame({
    source: opts.source ?? 'fd00:77::100',
    destination: opts.unicast ? target : group,
    ethernetSource: CLIENT_MAC,
    ...(opts.unicast ? { ethernetDestination: OUR_MAC } : {}),
    message: {
      type: 'neighbor-solicitation',
      target,
      ...(opts.sll === false ? {} : { sourceLinkAddress: CLIENT_MAC }),
    },
  });
}

const seeds: Buffer[] = [
  ...readHexDir(join(TESTDATA, 'captures')).map((f) => f.bytes),
  ...readHexDir(join(TESTDATA, 'malformed')).map((f) => f.bytes),
  arpFrame('request', '192.168.10.100', '192.168.10.222'),
  arpFrame('request', '192.168.10.100', '192.168.10.222', OUR_MAC),
  arpFrame('request', '192.168.10.100', '192.168.10.222', CLIENT_MAC),
  arpFrame('request', '0.0.0.0', '10.77.0.200'),
  arpFrame('request', '192.168.10.100', '192.168.10.11'),
  arpFrame('request', '192.168.10.222', '192.168.10.222'),
  arpFrame('reply', '192.168.10.222', '192.168.10.100'),
  arpFrame('reply', '192.168.10.12', '192.168.10.100'),
  Buffer.concat([arpFrame('request', '192.168.10.100', '10.77.0.200'), Buffer.alloc(18)]),
  nsFrame('fd00:77::200:10'),
  nsFrame('fd00:77::200:11', { sll: false }),
  nsFrame('fd00:77::200:10', { unicast: true }),
  nsFrame('fd00:77::200:10', { unicast: true, sll: false }),
  nsFrame('fd00:77::200:10', { source: '::', sll: false }),
  nsFrame('fd00:77::11'),
];

/** Flips 1-3 bytes of a seed; for IPv6 frames, usually re-fixes the ICMPv6 checksum so that
 * the mutation reaches the checks behind it. */
function mutations(count: number, seed: number): Buffer[] {
  const rand = mulberry32(seed);
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const base = seeds[Math.floor(rand() * seeds.length)] ?? Buffer.alloc(0);
    const frame = Buffer.from(base);
    if (frame.length === 0) continue;
    const flips = 1 + Math.floor(rand() * 3);
    for (let f = 0; f < flips; f++) {
      const at = Math.floor(rand() * Math.min(frame.length, 96));
      frame[at] = rand() < 0.5 ? Math.floor(rand() * 256) : (frame[at] ?? 0) ^ (1 << Math.floor(rand() * 8));
    }
    if (rand() < 0.3) out.push(frame.subarray(0, Math.floor(rand() * frame.length)));
    if (frame.length >= 58 && frame.readUInt16BE(12) === 0x86dd && rand() < 0.8) {
      const end = Math.min(frame.length, 54 + frame.readUInt16BE(18));
      if (end >= 58) {
        frame.writeUInt16BE(0, 56);
        const icmp = frame.subarray(54, end);
        frame.writeUInt16BE(upperLayerChecksum(frame.subarray(22, 38), frame.subarray(38, 54), 58, icmp), 56);
      }
    }
    out.push(frame);
  }
  return out;
}

const frames = [...seeds, ...mutations(20_000, 6)];

describe('responder hot paths agree with decodeFrame + decideFrame', () => {
  it('decides every frame it takes exactly as the full decoder, and takes the common ones', () => {
    const taken = { arp: 0, ndp: 0, answers: 0 };
    for (const bytes of frames) {
      for (const [fast, name] of [
        [decideArpBytes(bytes, OUR_MAC_BYTES, v4Keys), 'arp'],
        [decideNdpBytes(bytes, OUR_MAC_BYTES, v6Keys), 'ndp'],
      ] as const) {
        if (fast === undefined) continue;
        taken[name]++;
        if (fast.kind === 'answer') taken.answers++;
        const expected = reference(bytes);
        if (JSON.stringify(fast) !== JSON.stringify(expected))
          throw new Error(
            `${name} hot path on ${bytes.toString('hex')}: ${JSON.stringify(fast)} vs ${JSON.stringify(expected)}`,
          );
      }
    }
    // Mutations leave most frames well-formed; the hot paths must be the ones deciding those.
    expect(taken.arp).toBeGreaterThan(1500);
    expect(taken.ndp).toBeGreaterThan(1500);
    expect(taken.answers).toBeGreaterThan(500);
  });

  it('answers the plain request and solicitation with the bytes the encoders build', () => {
    const arp = decideArpBytes(
      arpFrame('request', '192.168.10.100', '192.168.10.222'),
      OUR_MAC_BYTES,
      v4Keys,
    );
    const ndp = decideNdpBytes(nsFrame('fd00:77::200:10'), OUR_MAC_BYTES, v6Keys);
    expect(arp?.kind).toBe('answer');
    expect(ndp?.kind).toBe('answer');
    expect(arp).toEqual(reference(arpFrame('request', '192.168.10.100', '192.168.10.222')));
    expect(ndp).toEqual(reference(nsFrame('fd00:77::200:10')));
  });

  it('leaves DAD and advertisements to the full decoder', () => {
    expect(
      decideNdpBytes(nsFrame('fd00:77::200:10', { source: '::', sll: false }), OUR_MAC_BYTES, v6Keys),
    ).toBe(undefined);
  });

  it('settles another station claiming an owned IPv4 as the full decoder does: a conflict', () => {
    // A reply from an owned sender IP, and a gratuitous request: both claims of the address.
    const reply = arpFrame('reply', '192.168.10.222', '192.168.10.100');
    const gratuitous = arpFrame('request', '192.168.10.222', '192.168.10.222');
    for (const frame of [reply, gratuitous]) {
      const fast = decideArpBytes(frame, OUR_MAC_BYTES, v4Keys);
      expect(fast).toEqual({ kind: 'conflict', ip: '192.168.10.222', mac: CLIENT_MAC });
      expect(fast).toEqual(reference(frame));
    }
    // Our own announcement coming back is no conflict, and a plain request from an owned
    // sender IP (not a claim) is still the full decoder's.
    const ours = Buffer.from(reply);
    OUR_MAC_BYTES.copy(ours, 22);
    expect(decideArpBytes(ours, OUR_MAC_BYTES, v4Keys)).toBe(undefined);
    expect(
      decideArpBytes(arpFrame('request', '192.168.10.222', '192.168.10.100'), OUR_MAC_BYTES, v4Keys),
    ).toBe(undefined);
  });
});

/** A classic BPF interpreter for the instructions arpFilter emits (linux/filter.h semantics:
 * a load past the end of the packet returns 0, i.e. drops). */
function runBpf(program: readonly BpfInstruction[], packet: Buffer): number {
  let a = 0;
  for (let pc = 0; pc < program.length; pc++) {
    const ins = program[pc];
    if (!ins) return 0;
    const load = (size: number): boolean => {
      if (ins.k + size > packet.length) return false;
      a =
        size === 4
          ? packet.readUInt32BE(ins.k)
          : size === 2
            ? packet.readUInt16BE(ins.k)
            : (packet[ins.k] ?? 0);
      return true;
    };
    switch (ins.code) {
      case 0x80:
        a = packet.length;
        break;
      case 0x20:
        if (!load(4)) return 0;
        break;
      case 0x28:
        if (!load(2)) return 0;
        break;
      case 0x30:
        if (!load(1)) return 0;
        break;
      case 0x15:
        pc += a === ins.k ? ins.jt : ins.jf;
        break;
      case 0x35:
        pc += a >= ins.k ? ins.jt : ins.jf;
        break;
      case 0x45:
        pc += (a & ins.k) !== 0 ? ins.jt : ins.jf;
        break;
      case 0x06:
        return ins.k;
      default:
        throw new Error(`unexpected BPF opcode 0x${ins.code.toString(16)}`);
    }
  }
  return 0;
}

describe('ARP socket filter', () => {
  const program = arpFilter(v4Keys.keys());

  it('drops only well-formed ARP that the responder would ignore without counting', () => {
    let dropped = 0;
    for (const bytes of frames) {
      if (bytes.length < 14 || bytes.readUInt16BE(12) !== ETHERTYPE_ARP) continue;
      if (runBpf(program, bytes) !== 0) continue;
      dropped++;
      expect(reference(bytes)).toEqual({ kind: 'ignore' });
    }
    expect(dropped).toBeGreaterThan(500);
  });

  it('passes requests for, and claims of, every owned IP, and malformed frames', () => {
    expect(runBpf(program, arpFrame('request', '192.168.10.100', '192.168.10.222'))).toBeGreaterThan(0);
    expect(runBpf(program, arpFrame('request', '192.168.10.100', '10.77.0.200'))).toBeGreaterThan(0);
    expect(runBpf(program, arpFrame('reply', '192.168.10.222', '192.168.10.100'))).toBeGreaterThan(0);
    expect(runBpf(program, arpFrame('request', '192.168.10.100', '192.168.10.11'))).toBe(0);
    for (const file of readHexDir(join(TESTDATA, 'malformed'))) {
      if (file.bytes.length >= 14 && file.bytes.readUInt16BE(12) === ETHERTYPE_ARP)
        expect(runBpf(program, file.bytes)).toBeGreaterThan(0);
    }
  });

  it('stays within BPF_MAXINSNS and short jumps at a thousand IPs', () => {
    const many = arpFilter(Array.from({ length: 1000 }, (_, i) => 0x0a000000 + i));
    expect(many.length).toBeLessThanOrEqual(4096);
    expect(Math.max(...many.map((i) => Math.max(i.jt, i.jf)))).toBeLessThan(256);
  });
});
