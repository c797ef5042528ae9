// Takeover announcements: when this node starts answering for an IP, it tells the segment at
// once instead of waiting for neighbours' cache entries to expire.
//  - IPv4: a gratuitous ARP request and a gratuitous ARP reply, broadcast (RFC 5227 §3,
//    RFC 5944 §4.6). Linux updates an existing entry on either (docs/lab.md); some hosts only
//    act on one of the two, so both go out, as with MetalLB.
//  - IPv6: an unsolicited Neighbor Advertisement to ff02::1 with O=1 (RFC 4861 §7.2.6),
//    sourced from the IP itself (see responder.ts for why).
//
// Schedule (announcementSchedule): at 0, 0.5 s and 1.1 s, then every 1.1 s while under 5 s,
// i.e. 0, 0.5, 1.1, 2.2, 3.3, 4.4 s. MetalLB sends at 0 and then every 1.1 s for 5 s; the extra
// early repeat at 0.5 s covers a first burst lost while a bridge port or switch was still
// learning, which is exactly the failover moment. RFC 7.2.6 caps unsolicited NAs at
// MAX_NEIGHBOR_ADVERTISEMENT (3) "a few" times; six over five seconds keeps load trivial and
// matches what ARP-only peers do. Time comes from an injected clock so tests drive it.
import { encodeGratuitousArp } from '../wire/arp.js';
import { ALL_NODES } from '../wire/ipv6.js';
import { encodeNdpFrame, unsolicitedNeighborAdvertisement } from '../wire/ndp.js';

/** Offsets (ms from takeover) of every announcement. */
export function announcementSchedule(
  options: { firstRepeatMs?: number; intervalMs?: number; windowMs?: number } = {},
): number[] {
  const first = options.firstRepeatMs ?? 500;
  const interval = options.intervalMs ?? 1100;
  const window = options.windowMs ?? 5000;
  const out = [0];
  if (first > 0 && first < interval && first < window) out.push(first);
  for (let t = interval; t < window; t += interval) out.push(t);
  return out;
}

/** The frames of one announcement of `ip` from `mac`. */
export function gratuitousFrames(ip: string, mac: string): Buffer[] {
  if (ip.includes(':')) {
    return [
      encodeNdpFrame({
        source: ip,
        destination: ALL_NODES,
        message: unsolicitedNeighborAdvertisement(ip, mac),
        ethernetSource: mac,
      }),
    ];
  }
  return [
    encodeGratuitousArp({ ip, mac, operation: 'request' }),
    encodeGratuitousArp({ ip, mac, operation: 'reply' }),
  ];
}

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface AnnouncerOptions {
  /** Sends one announcement of `ip` on all its interfaces; returns the frames sent. */
  transmit: (ip: string) => number;
  clock?: Clock;
  /** Default announcementSchedule(). */
  schedule?: readonly number[];
}

interface Running {
  startedAt: number;
  step: number;
  timer: unknown;
}

export class Announcer {
  private readonly clock: Clock;
  private readonly schedule: readonly number[];
  private readonly running = new Map<string, Running>();
  /** Frames sent per IP (metallb_layer2_gratuitous_sent). */
  readonly gratuitousSent = new Map<string, number>();

  constructor(private readonly options: AnnouncerOptions) {
    this.clock = options.clock ?? systemClock;
    this.schedule = options.schedule ?? announcementSchedule();
  }

  /**
   * This node has just taken `ip` over: announce now and on the schedule. Calling it again
   * re-arms the window (as MetalLB does on re-sync), e.g. after an interface change.
   */
  takeOver(ip: string): void {
    this.release(ip);
    const run: Running = { startedAt: this.clock.now(), step: 0, timer: undefined };
    this.running.set(ip, run);
    this.fire(ip, run);
  }

  /** Stops announcing `ip` (it was released or moved away). */
  release(ip: string): void {
    const run = this.running.get(ip);
    if (!run) return;
    if (run.timer !== undefined) this.clock.clearTimeout(run.timer);
    this.running.delete(ip);
  }

  /** IPs whose announcement window is still open. */
  announcing(): string[] {
    return [...this.running.keys()];
  }

  stop(): void {
    for (const ip of [...this.running.keys()]) this.release(ip);
  }

  private fire(ip: string, run: Running): void {
    if (this.running.get(ip) !== run) return;
    run.timer = undefined;
    const sent = this.options.transmit(ip);
    this.gratuitousSent.set(ip, (this.gratuitousSent.get(ip) ?? 0) + sent);
    run.step++;
    const next = this.schedule[run.step];
    if (next === undefined) {
      this.running.delete(ip);
      return;
    }
    // Relative to takeover, not to this send, so a late timer does not push the rest back.
    const delay = Math.max(0, run.startedAt + next - this.clock.now());
    run.timer = this.clock.setTimeout(() => this.fire(ip, run), delay);
  }
}
