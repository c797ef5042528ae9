import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { decodeArpFrame, encodeArpReply, encodeGratuitousArp } from '../l2/arp.js';
import { answerNeighborSolicitation, decodeNdpFrame, encodeNdpFrame } from '../l2/ndp.js';
import { multicastMac, solicitedNodeMulticast } from '../l2/ipv6.js';
import { ETH_P_ARP, ETH_P_IPV6, PacketSocket, PacketType, interfaceIndex, isSystemError } from './index.js';
import { type ChildEvent, NamespacePair } from './test-fixtures/netns.js';

const isRoot = process.getuid?.() === 0;
const child = fileURLToPath(new URL('./test-fixtures/packet-socket-child.mjs', import.meta.url));
const MAC_A = '02:00:00:00:0a:01';
const MAC_B = '02:00:00:00:0b:01';
const VIP4 = '10.201.0.100';
const VIP6 = '2001:db8:201::100';

function neighbour(ns: string, address: string): string {
  return execFileSync('ip', ['-n', ns, 'neigh', 'show', address, 'dev', 'veth0'], {
    encoding: 'utf8',
  }).trim();
}

async function waitForNeighbour(
  ns: string,
  address: string,
  mac: string,
  timeoutMs: number,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    last = neighbour(ns, address);
    if (last.includes(`lladdr ${mac}`)) return last;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`${ns}: neighbour ${address} never showed ${mac}; last "${last}"`);
}

/** Makes the kernel in `ns` resolve `address`: a UDP datagram to the discard port. */
function sendUdp(pair: NamespacePair, ns: string, address: string): void {
  const family = address.includes(':') ? 'udp6' : 'udp4';
  pair.exec(ns, [
    process.execPath,
    '-e',
    `const s=require('dgram').createSocket('${family}');s.send('x',9,'${address}',()=>s.close())`,
  ]);
}

(isRoot ? describe : describe.skip)('PacketSocket on a veth pair between two namespaces', () => {
  const pair = new NamespacePair('l2t-pa', 'l2t-pb');

  beforeAll(() => {
    execFileSync(fileURLToPath(new URL('./build.sh', import.meta.url)), { stdio: 'inherit' });
    pair.setUp(
      MAC_A,
      MAC_B,
      ['10.201.0.1/24', '2001:db8:201::1/64'],
      ['10.201.0.2/24', '2001:db8:201::2/64'],
    );
  });

  afterAll(() => pair.cleanup());

  it('receives the kernel ARP request for a VIP and the peer kernel accepts our reply', async () => {
    const responder = pair.spawn('l2t-pb', [process.execPath, child, 'veth0', String(ETH_P_ARP)]);
    const ready = await responder.waitFor((e) => e.event === 'ready', 5000, 'the responder to start');
    expect(ready.mac).toBe(MAC_B);

    sendUdp(pair, 'l2t-pa', VIP4);
    const isRequestForVip = (e: ChildEvent): boolean => {
      if (e.event !== 'frame') return false;
      const arp = decodeArpFrame(Buffer.from(String(e.hex), 'hex'));
      return arp.ok && arp.value.operation === 'request' && arp.value.targetIp === VIP4;
    };
    const event = await responder.waitFor(isRequestForVip, 5000, `an ARP request for ${VIP4}`);
    expect(event.packetType).toBe(PacketType.broadcast);
    const request = decodeArpFrame(Buffer.from(String(event.hex), 'hex'));
    if (!request.ok) throw new Error(request.reason);
    expect(request.value).toMatchObject({ senderMac: MAC_A, senderIp: '10.201.0.1' });

    responder.send(`send ${encodeArpReply({ request: request.value, mac: MAC_B }).toString('hex')}`);
    await responder.waitFor((e) => e.event === 'sent', 2000, 'the reply to be sent');
    expect(await waitForNeighbour('l2t-pa', VIP4, MAC_B, 3000)).toMatch(/REACHABLE|STALE|DELAY/);

    // Frames leaving this host (here the kernel's own ARP request for 10.201.0.1) are never
    // delivered to the responder, while the peer's answer to them is.
    sendUdp(pair, 'l2t-pb', '10.201.0.1');
    await responder.waitFor(
      (e) =>
        e.event === 'frame' &&
        e.packetType === PacketType.host &&
        String(e.hex).slice(12, 24) === '020000000a01',
      3000,
      "the peer kernel's ARP reply",
    );
    const fromUs = responder.events.filter(
      (e) => e.event === 'frame' && String(e.hex).slice(12, 24) === '020000000b01',
    );
    expect(fromUs).toEqual([]);

    // A gratuitous ARP request (RFC 5227 format) moves the existing entry to a new MAC.
    const newMac = '02:00:00:00:0b:99';
    responder.send(
      `send ${encodeGratuitousArp({ ip: VIP4, mac: newMac, operation: 'request' }).toString('hex')}`,
    );
    await waitForNeighbour('l2t-pa', VIP4, newMac, 3000);

    responder.send('close');
    await responder.waitFor((e) => e.event === 'closed', 2000, 'close');
    // Nothing else keeps the child alive: a closed socket holds no handle on the loop.
    expect(
      await Promise.race([responder.exited, new Promise((r) => setTimeout(() => r('still running'), 3000))]),
    ).toBe(0);
  }, 15000);

  it('answers a Neighbor Solicitation for a VIP and the peer kernel accepts the advertisement', async () => {
    const responder = pair.spawn('l2t-pb', [process.execPath, child, 'veth0', String(ETH_P_IPV6)]);
    await responder.waitFor((e) => e.event === 'ready', 5000, 'the responder to start');
    responder.send(`join ${multicastMac(solicitedNodeMulticast(VIP6))}`);
    const joined = await responder.waitFor((e) => e.event === 'joined' || e.event === 'error', 2000, 'join');
    expect(joined.event).toBe('joined');

    sendUdp(pair, 'l2t-pa', VIP6);
    const event = await responder.waitFor(
      (e) => {
        if (e.event !== 'frame') return false;
        const ndp = decodeNdpFrame(Buffer.from(String(e.hex), 'hex'));
        return (
          ndp.ok && ndp.value.message.type === 'neighbor-solicitation' && ndp.value.message.target === VIP6
        );
      },
      5000,
      `a Neighbor Solicitation for ${VIP6}`,
    );
    expect(event.packetType).toBe(PacketType.multicast);
    const ns = decodeNdpFrame(Buffer.from(String(event.hex), 'hex'));
    if (!ns.ok) throw new Error(ns.reason);
    expect(ns.value.destination).toBe(solicitedNodeMulticast(VIP6));

    // Sourced from the VIP itself, which every NDP implementation accepts (lab.md §3).
    const answer = answerNeighborSolicitation(ns.value, MAC_B);
    responder.send(
      `send ${encodeNdpFrame({ ethernetSource: MAC_B, source: VIP6, ...answer }).toString('hex')}`,
    );
    expect(await waitForNeighbour('l2t-pa', VIP6, MAC_B, 3000)).toMatch(/REACHABLE|STALE|DELAY/);
    responder.send('close');
    await responder.waitFor((e) => e.event === 'closed', 2000, 'close');
  }, 15000);

  it('reports a missing interface with its errno name', () => {
    expect.assertions(3);
    try {
      interfaceIndex('l2t-missing0');
    } catch (err) {
      expect(isSystemError(err) && err.code).toBe('ENODEV');
      expect(String(err)).toContain('l2t-missing0');
    }
    expect(() =>
      PacketSocket.open({ interface: 2_000_000, etherType: ETH_P_ARP, onFrame: () => {}, onError: () => {} }),
    ).toThrow(expect.objectContaining({ code: 'ENODEV', syscall: 'bind' }));
  });
});
