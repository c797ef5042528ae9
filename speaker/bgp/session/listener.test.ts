// The passive side over loopback TCP: BgpListener hands an incoming connection to the peer
// configured for its source address, refuses every other source, and a passive PeerSession
// (RFC 4271 §8.1.1 PassiveTcpEstablishment) reaches Established without ever connecting out.

import net from 'node:net';
import { BgpFramer } from '../wire/framer.js';
import { decodeMessage } from '../wire/decode.js';
import { encodeMessage } from '../wire/encode.js';
import { endOfRibFamily } from '../wire/end-of-rib.js';
import type { BgpMessage, CodecContext } from '../wire/messages.js';
import { buildOpen } from '../wire/open.js';
import { BgpListener, PeerSession, type PeerEvent } from './peer-session.js';

const ctx: CodecContext = { fourOctetAs: true, maxMessageSize: 4096 };

interface ActivePeer {
  received: BgpMessage[];
  closed: Promise<void>;
  socket: net.Socket;
}

/** A router that connects to us from `localAddress` and answers our OPEN. Like an old router,
 * it advertises no multiprotocol capability: IPv4 unicast is implied (RFC 4760 §8). */
function connectFrom(localAddress: string, port: number): ActivePeer {
  const socket = net.connect({ host: '127.0.0.1', port, localAddress });
  const framer = new BgpFramer();
  const received: BgpMessage[] = [];
  const send = (m: BgpMessage) => !socket.destroyed && socket.write(encodeMessage(m, ctx));
  socket.on('error', () => undefined);
  socket.on('connect', () =>
    send(
      buildOpen({
        asn: 64500,
        holdTime: 9,
        bgpId: '10.0.0.1',
        capabilities: [{ kind: 'four-octet-as', asn: 64500 }],
      }),
    ),
  );
  socket.on('data', (chunk: Buffer) => {
    for (const frame of framer.push(chunk)) {
      const r = decodeMessage(frame, ctx);
      if (r.action !== 'ok') throw new Error(`could not decode: ${r.action}`);
      received.push(r.message);
      if (r.message.type === 'open') send({ type: 'keepalive' });
    }
  });
  return { received, socket, closed: new Promise<void>((r) => socket.on('close', () => r())) };
}

function passivePeer(peerAddress: string, password?: string): { peer: PeerSession; events: PeerEvent[] } {
  const peer = new PeerSession({
    peerAddress,
    ...(password !== undefined ? { password } : {}),
    localAsn: 64512,
    peerAsn: 64500,
    routerId: '10.0.0.11',
    holdTime: 9,
    passive: true,
    nextHop4: '192.0.2.11',
  });
  const events: PeerEvent[] = [];
  peer.on((e) => events.push(e));
  return { peer, events };
}

async function waitFor(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('BgpListener and passive sessions', () => {
  let listener: BgpListener;
  const stops: Array<() => Promise<void>> = [];
  beforeEach(async () => {
    listener = new BgpListener();
    await listener.listen(0, '127.0.0.1');
  });
  afterEach(async () => {
    for (const stop of stops.splice(0)) await stop();
    await listener.close();
  });

  it('brings a passive peer to Established on its incoming connection and sends the table', async () => {
    const { peer, events } = passivePeer('127.0.0.2');
    stops.push(() => peer.stop());
    listener.addPeer(peer);
    peer.announce([{ prefix: '10.77.100.10/32' }]);
    peer.start();
    // Passive: nothing connects out, the session waits in Active.
    await new Promise((r) => setTimeout(r, 100));
    expect(peer.state).toBe('Active');
    expect(events.some((e) => e.type === 'state' && e.to === 'Connect')).toBe(false);

    const router = connectFrom('127.0.0.2', listener.port);
    stops.push(async () => void router.socket.destroy());
    await waitFor(() => router.received.some((m) => m.type === 'update' && endOfRibFamily(m) !== undefined));
    expect(peer.state).toBe('Established');
    const update = router.received.find((m) => m.type === 'update' && m.nlri.length > 0);
    expect(update?.type === 'update' && update.nlri.map((p) => `${p.addr.join('.')}/${p.len}`)).toEqual([
      '10.77.100.10/32',
    ]);
  });

  it('refuses a connection from an address no peer is configured for', async () => {
    const { peer } = passivePeer('127.0.0.2');
    stops.push(() => peer.stop());
    listener.addPeer(peer);
    peer.start();
    const stranger = connectFrom('127.0.0.3', listener.port);
    await stranger.closed;
    expect(stranger.received).toEqual([]);
    expect(peer.state).toBe('Active');
  });

  it('connects out with a TTL and no password (ebgpMultiHop) and reaches Established', async () => {
    const { peer: passive } = passivePeer('127.0.0.5');
    stops.push(() => passive.stop());
    listener.addPeer(passive);
    passive.start();
    const active = new PeerSession({
      peerAddress: '127.0.0.1',
      port: listener.port,
      localAddress: '127.0.0.5',
      ttl: 2,
      localAsn: 64500,
      peerAsn: 64512,
      routerId: '10.0.0.1',
      holdTime: 9,
      connectRetryMs: 200,
      nextHop4: '192.0.2.1',
    });
    stops.push(() => active.stop());
    active.start();
    await waitFor(() => active.state === 'Established' && passive.state === 'Established');
  });

  it('gives each of two peers its own connection', async () => {
    const a = passivePeer('127.0.0.2');
    const b = passivePeer('127.0.0.4');
    stops.push(
      () => a.peer.stop(),
      () => b.peer.stop(),
    );
    listener.addPeer(a.peer);
    listener.addPeer(b.peer);
    a.peer.start();
    b.peer.start();
    const ra = connectFrom('127.0.0.2', listener.port);
    const rb = connectFrom('127.0.0.4', listener.port);
    stops.push(
      async () => void ra.socket.destroy(),
      async () => void rb.socket.destroy(),
    );
    await waitFor(() => a.peer.state === 'Established' && b.peer.state === 'Established');
    expect(a.events.find((e) => e.type === 'established')).toMatchObject({ peerId: '10.0.0.1' });
  });

  it('stops handing connections to a removed peer, and hands them again once it is added back', async () => {
    const { peer } = passivePeer('127.0.0.2');
    stops.push(() => peer.stop());
    listener.addPeer(peer);
    peer.start();
    listener.removePeer(peer);
    const refused = connectFrom('127.0.0.2', listener.port);
    await refused.closed;
    expect(refused.received).toEqual([]);
    expect(peer.state).toBe('Active');

    listener.addPeer(peer);
    const router = connectFrom('127.0.0.2', listener.port);
    stops.push(async () => void router.socket.destroy());
    await waitFor(() => peer.state === 'Established');
  });

  it("takes a removed peer's TCP-MD5 key off the listening socket", async () => {
    const { peer } = passivePeer('127.0.0.2', 's3cret');
    stops.push(() => peer.stop());
    listener.addPeer(peer);
    // RFC 2385: with the key set the kernel drops the unsigned SYN; the connection never opens.
    const unsigned = net.connect({ host: '127.0.0.1', port: listener.port, localAddress: '127.0.0.2' });
    unsigned.on('error', () => undefined);
    let connected = false;
    unsigned.on('connect', () => (connected = true));
    await new Promise((r) => setTimeout(r, 500));
    expect(connected).toBe(false);
    unsigned.destroy();

    listener.removePeer(peer);
    // Without the key the handshake completes, and the listener closes the connection (no peer).
    const after = net.connect({ host: '127.0.0.1', port: listener.port, localAddress: '127.0.0.2' });
    after.on('error', () => undefined);
    await new Promise<void>((resolve) => after.on('connect', () => resolve()));
    await new Promise<void>((resolve) => after.on('close', () => resolve()));
  });

  it('gives a connection from an address two peers share to the one dialled on the listening port, else to neither', async () => {
    const other = passivePeer('127.0.0.2');
    const same = passivePeer('127.0.0.2');
    stops.push(
      () => other.peer.stop(),
      () => same.peer.stop(),
    );
    other.peer.start();
    same.peer.start();
    // Both on ports other than ours: a connection cannot say which it is for.
    listener.addPeer(other.peer, 1179);
    listener.addPeer(same.peer, 2179);
    const ambiguous = connectFrom('127.0.0.2', listener.port);
    await ambiguous.closed;
    expect(ambiguous.received).toEqual([]);

    // One is dialled on the port we listen on: its router is the one that connects here.
    listener.addPeer(same.peer, listener.port);
    const router = connectFrom('127.0.0.2', listener.port);
    stops.push(async () => void router.socket.destroy());
    await waitFor(() => same.peer.state === 'Established');
    expect(other.peer.state).toBe('Active');
  });
});
