import { formatIPv6, parseIPv6 } from '../wire/address.js';
import { encodeArp } from '../wire/arp.js';
import { encodeEthernet, ETHERTYPE_ARP } from '../wire/ethernet.js';
import { decodeFrame } from '../wire/frame.js';
import type { InterfaceSnapshot } from './interfaces.js';
import { multicastMac, solicitedNodeMulticast } from '../wire/ipv6.js';
import { encodeNdpFrame } from '../wire/ndp.js';
import { type FrameSocket, Responder, type ResponderOptions } from './responder.js';
import { createAnswerDeadlineCell, writeAnswerDeadline } from './fence.js';
import { gratuitousFrames } from './announcer.js';
import { ETH_P_ARP, type NativeDropped, type PacketSocketOptions } from '../../native/index.js';
import { mulberry32 } from '../../../test/support/prng.js';
import { TESTDATA, readHexDir } from '../wire/testdata/hex-file.js';
import { join } from 'node:path';

const OUR_MAC = '02:77:00:00:00:0b';
const CLIENT_MAC = '02:77:00:00:00:64';
const OTHER_MAC = '02:77:00:00:00:0c';
const VIP4 = '192.168.10.222';
const VIP6 = 'fd00:77::200:10';

const snapshot: InterfaceSnapshot = {
  links: [{ index: 2, name: 'eth0', up: true, running: true, broadcast: true, noarp: false, mac: OUR_MAC }],
  addresses: [
    { index: 2, family: 4, address: '192.168.10.11', prefixLength: 24 },
    { index: 2, family: 6, address: 'fe80::77:ff:fe00:b', prefixLength: 64 },
  ],
};

class FakeSocket implements FrameSocket {
  readonly hardwareAddress = OUR_MAC;
  sent: Buffer[] = [];
  groups: string[] = [];
  filtered = false;
  closed = false;
  constructor(readonly options: PacketSocketOptions) {}
  send(frame: Buffer): number {
    this.sent.push(frame);
    return frame.length;
  }
  addMembership(mac: string): void {
    this.groups.push(mac);
  }
  attachFilter(): void {
    this.filtered = true;
  }
  close(): void {
    this.closed = true;
  }
  receive(frame: Buffer): void {
    this.options.onFrame(frame, 0);
  }
}

function setup(options: ResponderOptions = {}): {
  responder: Responder;
  sockets: FakeSocket[];
  conflicts: [string, string][];
} {
  const sockets: FakeSocket[] = [];
  const conflicts: [string, string][] = [];
  const responder = new Responder({
    openSocket: (o) => {
      const s = new FakeSocket(o);
      sockets.push(s);
      return s;
    },
    onConflict: (ip, mac) => conflicts.push([ip, mac]),
    ...options,
  });
  responder.setInterfaces(snapshot);
  return { responder, sockets, conflicts };
}

const live = (sockets: FakeSocket[], etherType: number): FakeSocket => {
  const s = sockets.find((x) => !x.closed && x.options.etherType === etherType);
  if (!s) throw new Error(`no open socket for 0x${etherType.toString(16)}`);
  return s;
};
const arpSocket = (sockets: FakeSocket[]): FakeSocket => live(sockets, ETH_P_ARP);
const ndpSocket = (sockets: FakeSocket[]): FakeSocket => live(sockets, 0x86dd);

function arpRequest(targetIp: string, destination = 'ff:ff:ff:ff:ff:ff'): Buffer {
  const body = encodeArp({
    operation: 'request',
    senderMac: CLIENT_MAC,
    senderIp: '192.168.10.100',
    targetMac: '00:00:00:00:00:00',
    targetIp,
  });
  return encodeEthernet({ destination, source: CLIENT_MAC, etherType: ETHERTYPE_ARP }, body);
}

function neighborSolicitation(target: string, unicast = false): Buffer {
  const group = solicitedNodeMulticast(target);
  return encodeNdpFrame({
    source: 'fd00:77::100',
    destination: unicast ? target : group,
    ethernetSource: CLIENT_MAC,
    ethernetDestination: unicast ? OUR_MAC : multicastMac(group),
    message: { type: 'neighbor-solicitation', target, sourceLinkAddress: CLIENT_MAC },
  });
}

function decodeOk(frame: Buffer | undefined): ReturnType<typeof decodeFrame> & { ok: true } {
  const d = decodeFrame(frame ?? Buffer.alloc(0));
  if (!d.ok) throw new Error(`bad frame: ${d.detail}`);
  return d;
}

describe('responder, ARP', () => {
  it('answers a broadcast request for an owned IP with our MAC, unicast to the requester', () => {
    const { responder, sockets } = setup();
    responder.setOwned([{ ip: VIP4 }]);
    const s = arpSocket(sockets);
    s.receive(arpRequest(VIP4));
    expect(s.sent).toHaveLength(1);
    expect(decodeOk(s.sent[0]).value).toMatchObject({
      protocol: 'arp',
      operation: 'reply',
      senderMac: OUR_MAC,
      senderIp: VIP4,
      targetMac: CLIENT_MAC,
      targetIp: '192.168.10.100',
      ethernetDestination: CLIENT_MAC,
    });
    expect(responder.counters.requestsReceived.get(VIP4)).toBe(1);
    expect(responder.counters.responsesSent.get(VIP4)).toBe(1);
  });

  it('answers a request sent to our MAC but not one sent to another station', () => {
    const { responder, sockets } = setup();
    responder.setOwned([{ ip: VIP4 }]);
    const s = arpSocket(sockets);
    s.receive(arpRequest(VIP4, OUR_MAC));
    s.receive(arpRequest(VIP4, OTHER_MAC));
    expect(s.sent).toHaveLength(1);
  });

  it('never answers for an IP it does not own, nor after releasing one', () => {
    const { responder, sockets } = setup();
    responder.setOwned([{ ip: VIP4 }]);
    const s = arpSocket(sockets);
    s.receive(arpRequest('192.168.10.223'));
    expect(s.sent).toHaveLength(0);
    responder.setOwned([]);
    expect(s.closed).toBe(true);
    expect(responder.placement().size).toBe(0);
  });

  it('reports another MAC answering or announcing an owned IP, once per interval, and counts each', () => {
    const { responder, sockets, conflicts } = setup();
    responder.setOwned([{ ip: VIP4 }]);
    const s = arpSocket(sockets);
    for (const frame of gratuitousFrames(VIP4, OTHER_MAC)) s.receive(frame);
    expect(conflicts).toEqual([[VIP4, OTHER_MAC]]);
    expect(responder.counters.conflicts).toBe(2);
    expect(responder.counters.conflictsByIp.get(VIP4)).toBe(2);
    expect(s.sent).toHaveLength(0);
  });

  it('does not answer on an interface outside L2Advertisement.interfaces', () => {
    const { responder, sockets } = setup();
    responder.setOwned([{ ip: VIP4, interfaces: ['eth1'] }]);
    expect(sockets).toHaveLength(0);
    expect(responder.placement().get(VIP4)).toEqual([]);
  });
});

describe('responder, NDP', () => {
  it('joins the solicited-node group and filters the socket to NDP', () => {
    const { responder, sockets } = setup();
    responder.setOwned([{ ip: VIP6 }]);
    const s = ndpSocket(sockets);
    expect(s.groups).toEqual([multicastMac(solicitedNodeMulticast(VIP6))]);
    expect(s.filtered).toBe(true);
  });

  it.each([
    ['multicast', false],
    ['unicast NUD', true],
  ])('answers a %s NS with a solicited NA (S=1, O=1) carrying our MAC', (_kind, unicast) => {
    const { responder, sockets } = setup();
    responder.setOwned([{ ip: VIP6 }]);
    const s = ndpSocket(sockets);
    s.receive(neighborSolicitation(VIP6, unicast));
    expect(s.sent).toHaveLength(1);
    expect(decodeOk(s.sent[0]).value).toMatchObject({
      protocol: 'ndp',
      source: VIP6,
      destination: 'fd00:77::100',
      ethernetDestination: CLIENT_MAC,
      hopLimit: 255,
      message: {
        type: 'neighbor-advertisement',
        target: VIP6,
        solicited: true,
        override: true,
        targetLinkAddress: OUR_MAC,
      },
    });
    expect(responder.counters.responsesSent.get(VIP6)).toBe(1);
  });

  it('ignores an NS for an IP it does not own', () => {
    const { responder, sockets } = setup();
    responder.setOwned([{ ip: VIP6 }]);
    const s = ndpSocket(sockets);
    s.receive(neighborSolicitation('fd00:77::200:11'));
    expect(s.sent).toHaveLength(0);
  });

  it('reports an NA for an owned IP from another MAC', () => {
    const { responder, sockets, conflicts } = setup();
    responder.setOwned([{ ip: VIP6 }]);
    for (const f of gratuitousFrames(VIP6, OTHER_MAC)) ndpSocket(sockets).receive(f);
    expect(conflicts).toEqual([[VIP6, OTHER_MAC]]);
  });
});

describe('responder robustness', () => {
  const corpus = readHexDir(join(TESTDATA, 'malformed'));

  it('counts and drops every malformed frame, then still answers', () => {
    const { responder, sockets } = setup();
    responder.setOwned([{ ip: VIP4 }, { ip: VIP6 }]);
    const arp = arpSocket(sockets);
    const ndp = ndpSocket(sockets);
    for (const file of corpus) {
      arp.receive(file.bytes);
      ndp.receive(file.bytes);
    }
    expect(arp.sent).toHaveLength(0);
    expect(ndp.sent).toHaveLength(0);
    expect(responder.counters.malformed).toBeGreaterThanOrEqual(corpus.length);
    arp.receive(arpRequest(VIP4));
    ndp.receive(neighborSolicitation(VIP6));
    expect(arp.sent).toHaveLength(1);
    expect(ndp.sent).toHaveLength(1);
  });

  it('counts a send failure instead of throwing', () => {
    const { responder, sockets } = setup();
    responder.setOwned([{ ip: VIP4 }]);
    const s = arpSocket(sockets);
    s.send = () => {
      throw new Error('ENETDOWN');
    };
    expect(() => s.receive(arpRequest(VIP4))).not.toThrow();
    expect(responder.counters.sendErrors).toBe(1);
  });

  it('reports an IP gaining an interface, e.g. when its link comes up', () => {
    const gained: [string, string[]][] = [];
    const responder = new Responder({
      openSocket: (o) => new FakeSocket(o),
      onPlacementGained: (ip, names) => gained.push([ip, names]),
    });
    const down = { ...snapshot, links: snapshot.links.map((l) => ({ ...l, up: false })) };
    responder.setInterfaces(down);
    responder.setOwned([{ ip: VIP4 }]);
    expect(gained).toEqual([]);
    responder.setInterfaces(snapshot);
    responder.setInterfaces(snapshot);
    expect(gained).toEqual([[VIP4, ['eth0']]]);
  });

  it('sends announcements on the interfaces of an IP', () => {
    const { responder, sockets } = setup();
    responder.setOwned([{ ip: VIP4 }]);
    expect(responder.sendOnInterfaces(VIP4, (mac) => gratuitousFrames(VIP4, mac))).toBe(2);
    expect(responder.sendOnInterfaces('10.9.9.9', (mac) => gratuitousFrames('10.9.9.9', mac))).toBe(0);
    expect(arpSocket(sockets).sent).toHaveLength(2);
  });
});

/** A socket with an answer thread: what the Responder told it, and replies it "sent" itself. */
class FakeThreadSocket extends FakeSocket {
  answers: { mac: string; ips: number[] } | undefined;
  pending = new Map<number, number>();
  setArpAnswers(mac: Buffer, ips: Iterable<number>): void {
    // As the addon: only a socket opened with the thread has a table.
    if (this.options.answerThread !== true) throw new TypeError('the socket has no answer thread');
    this.answers = { mac: [...mac].map((b) => b.toString(16).padStart(2, '0')).join(':'), ips: [...ips] };
  }
  takeArpAnswered(): Map<number, number> {
    const taken = this.pending;
    this.pending = new Map();
    return taken;
  }
  ndpAnswers: { mac: string; targets: string[] } | undefined;
  ndpPending = new Map<string, number>();
  setNdpAnswers(mac: Buffer, targets: Buffer): void {
    if (this.options.answerThread !== true) throw new TypeError('the socket has no answer thread');
    if (targets.length % 16 !== 0) throw new TypeError('targets must be 16 bytes each');
    const list: string[] = [];
    for (let i = 0; i < targets.length; i += 16) list.push(formatIPv6(targets.subarray(i, i + 16)));
    this.ndpAnswers = { mac: [...mac].map((b) => b.toString(16).padStart(2, '0')).join(':'), targets: list };
  }
  takeNdpAnswered(): Map<string, number> {
    const taken = this.ndpPending;
    this.ndpPending = new Map();
    return taken;
  }
  deadline: (number | undefined)[] = [];
  cells: (Float64Array | undefined)[] = [];
  setAnswerDeadlineCell(cell: Float64Array | undefined): void {
    this.cells.push(cell);
  }
  setAnswerDeadline(deadlineMs: number | undefined): void {
    this.deadline.push(deadlineMs);
  }
  droppedPending: NativeDropped = { fenced: 0, notOwned: 0, overload: 0, queueFull: 0, socketBuffer: 0 };
  takeDropped(): NativeDropped {
    const taken = this.droppedPending;
    this.droppedPending = { fenced: 0, notOwned: 0, overload: 0, queueFull: 0, socketBuffer: 0 };
    return taken;
  }
}

/** An IPv6 address as the addon reports it: its 16 bytes in latin1. */
const v6key = (ip: string): string => (parseIPv6(ip) ?? Buffer.alloc(16)).toString('latin1');

const key = (ip: string): number => Buffer.from(ip.split('.').map(Number)).readUInt32BE(0);

describe('responder, ARP and NDP answered on the socket thread', () => {
  function threadSetup(answerThread?: boolean): { responder: Responder; sockets: FakeThreadSocket[] } {
    const sockets: FakeThreadSocket[] = [];
    const responder = new Responder({
      openSocket: (o) => {
        const s = new FakeThreadSocket(o);
        sockets.push(s);
        return s;
      },
      ...(answerThread === undefined ? {} : { answerThread }),
    });
    responder.setInterfaces(snapshot);
    return { responder, sockets };
  }

  it('opens ARP sockets with the thread and gives them the owned IPv4s and our MAC', () => {
    const { responder, sockets } = threadSetup();
    responder.setOwned([{ ip: VIP4 }, { ip: VIP6 }]);
    const arp = arpSocket(sockets) as FakeThreadSocket;
    expect(arp.options.answerThread).toBe(true);
    expect(arp.answers).toEqual({ mac: OUR_MAC, ips: [key(VIP4)] });
    responder.setOwned([{ ip: VIP4 }, { ip: '192.168.10.223' }]);
    expect(arp.answers?.ips.sort()).toEqual([key(VIP4), key('192.168.10.223')].sort());
  });

  it('opens NDP sockets with the thread and gives them the owned IPv6s and our MAC', () => {
    const { responder, sockets } = threadSetup();
    responder.setOwned([{ ip: VIP4 }, { ip: VIP6 }]);
    const ndp = ndpSocket(sockets) as FakeThreadSocket;
    expect(ndp.options.answerThread).toBe(true);
    expect(ndp.ndpAnswers).toEqual({ mac: OUR_MAC, targets: [VIP6] });
    // Only what decideNdpBytes answers: an owned IP not written in RFC 5952 form is left to JS.
    responder.setOwned([{ ip: VIP6 }, { ip: 'fd00:77::200:11' }, { ip: 'fd00:77:0::200:12' }]);
    expect(ndp.ndpAnswers?.targets.sort()).toEqual([VIP6, 'fd00:77::200:11'].sort());
    responder.setOwned([{ ip: VIP4 }]);
    expect(ndp.closed).toBe(true);
  });

  it('counts the NAs the thread sent, with its own, and keeps them once the IP is released', () => {
    const { responder, sockets } = threadSetup();
    responder.setOwned([{ ip: VIP6 }]);
    const ndp = ndpSocket(sockets) as FakeThreadSocket;
    ndp.ndpPending.set(v6key(VIP6), 3);
    expect(responder.counters.responsesSent.get(VIP6)).toBe(3);
    expect(responder.counters.requestsReceived.get(VIP6)).toBe(3);
    // A solicitation the thread left to the loop is answered and counted there, on top.
    ndp.receive(neighborSolicitation(VIP6));
    expect(ndp.sent).toHaveLength(1);
    expect(responder.counters.responsesSent.get(VIP6)).toBe(4);
    // NAs sent just before release are collected when the socket closes, under the IP's text
    // even though it is no longer owned.
    ndp.ndpPending.set(v6key(VIP6), 2);
    responder.setOwned([]);
    expect(ndp.closed).toBe(true);
    expect(responder.counters.responsesSent.get(VIP6)).toBe(6);
    expect(responder.counters.requestsReceived.get(VIP6)).toBe(6);
  });

  it('collects the NAs of a socket closed by close()', () => {
    const { responder, sockets } = threadSetup();
    responder.setOwned([{ ip: VIP6 }]);
    const ndp = ndpSocket(sockets) as FakeThreadSocket;
    ndp.ndpPending.set(v6key(VIP6), 5);
    responder.close();
    expect(ndp.closed).toBe(true);
    expect(responder.counters.responsesSent.get(VIP6)).toBe(5);
  });

  it('counts the replies the thread sent, with its own, and keeps them once the IP is released', () => {
    const { responder, sockets } = threadSetup();
    responder.setOwned([{ ip: VIP4 }]);
    const arp = arpSocket(sockets) as FakeThreadSocket;
    arp.pending.set(key(VIP4), 3);
    expect(responder.counters.responsesSent.get(VIP4)).toBe(3);
    expect(responder.counters.requestsReceived.get(VIP4)).toBe(3);
    // A frame the thread left to the loop is answered and counted there, on top.
    arp.receive(arpRequest(VIP4));
    expect(responder.counters.responsesSent.get(VIP4)).toBe(4);
    // Replies sent just before release are collected when the socket closes.
    arp.pending.set(key(VIP4), 2);
    responder.setOwned([]);
    expect(arp.closed).toBe(true);
    expect(responder.counters.responsesSent.get(VIP4)).toBe(6);
    expect(responder.counters.requestsReceived.get(VIP4)).toBe(6);
  });

  it('answers everything on the loop when the thread is turned off', () => {
    const { responder, sockets } = threadSetup(false);
    responder.setOwned([{ ip: VIP4 }, { ip: VIP6 }]);
    const arp = arpSocket(sockets);
    const ndp = ndpSocket(sockets) as FakeThreadSocket;
    expect(arp.options.answerThread).toBeUndefined();
    expect(ndp.options.answerThread).toBeUndefined();
    expect(ndp.ndpAnswers).toBeUndefined();
    arp.receive(arpRequest(VIP4));
    ndp.receive(neighborSolicitation(VIP6));
    expect(arp.sent).toHaveLength(1);
    expect(ndp.sent).toHaveLength(1);
    expect(responder.counters.responsesSent.get(VIP4)).toBe(1);
    expect(responder.counters.responsesSent.get(VIP6)).toBe(1);
  });
});

/** A random locally administered unicast MAC. */
function randomMac(random: () => number): string {
  const bytes = Array.from({ length: 6 }, () => Math.floor(random() * 256));
  bytes[0] = ((bytes[0] ?? 0) & 0xfc) | 0x02;
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}

describe('responder on a hostile segment', () => {
  it('reports a flood of claims of an owned IP from random MACs once per IP per interval and counts the rest', () => {
    let t = 1_000;
    const { responder, sockets, conflicts } = setup({ now: () => t, conflictIntervalMs: 10_000 });
    responder.setOwned([{ ip: VIP4 }, { ip: '192.168.10.223' }]);
    const s = arpSocket(sockets);
    const random = mulberry32(7);
    for (let i = 0; i < 20_000; i++) {
      const [request] = gratuitousFrames(VIP4, randomMac(random));
      if (request) s.receive(request);
    }
    expect(conflicts).toHaveLength(1);
    expect(responder.counters.conflicts).toBe(20_000);
    expect(responder.counters.conflictsSuppressed).toBe(19_999);
    // Another owned IP is reported on its own; the flooded one again only after the interval.
    const [other] = gratuitousFrames('192.168.10.223', OTHER_MAC);
    if (other) s.receive(other);
    expect(conflicts.map(([ip]) => ip)).toEqual([VIP4, '192.168.10.223']);
    t += 10_000;
    const [again] = gratuitousFrames(VIP4, OTHER_MAC);
    if (again) s.receive(again);
    expect(conflicts.map(([ip]) => ip)).toEqual([VIP4, '192.168.10.223', VIP4]);
    // Claims never change what is owned: the responder still answers for the IP.
    s.receive(arpRequest(VIP4));
    expect(s.sent).toHaveLength(1);
    expect(responder.placement().get(VIP4)).toEqual(['eth0']);
  });

  it('logs a failing handler once per interval, counts every failure and keeps answering', () => {
    const logs: { msg: string; suppressed?: number }[] = [];
    let t = 0;
    const { responder, sockets } = setup({
      now: () => t,
      logIntervalMs: 1_000,
      onLog: (e) => logs.push(e),
      onConflict: () => {
        throw new Error('handler bug');
      },
      conflictIntervalMs: 0,
    });
    responder.setOwned([{ ip: VIP4 }]);
    const s = arpSocket(sockets);
    for (const frame of gratuitousFrames(VIP4, OTHER_MAC)) s.receive(frame);
    for (const frame of gratuitousFrames(VIP4, OTHER_MAC)) s.receive(frame);
    expect(logs.filter((e) => e.msg === 'frame handling failed')).toHaveLength(1);
    expect(responder.counters.dropped.get('exception')).toBe(4);
    t += 1_000;
    for (const frame of gratuitousFrames(VIP4, OTHER_MAC)) s.receive(frame);
    expect(logs.filter((e) => e.msg === 'frame handling failed').map((e) => e.suppressed)).toEqual([
      undefined,
      3,
    ]);
    s.receive(arpRequest(VIP4));
    expect(s.sent).toHaveLength(1);
  });
});

describe('responder answer fence', () => {
  it('answers only while the deadline is in the future, on the loop and in announcements', () => {
    let t = 100;
    const { responder, sockets } = setup({ now: () => t });
    responder.setOwned([{ ip: VIP4 }, { ip: VIP6 }]);
    const arp = arpSocket(sockets);
    const ndp = ndpSocket(sockets);
    responder.setAnswerDeadline(150);
    arp.receive(arpRequest(VIP4));
    ndp.receive(neighborSolicitation(VIP6));
    expect(responder.sendOnInterfaces(VIP4, (mac) => gratuitousFrames(VIP4, mac))).toBe(2);
    expect(arp.sent).toHaveLength(3);
    expect(ndp.sent).toHaveLength(1);

    t = 150; // the deadline itself is past
    expect(responder.fenced()).toBe(true);
    arp.receive(arpRequest(VIP4));
    ndp.receive(neighborSolicitation(VIP6));
    expect(responder.sendOnInterfaces(VIP4, (mac) => gratuitousFrames(VIP4, mac))).toBe(0);
    expect(arp.sent).toHaveLength(3);
    expect(ndp.sent).toHaveLength(1);
    expect(responder.counters.dropped.get('fenced')).toBe(3);
    // Requests are still counted as received: the fence silences, it does not blind.
    expect(responder.counters.requestsReceived.get(VIP4)).toBe(2);

    responder.setAnswerDeadline(200); // the lease was renewed
    arp.receive(arpRequest(VIP4));
    expect(arp.sent).toHaveLength(4);
    responder.setAnswerDeadline(undefined); // no fence: answers whatever the clock says
    t = 1e12;
    arp.receive(arpRequest(VIP4));
    expect(arp.sent).toHaveLength(5);
  });

  it('gives the deadline to every answer-thread socket, open or opened later, and collects their drops', () => {
    const sockets: FakeThreadSocket[] = [];
    const responder = new Responder({
      openSocket: (o) => {
        const sock = new FakeThreadSocket(o);
        sockets.push(sock);
        return sock;
      },
    });
    responder.setInterfaces(snapshot);
    responder.setOwned([{ ip: VIP4 }]);
    responder.setAnswerDeadline(5_000);
    const arp = arpSocket(sockets) as FakeThreadSocket;
    expect(arp.deadline.at(-1)).toBe(5_000);
    responder.setOwned([{ ip: VIP4 }, { ip: VIP6 }]);
    const ndp = ndpSocket(sockets) as FakeThreadSocket;
    expect(ndp.deadline).toEqual([5_000]);
    responder.setAnswerDeadline(undefined);
    expect(arp.deadline.at(-1)).toBeUndefined();
    arp.droppedPending = { fenced: 2, notOwned: 40, overload: 7, queueFull: 0, socketBuffer: 3 };
    expect(Object.fromEntries(responder.counters.dropped)).toEqual({
      fenced: 2,
      'not-owned': 40,
      overload: 7,
      'socket-buffer': 3,
    });
  });

  it('reads the deadline from a shared cell a worker writes, on the loop and on every socket', () => {
    let t = 1_000;
    const sockets: FakeThreadSocket[] = [];
    const responder = new Responder({
      now: () => t,
      openSocket: (o) => {
        const sock = new FakeThreadSocket(o);
        sockets.push(sock);
        return sock;
      },
    });
    responder.setInterfaces(snapshot);
    responder.setOwned([{ ip: VIP4 }]);
    const cell = createAnswerDeadlineCell();
    responder.setAnswerDeadlineCell(cell);
    const arp = arpSocket(sockets) as FakeThreadSocket;
    expect(arp.cells.at(-1)?.buffer).toBe(cell);
    // A new cell is fenced until the lease writes it.
    expect(responder.fenced()).toBe(true);
    arp.receive(arpRequest(VIP4));
    expect(arp.sent).toHaveLength(0);
    writeAnswerDeadline(cell, 2_000);
    arp.receive(arpRequest(VIP4));
    expect(arp.sent).toHaveLength(1);
    t = 2_000;
    arp.receive(arpRequest(VIP4));
    expect(arp.sent).toHaveLength(1);
    writeAnswerDeadline(cell, Number.POSITIVE_INFINITY);
    expect(responder.fenced()).toBe(false);
    writeAnswerDeadline(cell, Number.NEGATIVE_INFINITY);
    expect(responder.fenced()).toBe(true);
    // setAnswerDeadline goes back to a plain value.
    responder.setAnswerDeadline(undefined);
    expect(responder.fenced()).toBe(false);
    expect(arp.cells.at(-1)).toBeUndefined();
    expect(() => responder.setAnswerDeadlineCell(new SharedArrayBuffer(4))).toThrow(/4 bytes, want 8/);
  });

  it('rejects a deadline that is not a number', () => {
    const { responder } = setup();
    expect(() => responder.setAnswerDeadline(Number.NaN)).toThrow(/deadlineMs NaN is not a number/);
  });
});
