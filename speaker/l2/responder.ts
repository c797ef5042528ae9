// The L2 responder: answers ARP (RFC 826) and Neighbor Solicitations (RFC 4861 §7.2.3-7.2.4)
// for the Service IPs this node owns, from userspace, on AF_PACKET sockets.
//
// Two parts:
//  - decideFrame(): pure. Given one decoded frame, our MAC and the owned set, say whether to
//    answer (and with which bytes), report a duplicate responder, or ignore it.
//  - Responder: the edge. It places each owned IP on its interfaces (interfaces.ts), keeps one
//    ARP socket and one IPv6 socket per interface that has IPs of that family, joins the
//    solicited-node group of each owned IPv6 address, and counts what it sees.
//
// NDP choices, RFC 4861 §7.2.4:
//  - Unicast NS (neighbour unreachability detection, §7.3.1) to the Service IP are answered
//    like multicast ones; MetalLB drops them (its issue 2920), which makes clients whose cache
//    entry went STALE fall back to multicast solicitation and lose time.
//  - O=1 (override). §7.2.4 asks for O=0 for anycast and proxied addresses. A Service IP is
//    neither: it is a unicast address assigned to this node (kube-proxy puts it on a local
//    device), and exactly one node answers for it at a time. O=1 also lets a solicited NA
//    replace a stale entry pointing at the previous owner instead of waiting for it to fail.
//  - S=1 for a solicitor with an address; to ff02::1 with S=0 for DAD (source ::).
//  - The NA is sourced from the Service IP itself, not from our link-local address: Linux
//    accepts both, but some tools (ndisc6) ignore an NA for a global target from a link-local
//    source (lab.md §3), and the Service IP is ours while we own it.
import { encodeArpReply } from './arp.js';
import { BROADCAST_MAC } from './ethernet.js';
import { type L2Frame, type L2MalformedReason, decodeFrame } from './frame.js';
import { multicastMac, solicitedNodeMulticast } from './ipv6.js';
import { answerNeighborSolicitation, encodeNdpFrame } from './ndp.js';
import { type EligibleInterface, type InterfaceSnapshot, interfacesForIp } from './interfaces.js';
import {
  ETH_P_ARP,
  ETH_P_IPV6,
  NDP_FILTER,
  PacketSocket,
  type BpfInstruction,
  type PacketSocketOptions,
} from '../native/index.js';

// --- The pure part ------------------------------------------------------------------------

export type FrameDecision =
  /** Send `frame` back on the interface it came from. */
  | { kind: 'answer'; ip: string; frame: Buffer }
  /** Another station claims `ip`, which we own, with `mac`. */
  | { kind: 'conflict'; ip: string; mac: string }
  /** Not for us; `ip` is set when it was a request for an owned IP that we must not answer. */
  | { kind: 'ignore'; ip?: string };

export interface FrameContext {
  /** Our MAC on the interface the frame arrived on. */
  mac: string;
  /** Whether we own `ip` on this interface. */
  owns: (ip: string) => boolean;
}

/** What to do with one well-formed frame. */
export function decideFrame(frame: L2Frame, ctx: FrameContext): FrameDecision {
  return frame.protocol === 'arp' ? decideArp(frame, ctx) : decideNdp(frame, ctx);
}

function decideArp(frame: L2Frame & { protocol: 'arp' }, ctx: FrameContext): FrameDecision {
  // Someone else asserting an owned IP: an ARP reply, or a gratuitous request (RFC 5227 §2.3
  // Announcement), whose sender is the IP and whose sender MAC is not ours.
  if (
    ctx.owns(frame.senderIp) &&
    frame.senderMac !== ctx.mac &&
    (frame.operation === 'reply' || frame.gratuitous)
  ) {
    return { kind: 'conflict', ip: frame.senderIp, mac: frame.senderMac };
  }
  if (frame.operation !== 'request' || frame.gratuitous || !ctx.owns(frame.targetIp))
    return { kind: 'ignore' };
  // Only requests that were broadcast or sent to us (MetalLB does the same): a unicast request
  // to another MAC is that station's to answer.
  if (frame.ethernetDestination !== BROADCAST_MAC && frame.ethernetDestination !== ctx.mac) {
    return { kind: 'ignore', ip: frame.targetIp };
  }
  // Probes (sender 0.0.0.0, RFC 5227 §2.1.1) are answered too: that defends the address.
  return { kind: 'answer', ip: frame.targetIp, frame: encodeArpReply({ request: frame, mac: ctx.mac }) };
}

function decideNdp(frame: L2Frame & { protocol: 'ndp' }, ctx: FrameContext): FrameDecision {
  const message = frame.message;
  if (message.type === 'neighbor-advertisement') {
    const mac = message.targetLinkAddress ?? frame.ethernetSource;
    if (ctx.owns(message.target) && mac !== ctx.mac) return { kind: 'conflict', ip: message.target, mac };
    return { kind: 'ignore' };
  }
  const target = message.target;
  if (!ctx.owns(target)) return { kind: 'ignore' };
  // §7.1.1 and §7.2.3: an NS is for us when sent to the target's solicited-node group or, for
  // unicast NUD probes, to the target itself and to our MAC.
  const group = solicitedNodeMulticast(target);
  const toGroup = frame.destination === group && frame.ethernetDestination === multicastMac(group);
  const toUs = frame.destination === target && frame.ethernetDestination === ctx.mac;
  if (!toGroup && !toUs) return { kind: 'ignore', ip: target };
  const answer = answerNeighborSolicitation(frame, ctx.mac);
  const bytes = encodeNdpFrame({
    source: target,
    destination: answer.destination,
    message: answer.message,
    ethernetSource: ctx.mac,
    ethernetDestination: answer.ethernetDestination,
  });
  return { kind: 'answer', ip: target, frame: bytes };
}

/** Decode failures that only mean "not NDP/ARP", which a packet socket may still see. */
const NOT_OURS: ReadonlySet<L2MalformedReason> = new Set<L2MalformedReason>([
  'unsupported-ethertype',
  'not-arp',
  'not-ipv6-ethertype',
  'not-icmpv6',
  'not-neighbor-discovery',
]);

// --- The edge -----------------------------------------------------------------------------

/** What the responder needs of a packet socket (PacketSocket; a fake in unit tests). */
export interface FrameSocket {
  readonly hardwareAddress: string;
  send(frame: Buffer): number;
  addMembership(mac: string): void;
  attachFilter?(program: readonly BpfInstruction[]): void;
  close(): void;
}

export type OpenFrameSocket = (options: PacketSocketOptions) => FrameSocket;

export interface OwnedIp {
  ip: string;
  /** L2Advertisement.spec.interfaces of the advertisements that select this IP; empty: any. */
  interfaces?: readonly string[];
}

export interface ResponderCounters {
  /** ARP requests and NS for an owned IP that reached us, per IP. */
  requestsReceived: Map<string, number>;
  /** ARP replies and NAs sent, per IP. */
  responsesSent: Map<string, number>;
  /** Frames dropped because they failed to decode, in total and per reason. */
  malformed: number;
  malformedByReason: Map<string, number>;
  /** Duplicate responders seen (another MAC answering for an owned IP). */
  conflicts: number;
  /** send() failures (e.g. ENETDOWN while the link flaps). */
  sendErrors: number;
}

export interface ResponderOptions {
  /** Default PacketSocket.open. */
  openSocket?: OpenFrameSocket;
  /** Interface name patterns never used; default DEFAULT_EXCLUDED_INTERFACES. */
  exclude?: readonly RegExp[];
  /** Another station answered for an owned IP (duplicate responder). */
  onConflict?: (ip: string, mac: string, interfaceName: string) => void;
  /**
   * An owned IP gained interfaces (a link came up, an address appeared, the IP was just
   * placed): the caller re-announces it there (Announcer.takeOver), as neighbours on that link
   * may still hold another MAC. Called after the sockets are open.
   */
  onPlacementGained?: (ip: string, interfaces: string[]) => void;
  /** Socket errors and other events worth a log line. */
  onLog?: (event: { msg: string; interface?: string; ip?: string; error?: string }) => void;
}

interface InterfaceState {
  iface: EligibleInterface;
  mac: string;
  v4: Set<string>;
  v6: Set<string>;
  arp?: FrameSocket;
  ndp?: FrameSocket;
  /** Link-layer groups joined on `ndp`; left when the socket closes. */
  groups: Set<string>;
}

const isV6 = (ip: string): boolean => ip.includes(':');

export class Responder {
  private readonly openSocket: OpenFrameSocket;
  private snapshot: InterfaceSnapshot = { links: [], addresses: [] };
  private owned = new Map<string, OwnedIp>();
  /** Keyed by "name#index", so a re-created interface gets fresh sockets. */
  private readonly states = new Map<string, InterfaceState>();
  private closed = false;
  readonly counters: ResponderCounters = {
    requestsReceived: new Map(),
    responsesSent: new Map(),
    malformed: 0,
    malformedByReason: new Map(),
    conflicts: 0,
    sendErrors: 0,
  };

  constructor(private readonly options: ResponderOptions = {}) {
    this.openSocket = options.openSocket ?? ((o) => PacketSocket.open(o));
  }

  /** The node's current links and addresses (from InterfaceWatcher). */
  setInterfaces(snapshot: InterfaceSnapshot): void {
    this.snapshot = snapshot;
    this.reconcile();
  }

  /** The complete set of IPs this node owns now; anything not listed is no longer answered. */
  setOwned(ips: readonly OwnedIp[]): void {
    this.owned = new Map(ips.map((o) => [o.ip, o]));
    this.reconcile();
  }

  /** Interface names answering for each owned IP; an IP with none cannot be served here. */
  placement(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const ip of this.owned.keys()) out.set(ip, []);
    for (const st of this.states.values()) {
      for (const ip of [...st.v4, ...st.v6]) out.get(ip)?.push(st.iface.name);
    }
    return out;
  }

  /**
   * Sends the takeover announcement for `ip` on each of its interfaces: a gratuitous ARP
   * request and reply (IPv4), or an unsolicited NA with O=1 to ff02::1 (IPv6). Returns the
   * number of frames sent. The frames themselves are built by the announcer's codec helpers.
   */
  sendOnInterfaces(ip: string, build: (mac: string) => Buffer[]): number {
    let sent = 0;
    for (const st of this.states.values()) {
      const v6 = isV6(ip);
      if (!(v6 ? st.v6 : st.v4).has(ip)) continue;
      const socket = v6 ? st.ndp : st.arp;
      if (!socket) continue;
      for (const frame of build(st.mac)) if (this.send(st, socket, frame, ip)) sent++;
    }
    return sent;
  }

  close(): void {
    this.closed = true;
    for (const [key, st] of this.states) {
      st.arp?.close();
      st.ndp?.close();
      this.states.delete(key);
    }
  }

  private reconcile(): void {
    if (this.closed) return;
    const before = this.placement();
    // Desired: interface key -> IPs placed there.
    const desired = new Map<string, { iface: EligibleInterface; ips: string[] }>();
    for (const o of this.owned.values()) {
      const ifaces = interfacesForIp(this.snapshot, o.ip, {
        ...(o.interfaces ? { allowed: o.interfaces } : {}),
        ...(this.options.exclude ? { exclude: this.options.exclude } : {}),
      });
      for (const iface of ifaces) {
        const key = `${iface.name}#${iface.index}`;
        const entry = desired.get(key) ?? { iface, ips: [] };
        entry.ips.push(o.ip);
        desired.set(key, entry);
      }
    }
    for (const [key, st] of this.states) {
      if (desired.has(key)) continue;
      st.arp?.close();
      st.ndp?.close();
      this.states.delete(key);
    }
    for (const [key, { iface, ips }] of desired) {
      let st = this.states.get(key);
      if (!st) {
        st = { iface, mac: iface.mac, v4: new Set(), v6: new Set(), groups: new Set() };
        this.states.set(key, st);
      }
      st.iface = iface;
      st.v4 = new Set(ips.filter((ip) => !isV6(ip)));
      st.v6 = new Set(ips.filter(isV6));
      this.syncSockets(st);
    }
    if (!this.options.onPlacementGained) return;
    for (const [ip, names] of this.placement()) {
      const had = new Set(before.get(ip) ?? []);
      const gained = names.filter((n) => !had.has(n));
      if (gained.length > 0) this.options.onPlacementGained(ip, gained);
    }
  }

  private syncSockets(st: InterfaceState): void {
    if (st.v4.size > 0 && !st.arp) st.arp = this.open(st, ETH_P_ARP);
    if (st.v4.size === 0 && st.arp) {
      st.arp.close();
      delete st.arp;
    }
    if (st.v6.size > 0 && !st.ndp) {
      st.ndp = this.open(st, ETH_P_IPV6);
      st.groups.clear();
    }
    if (st.v6.size === 0 && st.ndp) {
      st.ndp.close();
      delete st.ndp;
      st.groups.clear();
    }
    if (st.ndp) {
      // Join each owned IP's solicited-node group (RFC 4861 §7.2.1) at the link layer, so the
      // NIC passes the NS up. Groups of released IPs stay joined until the socket closes: a
      // group only widens what the NIC accepts, and the owned set decides what is answered.
      for (const ip of st.v6) {
        const mac = multicastMac(solicitedNodeMulticast(ip));
        if (st.groups.has(mac)) continue;
        try {
          st.ndp.addMembership(mac);
          st.groups.add(mac);
        } catch (err) {
          this.log({
            msg: 'joining solicited-node group failed',
            interface: st.iface.name,
            ip,
            error: String(err),
          });
        }
      }
    }
  }

  private open(st: InterfaceState, etherType: number): FrameSocket | undefined {
    try {
      const socket = this.openSocket({
        interface: st.iface.index,
        etherType,
        onFrame: (frame) => this.onFrame(st, frame),
        onError: (err) =>
          this.log({ msg: 'packet socket error', interface: st.iface.name, error: err.message }),
      });
      if (socket.hardwareAddress) st.mac = socket.hardwareAddress;
      // An IPv6 packet socket would otherwise receive every IPv6 packet on the link.
      if (etherType === ETH_P_IPV6) socket.attachFilter?.(NDP_FILTER);
      return socket;
    } catch (err) {
      this.log({ msg: 'opening packet socket failed', interface: st.iface.name, error: String(err) });
      return undefined;
    }
  }

  private onFrame(st: InterfaceState, bytes: Buffer): void {
    // A frame off the wire is untrusted; nothing it contains may take the responder down.
    try {
      const decoded = decodeFrame(bytes);
      if (!decoded.ok) {
        if (NOT_OURS.has(decoded.reason)) return;
        this.counters.malformed++;
        bump(this.counters.malformedByReason, decoded.reason);
        return;
      }
      const ownedHere = decoded.value.protocol === 'arp' ? st.v4 : st.v6;
      const decision = decideFrame(decoded.value, { mac: st.mac, owns: (ip) => ownedHere.has(ip) });
      if (decision.kind === 'conflict') {
        this.counters.conflicts++;
        this.options.onConflict?.(decision.ip, decision.mac, st.iface.name);
        return;
      }
      if (decision.kind === 'ignore') {
        if (decision.ip !== undefined) bump(this.counters.requestsReceived, decision.ip);
        return;
      }
      bump(this.counters.requestsReceived, decision.ip);
      const socket = decoded.value.protocol === 'arp' ? st.arp : st.ndp;
      if (socket && this.send(st, socket, decision.frame, decision.ip)) {
        bump(this.counters.responsesSent, decision.ip);
      }
    } catch (err) {
      this.counters.malformed++;
      bump(this.counters.malformedByReason, 'exception');
      this.log({ msg: 'frame handling failed', interface: st.iface.name, error: String(err) });
    }
  }

  private send(st: InterfaceState, socket: FrameSocket, frame: Buffer, ip: string): boolean {
    try {
      socket.send(frame);
      return true;
    } catch (err) {
      this.counters.sendErrors++;
      this.log({ msg: 'send failed', interface: st.iface.name, ip, error: String(err) });
      return false;
    }
  }

  private log(event: { msg: string; interface?: string; ip?: string; error?: string }): void {
    this.options.onLog?.(event);
  }
}

function bump(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}
