// The native periodic sender (src/periodic_sender.cc) on loopback: it keeps BFD's cadence
// while the JavaScript thread is held, and stops when that thread no longer renews its lease.
import dgram from 'node:dgram';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { UdpTtlSocket } from './index.js';

const hold = (ms: number): void => {
  const until = performance.now() + ms;
  while (performance.now() < until);
};

describe('UdpTtlSocket.setPeriodic', () => {
  let sender: UdpTtlSocket | undefined;
  let receiver: dgram.Socket | undefined;

  beforeAll(() => {
    execFileSync(fileURLToPath(new URL('./build.sh', import.meta.url)), { stdio: 'inherit' });
  });

  afterEach(() => {
    sender?.close();
    receiver?.close();
    sender = undefined;
    receiver = undefined;
  });

  async function open(): Promise<{ port: number; got: () => number }> {
    let count = 0;
    const r = dgram.createSocket('udp4');
    receiver = r;
    r.on('message', () => count++);
    await new Promise<void>((resolve) => r.bind(0, '127.0.0.1', resolve));
    sender = UdpTtlSocket.open({
      family: 4,
      address: '127.0.0.1',
      port: 0,
      ttl: 255,
      onMessage: () => undefined,
      onError: () => undefined,
    });
    return { port: r.address().port, got: () => count };
  }

  it('sends while the JavaScript thread is held, at 75-100 % of the interval, until the lease runs out', async () => {
    const { port, got } = await open();
    const s = sender!;
    // 20 ms interval, 300 ms lease, thread held 1 s: about 300 / (15..20) packets, then none.
    s.setPeriodic({
      data: Buffer.from('bfd'),
      address: '127.0.0.1',
      port,
      intervalUs: 20_000,
      detectMultOne: false,
      leaseMs: 300,
    });
    hold(1000);
    const held = s.periodicStats();
    expect(held.sent).toBeGreaterThanOrEqual(10);
    expect(held.sent).toBeLessThanOrEqual(25); // without the lease: 50 to 67
    expect(held.withheld).toBeGreaterThanOrEqual(20);
    await new Promise((r) => setTimeout(r, 50));
    expect(got()).toBe(held.sent); // every one reached the peer

    // Renewed: it sends again, and clearPeriodic stops it.
    s.renewPeriodicLease(10_000);
    await new Promise((r) => setTimeout(r, 200));
    const renewed = s.periodicStats().sent - held.sent;
    expect(renewed).toBeGreaterThanOrEqual(5);
    s.clearPeriodic();
    const cleared = s.periodicStats().sent;
    await new Promise((r) => setTimeout(r, 100));
    expect(s.periodicStats().sent).toBe(cleared);
  });

  it('refuses a bad interval or lease with the value in the message', async () => {
    const { port } = await open();
    const p = {
      data: Buffer.from('x'),
      address: '127.0.0.1',
      port,
      intervalUs: 20_000,
      detectMultOne: false,
      leaseMs: 100,
    };
    expect(() => sender!.setPeriodic({ ...p, intervalUs: 10 })).toThrow(/intervalUs 10/);
    expect(() => sender!.setPeriodic({ ...p, leaseMs: -1 })).toThrow(/leaseMs -1/);
    expect(() => sender!.setPeriodic({ ...p, address: 'fd00::1' })).toThrow(/fd00::1/);
  });
});
