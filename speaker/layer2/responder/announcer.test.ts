import { Announcer, type Clock, announcementSchedule, gratuitousFrames } from './announcer.js';
import { decodeFrame } from '../wire/frame.js';

class FakeClock implements Clock {
  t = 0;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private nextId = 1;
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.push({ at: this.t + ms, fn, id });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((t) => t.id !== handle);
  }
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers[0];
      if (!next || next.at > end) break;
      this.timers.shift();
      this.t = next.at;
      next.fn();
    }
    this.t = end;
  }
}

describe('announcement schedule', () => {
  it('announces at 0, 0.5 s and 1.1 s, then every 1.1 s while under 5 s', () => {
    expect(announcementSchedule()).toEqual([0, 500, 1100, 2200, 3300, 4400]);
  });

  it("reproduces MetalLB's schedule without the early repeat", () => {
    expect(announcementSchedule({ firstRepeatMs: 0 })).toEqual([0, 1100, 2200, 3300, 4400]);
  });
});

describe('gratuitous frames', () => {
  it('are a broadcast ARP request and reply with sender IP = target IP for IPv4', () => {
    const frames = gratuitousFrames('192.168.10.222', '02:77:00:00:00:0b').map(decodeFrame);
    expect(frames).toHaveLength(2);
    const ops = frames.map((f) => (f.ok && f.value.protocol === 'arp' ? f.value : undefined));
    expect(ops.map((a) => a?.operation)).toEqual(['request', 'reply']);
    for (const a of ops) {
      expect(a).toMatchObject({
        senderIp: '192.168.10.222',
        targetIp: '192.168.10.222',
        senderMac: '02:77:00:00:00:0b',
        ethernetDestination: 'ff:ff:ff:ff:ff:ff',
        gratuitous: true,
      });
    }
  });

  it('is an unsolicited NA with Override to ff02::1 for IPv6', () => {
    const [frame] = gratuitousFrames('fd00:77::200:10', '02:77:00:00:00:0b').map(decodeFrame);
    expect(frame?.ok).toBe(true);
    if (!frame?.ok || frame.value.protocol !== 'ndp') throw new Error('not NDP');
    expect(frame.value).toMatchObject({
      source: 'fd00:77::200:10',
      destination: 'ff02::1',
      ethernetDestination: '33:33:00:00:00:01',
      hopLimit: 255,
      message: {
        type: 'neighbor-advertisement',
        target: 'fd00:77::200:10',
        solicited: false,
        override: true,
        targetLinkAddress: '02:77:00:00:00:0b',
      },
    });
  });
});

describe('announcer', () => {
  function setup(): { clock: FakeClock; sent: [number, string][]; announcer: Announcer } {
    const clock = new FakeClock();
    const sent: [number, string][] = [];
    const announcer = new Announcer({
      clock,
      transmit: (ip) => {
        sent.push([clock.now(), ip]);
        return 2;
      },
    });
    return { clock, sent, announcer };
  }

  it('announces at once on takeover and then on schedule, counting frames', () => {
    const { clock, sent, announcer } = setup();
    announcer.takeOver('10.0.0.1');
    expect(sent).toEqual([[0, '10.0.0.1']]);
    clock.advance(10_000);
    expect(sent.map(([t]) => t)).toEqual([0, 500, 1100, 2200, 3300, 4400]);
    expect(announcer.gratuitousSent.get('10.0.0.1')).toBe(12);
    expect(announcer.announcing()).toEqual([]);
  });

  it('stops announcing an IP that is released', () => {
    const { clock, sent, announcer } = setup();
    announcer.takeOver('10.0.0.1');
    clock.advance(600);
    announcer.release('10.0.0.1');
    clock.advance(10_000);
    expect(sent.map(([t]) => t)).toEqual([0, 500]);
  });

  it('re-arms the window when an IP is taken over again', () => {
    const { clock, sent, announcer } = setup();
    announcer.takeOver('10.0.0.1');
    clock.advance(4000);
    announcer.takeOver('10.0.0.1');
    clock.advance(10_000);
    expect(sent.map(([t]) => t)).toEqual([0, 500, 1100, 2200, 3300, 4000, 4500, 5100, 6200, 7300, 8400]);
  });

  it('keeps to the schedule when a timer fires late', () => {
    const clock = new FakeClock();
    const times: number[] = [];
    const announcer = new Announcer({
      clock,
      transmit: () => {
        times.push(clock.now());
        clock.t += 300; // a slow send
        return 1;
      },
    });
    announcer.takeOver('10.0.0.1');
    clock.advance(10_000);
    expect(times).toEqual([0, 500, 1100, 2200, 3300, 4400]);
  });
});
