// The membership edge (speaker/layer2/membership/README.md, "How the edge drives it"): the
// Membership state machine on a UDP socket with its timers, and the ownership election run
// after every tick, every accepted heartbeat and every change of plan, peers or health. It
// hands each election to the data plane (protocol.ts) and remembers when each peer was lost,
// for the failover histogram.

import type { Logger } from '../../../lib/log.js';
import { decodeHeartbeat, encodeHeartbeat, Membership } from '../membership/index.js';
import type { LocalHealth, MemberChange, MemberState, Outgoing, Peer } from '../membership/index.js';
import { electOwners, type Election, type L2Plan } from '../plan/index.js';
import type { HeartbeatSocket } from '../membership/heartbeat-socket.js';

export interface OwnershipLoopOptions {
  self: string;
  /** Peers' memberlist port (all speakers use the same one, as MetalLB's DaemonSet). */
  port: number;
  key: Buffer;
  socket: HeartbeatSocket;
  log: Logger;
  /** Monotonic ms (performance.now): membership deadlines must not jump with the wall clock. */
  now: () => number;
  /** After every election, with the time it was computed at. */
  onElection: (election: Election, now: number) => void;
  /** Seconds with no live owner, per IP, as this speaker sees it. */
  onUnowned?: (ip: string, seconds: number) => void;
  onMemberChange?: (change: MemberChange) => void;
}

const emptyPlan: L2Plan = { ips: [], notAnnounced: new Map() };

export class OwnershipLoop {
  private readonly membership: Membership;
  private key: Buffer;
  private plan: L2Plan = emptyPlan;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly lost = new Map<string, number>();
  private unowned = new Set<string>();
  private unownedSince = 0;
  private rejected = 0;

  constructor(private readonly opts: OwnershipLoopOptions) {
    this.key = opts.key;
    // The wall clock makes incarnations grow across restarts, as the codec's replay check needs.
    this.membership = new Membership({ self: opts.self, incarnation: Date.now() }, opts.now());
    this.unownedSince = opts.now();
  }

  setKey(key: Buffer): void {
    this.key = key;
  }

  setPlan(plan: L2Plan): void {
    this.plan = plan;
    this.step();
  }

  setPeers(peers: readonly Peer[]): void {
    for (const c of this.membership.setPeers(peers)) this.noteChange(c, this.opts.now());
    this.step();
  }

  setHealth(health: LocalHealth): void {
    this.membership.setLocalHealth(health, this.opts.now());
    this.step();
  }

  /** When membership last declared `node` dead or gone (monotonic ms). */
  lostAt(node: string): number | undefined {
    return this.lost.get(node);
  }

  state(node: string): MemberState | undefined {
    return this.membership.state(node);
  }

  /** Datagrams that failed authentication or decoding, or were replays. */
  get rejectedDatagrams(): number {
    return this.rejected;
  }

  onDatagram(bytes: Buffer): void {
    if (this.stopped) return;
    const decoded = decodeHeartbeat(bytes, this.key);
    if (!decoded.ok) {
      this.rejected++;
      // Counted, logged at debug: a flood of forged datagrams must not flood the log too.
      this.opts.log.debug('heartbeat rejected', { reason: decoded.reason, detail: decoded.detail });
      return;
    }
    const now = this.opts.now();
    const verdict = this.membership.onHeartbeat(decoded.value, now);
    if (!verdict.accepted) {
      if (verdict.reason !== 'self') this.rejected++;
      return;
    }
    for (const c of verdict.changes) this.noteChange(c, now);
    this.step();
  }

  /** SIGTERM: one `leaving` heartbeat with no claims (the successor takes over at once). */
  async leave(): Promise<void> {
    if (this.stopped) return;
    const sent = this.send(this.membership.leave(this.opts.now()));
    this.stop();
    // The socket must stay open until the datagrams are out; never wait long on SIGTERM.
    await Promise.race([Promise.all(sent), new Promise((r) => setTimeout(r, 200))]);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private step(): void {
    if (this.stopped) return;
    const m = this.membership;
    const now = this.opts.now();
    const first = m.tick(now);
    this.send(first.send);
    for (const c of first.changes) this.noteChange(c, now);
    const election = electOwners(this.plan, m.members(now), this.opts.self, m.ready(now));
    m.setLocalClaims(election.claims, now);
    // A change of claims goes out at once (setLocalClaims made the next send due now).
    const second = m.tick(now);
    this.send(second.send);
    for (const c of second.changes) this.noteChange(c, now);
    this.countUnowned(election, now);
    this.opts.onElection(election, now);
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.step(), Math.max(0, second.nextDeadline - this.opts.now()));
  }

  private send(out: readonly Outgoing[]): Promise<void>[] {
    let bytes: Buffer | undefined;
    const sent: Promise<void>[] = [];
    for (const o of out) {
      // One heartbeat object per tick: encode once.
      bytes ??= encodeHeartbeat(o.heartbeat, this.key);
      sent.push(this.opts.socket.send(o.peer.address, this.opts.port, bytes));
    }
    return sent;
  }

  private noteChange(change: MemberChange, now: number): void {
    if (change.to === 'dead' || change.to === 'left') this.lost.set(change.node, now);
    this.opts.log.info('speaker membership changed', { peer: change.node, from: change.from, to: change.to });
    this.opts.onMemberChange?.(change);
  }

  private countUnowned(election: Election, now: number): void {
    const seconds = (now - this.unownedSince) / 1000;
    if (seconds > 0) for (const ip of this.unowned) this.opts.onUnowned?.(ip, seconds);
    this.unownedSince = now;
    const next = new Set<string>();
    for (const ip of this.plan.ips) if (election.owners.get(ip.ip)?.claimed !== true) next.add(ip.ip);
    this.unowned = next;
  }
}
