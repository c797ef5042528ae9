// BfdManager over real UDP sockets on loopback: two managers on 127.0.0.1 and 127.0.0.2
// bring a session Up, then one stops and the other detects it.
import dgram from 'node:dgram';
import { BfdState, encodeControl } from './codec.js';
import { BfdManager } from './edge.js';
import type { BfdStateChange } from './sessions.js';

const port = 20000 + (process.pid % 10000);
const profile = { receiveIntervalMs: 50, transmitIntervalMs: 50, detectMultiplier: 3, passiveMode: false };

function waitFor(m: BfdManager, event: 'up' | 'down', timeoutMs: number): Promise<BfdStateChange> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ${event} within ${timeoutMs} ms`)), timeoutMs);
    m.once(event, (c) => {
      clearTimeout(t);
      resolve(c);
    });
  });
}

describe('BfdManager on loopback', () => {
  const managers: BfdManager[] = [];
  afterEach(() => {
    for (const m of managers.splice(0)) m.close();
  });

  test('brings a session Up, then detects the peer going away within the detection time', async () => {
    const a = BfdManager.start({ port, listen: { v4: ['127.0.0.1'], v6: [] } });
    const b = BfdManager.start({ port, listen: { v4: ['127.0.0.2'], v6: [] } });
    managers.push(a, b);
    const upA = waitFor(a, 'up', 5000);
    const upB = waitFor(b, 'up', 5000);
    a.add('127.0.0.2', '127.0.0.1', profile);
    b.add('127.0.0.1', '127.0.0.2', profile);
    await Promise.all([upA, upB]);
    // Let the Poll for the fast rate complete.
    await new Promise((r) => setTimeout(r, 300));
    expect(a.stats()[0]).toMatchObject({
      state: 'Up',
      remoteState: 'Up',
      ttlRejected: 0,
      transmitIntervalUs: 50_000,
      detectionTimeUs: 150_000,
      pollActive: false,
    });

    // b stops without a word, as after a crash.
    const downA = waitFor(a, 'down', 2000);
    const t0 = performance.now();
    b.close({ adminDown: false });
    const down = await downA;
    const elapsed = performance.now() - t0;
    expect(down).toMatchObject({ peer: '127.0.0.2', to: 'Down', diagName: 'Control Detection Time Expired' });
    // Detection time 3 × 50 ms after the last packet, which came at most 50 ms before t0.
    expect(elapsed).toBeLessThan(150 + 60);
  });

  test('peer removal is signalled as AdminDown, not as a failure', async () => {
    const a = BfdManager.start({ port: port + 1, listen: { v4: ['127.0.0.1'], v6: [] } });
    const b = BfdManager.start({ port: port + 1, listen: { v4: ['127.0.0.2'], v6: [] } });
    managers.push(a, b);
    const up = waitFor(a, 'up', 5000);
    a.add('127.0.0.2', '127.0.0.1', profile);
    b.add('127.0.0.1', '127.0.0.2', profile);
    await up;
    const down = waitFor(a, 'down', 2000);
    b.remove('127.0.0.1');
    expect(await down).toMatchObject({ diag: 3, remoteAdminDown: true });
  });

  test('ignores packets that arrive with a TTL below 255', async () => {
    const seen: Array<[number, string]> = [];
    const a = BfdManager.start({
      port: port + 2,
      listen: { v4: ['127.0.0.1'], v6: [] },
      onReceive: (_src, ttl, result) => seen.push([ttl, result]),
    });
    managers.push(a);
    a.add('127.0.0.2', '127.0.0.1', profile);
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.2', r));
    const pkt = encodeControl({
      diag: 0,
      state: BfdState.Down,
      poll: false,
      final: false,
      cpi: false,
      demand: false,
      detectMult: 3,
      myDiscriminator: 5,
      yourDiscriminator: 0,
      desiredMinTxUs: 50_000,
      requiredMinRxUs: 50_000,
      requiredMinEchoRxUs: 0,
    });
    sock.setTTL(254);
    await new Promise<void>((r) => sock.send(pkt, port + 2, '127.0.0.1', () => r()));
    sock.setTTL(255);
    await new Promise<void>((r) => sock.send(pkt, port + 2, '127.0.0.1', () => r()));
    await new Promise((r) => setTimeout(r, 100));
    sock.close();
    expect(seen).toEqual([
      [254, 'ttl'],
      [255, 'accepted'],
    ]);
    expect(a.stats()[0]).toMatchObject({ ttlRejected: 1, state: 'Init' });
  });

  test('reads packets that arrived in time before detection runs after a stalled event loop', async () => {
    const a = BfdManager.start({ port: port + 3, listen: { v4: ['127.0.0.1'], v6: [] } });
    managers.push(a);
    const downs: BfdStateChange[] = [];
    a.on('down', (c) => downs.push(c));
    a.add('127.0.0.2', '127.0.0.1', profile);
    const peer = dgram.createSocket('udp4');
    await new Promise<void>((r) => peer.bind(0, '127.0.0.2', r));
    peer.setTTL(255);
    const send = (state: BfdState, yourDiscriminator: number): void => {
      const pkt = encodeControl({
        diag: 0,
        state,
        poll: false,
        final: false,
        cpi: false,
        demand: false,
        detectMult: 3,
        myDiscriminator: 5,
        yourDiscriminator,
        desiredMinTxUs: 50_000,
        requiredMinRxUs: 50_000,
        requiredMinEchoRxUs: 0,
      });
      peer.send(pkt, port + 3, '127.0.0.1');
    };
    try {
      // Down, then Init with a's discriminator: a is Up (RFC 5880 §6.8.6), detection 3 x 50 ms.
      send(BfdState.Down, 0);
      await new Promise((r) => setTimeout(r, 50));
      const mine = a.stats()[0]!.localDiscriminator;
      const up = waitFor(a, 'up', 2000);
      send(BfdState.Init, mine);
      await up;
      // The peer's next packet reaches the socket, then the loop is held for twice the
      // detection time: when it runs again, detection must see that packet.
      // (Held in a setImmediate callback: the next loop iteration starts with its timers.)
      await new Promise<void>((resolve) =>
        setImmediate(() => {
          send(BfdState.Up, mine);
          const until = performance.now() + 300;
          while (performance.now() < until);
          resolve();
        }),
      );
      await new Promise((r) => setImmediate(r));
      expect(downs).toEqual([]);
      expect(a.stats()[0]).toMatchObject({ state: 'Up' });
      // Silence from here on is a failure, detected as before.
      expect((await waitFor(a, 'down', 2000)).diagName).toBe('Control Detection Time Expired');
    } finally {
      peer.close();
    }
  });

  test('keeps sending while the JavaScript thread is held longer than the detection time', async () => {
    // Both managers share this thread, so holding it silences both sessions' JavaScript. The
    // periodic packets come from the native sender thread, so each side keeps hearing the
    // other, reads what queued up when the loop runs again, and neither declares the other
    // down (detection 3 x 50 ms; held 600 ms).
    const a = BfdManager.start({ port: port + 4, listen: { v4: ['127.0.0.1'], v6: [] } });
    const b = BfdManager.start({ port: port + 4, listen: { v4: ['127.0.0.2'], v6: [] } });
    managers.push(a, b);
    const downs: BfdStateChange[] = [];
    a.on('down', (c) => downs.push(c));
    b.on('down', (c) => downs.push(c));
    const upA = waitFor(a, 'up', 5000);
    a.add('127.0.0.2', '127.0.0.1', profile);
    b.add('127.0.0.1', '127.0.0.2', profile);
    await upA;
    await new Promise((r) => setTimeout(r, 300)); // the Poll for the fast rate completes
    const before = a.stats()[0]!.packetsIn;
    const sentBefore = b.stats()[0]!.packetsOut;
    const until = performance.now() + 600;
    while (performance.now() < until);
    await new Promise((r) => setTimeout(r, 100));
    expect(downs).toEqual([]);
    expect(a.stats()[0]).toMatchObject({ state: 'Up', remoteState: 'Up' });
    // About 600 / (37.5..50) ms of packets came while the thread was held; half is plenty.
    expect(a.stats()[0]!.packetsIn - before).toBeGreaterThanOrEqual(6);
    expect(b.stats()[0]!.packetsOut - sentBefore).toBeGreaterThanOrEqual(6);
  });

  test('stops the periodic packets when a session is removed, after telling the peer AdminDown', async () => {
    const a = BfdManager.start({ port: port + 5, listen: { v4: ['127.0.0.1'], v6: [] } });
    managers.push(a);
    const peer = dgram.createSocket('udp4');
    const states: number[] = [];
    peer.on('message', (m) => states.push((m[1]! >> 6) & 3));
    await new Promise<void>((r) => peer.bind(port + 5, '127.0.0.2', r));
    try {
      a.add('127.0.0.2', '127.0.0.1', profile);
      // Down, unanswered: the slow rate of §6.8.3 (one a second), the first at once.
      await new Promise((r) => setTimeout(r, 200));
      expect(states).toEqual([BfdState.Down]);
      a.remove('127.0.0.2');
      await new Promise((r) => setTimeout(r, 1500));
      expect(states).toEqual([BfdState.Down, BfdState.AdminDown]);
    } finally {
      peer.close();
    }
  });
});
