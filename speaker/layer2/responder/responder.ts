// The L2 responder's edge: answers ARP (RFC 826) and Neighbor Solicitations (RFC 4861
// §7.2.3-7.2.4) for the Service IPs this node owns, from userspace, on AF_PACKET sockets.
//
// The job is split by file: decide.ts (the pure decision, the reference), fast-path.ts (the
// same decision read from fixed offsets), bpf-filter.ts (the ARP socket filter), and this
// file: it places each owned IP on its interfaces (interfaces.ts), keeps one ARP socket and
// one IPv6 socket per interface that has IPs of that family, joins the solicited-node group of
// each owned IPv6 address, and counts what it sees. Both sockets answer the common request
// themselves, on a native thread, from the owned set they are given (the same answers as
// decideArpBytes and decideNdpBytes, see speaker/native/src/packet_socket.cc for why); every
// other frame still comes here.
//
// The segment is untrusted: anyone on it can send any frame at any rate. So nothing a frame
// says changes what this node owns (ownership comes from the caller only), conflict reports
// are limited per IP whatever the claimed MAC (conflict-limiter.ts), frames the loop cannot
// use are dropped before it by the kernel filter and the native thread, and every drop is
// counted by reason. The answer fence (setAnswerDeadline) lets the caller's lease stop every
// answer, native or not, the moment the lease may have passed to another node.

import { type FrameDecision, NOT_OURS, decideFrame } from './decide.js';
import { decideArpBytes, decideNdpBytes, ownedV4Keys, ownedV6Keys } from './fast-path.js';
import { ACCEPT_ALL, ARP_FILTER_MAX_IPS, arpFilter } from './bpf-filter.js';
import { checkDeadline, isFenced, monotonicNowMs } from './fence.js';
import { ReportLimiter } from './report-limiter.js';
import { decodeFrame } from '../wire/frame.js';
import { multicastMac, solicitedNodeMulticast } from '../wire/ipv6.js';
import { type EligibleInterface, type InterfaceSnapshot, interfacesForIp } from './interfaces.js';
import { formatIPv4, formatIPv6, parseMac } from '../wire/address.js';
import {
  ETH_P_ARP,
  ETH_P_IPV6,
  NDP_FILTER,
  PacketSocket,
  type BpfInstruction,
  type NativeDropped,
  type PacketSocketOptions,
} from '../../native/index.js';

// The pieces other modules and tests reach through the responder.
export { type FrameContext, type FrameDecision, decideFrame } from './decide.js';
export {
  type OwnedV4,
  type OwnedV6,
  decideArpBytes,
  decideNdpBytes,
  ownedV4Keys,
  ownedV6Keys,
} from './fast-path.js';
export { ARP_FILTER_MAX_IPS, arpFilter } from './bpf-filter.js';
export { createAnswerDeadlineCell, monotonicNowMs, writeAnswerDeadline } from './fence.js';

/** What the responder needs of a packet socket (PacketSocket; a fake in unit tests). */
export interface FrameSocket {
  readonly hardwareAddress: string;
  send(frame: Buffer): number;
  addMembership(mac: string): void;
  attachFilter?(program: readonly BpfInstruction[]): void;
  /** Answer-thread sockets: the IPv4 values (ownedV4Keys) the socket answers ARP for itself. */
  setArpAnswers?(mac: Buffer, ips: Iterable<number>): void;
  /** Answer-thread sockets: the replies sent by the socket itself since the last call. */
  takeArpAnswered?(): Map<number, number>;
  /** Answer-thread sockets: the IPv6 targets (16 bytes each, packed) the socket answers NS for. */
  setNdpAnswers?(mac: Buffer, targets: Buffer): void;
  /** Answer-thread sockets: the NAs sent by the socket itself since the last call, per v6 key. */
  takeNdpAnswered?(): Map<string, number>;
  /** Answer-thread sockets: stop answering at this CLOCK_MONOTONIC ms; undefined: never. */
  setAnswerDeadline?(deadlineMs: number | undefined): void;
  /** Answer-thread sockets: read the deadline from element 0 of `cell` instead; undefined: back. */
  setAnswerDeadlineCell?(cell: Float64Array | undefined): void;
  /** Answer-thread sockets: frames dropped on the thread since the last call, by reason. */
  takeDropped?(): NativeDropped;
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
  /** Duplicate responders seen per owned IP. */
  conflictsByIp: Map<string, number>;
  /** Conflicts not reported to onConflict (one report per IP per conflict interval). */
  conflictsSuppressed: number;
  /** send() failures (e.g. ENETDOWN while the link flaps). */
  sendErrors: number;
  /**
   * Frames neither answered nor decided, by reason: `fenced` (an answer or announcement
   * past the answer deadline), `not-owned` (well-formed ARP naming no owned IP, dropped on
   * the native thread), `overload` (beyond the native thread's rate toward the loop),
   * `queue-full`, `socket-buffer` (the kernel dropped it: the socket's receive buffer was
   * full), `receive-error` (a socket read failed), `exception` (a handler threw;
   * frame handlers also count it as malformed). Malformed frames are counted in `malformed`.
   */
  dropped: Map<string, number>;
  /** Edge log lines held back (one per message and interface per log interval). */
  logsSuppressed: number;
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
  onLog?: (event: {
    msg: string;
    interface?: string;
    ip?: string;
    error?: string;
    /** Lines of this message and interface held back since its previous line. */
    suppressed?: number;
  }) => void;
  /** Let ARP and NDP sockets answer requests on their native thread (default true). */
  answerThread?: boolean;
  /** onConflict is called at most once per IP per this interval (default 10 s). */
  conflictIntervalMs?: number;
  /** Each edge log message is logged at most once per interface per this interval (default 10 s). */
  logIntervalMs?: number;
  /** CLOCK_MONOTONIC in ms (default monotonicNowMs); injected by unit tests. */
  now?: () => number;
}

const DEFAULT_REPORT_INTERVAL_MS = 10_000;

interface InterfaceState {
  iface: EligibleInterface;
  mac: string;
  /** `mac` as bytes, for the ARP hot path. */
  macBytes: Buffer;
  v4: Set<string>;
  /** `v4` keyed by address value, for the ARP hot path. */
  v4Keys: Map<number, string>;
  /** The owned set the ARP socket's filter was built for ("" before one is attached). */
  arpFilterFor: string;
  v6: Set<string>;
  /** `v6` keyed by address bytes, for the NDP hot path. */
  v6Keys: Map<string, string>;
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
  readonly #counters: ResponderCounters = {
    requestsReceived: new Map(),
    responsesSent: new Map(),
    malformed: 0,
    malformedByReason: new Map(),
    conflicts: 0,
    conflictsByIp: new Map(),
    conflictsSuppressed: 0,
    sendErrors: 0,
    dropped: new Map(),
    logsSuppressed: 0,
  };
  private readonly now: () => number;
  private readonly conflictLimiter: ReportLimiter;
  private readonly logLimiter: ReportLimiter;
  /** The answer fence (CLOCK_MONOTONIC ms); undefined: none. */
  private deadline: number | undefined;
  /** Or the shared cell a worker writes the deadline into (setAnswerDeadlineCell). */
  private deadlineCell: Float64Array | undefined;

  /** What the responder counted, including the replies its sockets sent themselves. */
  get counters(): ResponderCounters {
    for (const st of this.states.values()) {
      this.collectAnswered(st, 'arp');
      this.collectAnswered(st, 'ndp');
    }
    this.#counters.conflictsSuppressed = this.conflictLimiter.suppressed;
    this.#counters.logsSuppressed = this.logLimiter.suppressed;
    return this.#counters;
  }

  constructor(private readonly options: ResponderOptions = {}) {
    this.openSocket = options.openSocket ?? ((o) => PacketSocket.open(o));
    this.now = options.now ?? monotonicNowMs;
    this.conflictLimiter = new ReportLimiter(
      options.conflictIntervalMs ?? DEFAULT_REPORT_INTERVAL_MS,
      this.now,
    );
    this.logLimiter = new ReportLimiter(options.logIntervalMs ?? DEFAULT_REPORT_INTERVAL_MS, this.now);
  }

  /**
   * The answer fence: answer (natively and here) and announce only while the monotonic clock
   * (monotonicNowMs) is before `deadlineMs`; undefined removes it. The caller's lease sets
   * it: once the lease may have passed to another node this node must fall silent even if
   * its own view of ownership is stale (a node cut off from its peers still believes it owns
   * its IPs when the link comes back). Frames not answered are counted as dropped `fenced`.
   */
  setAnswerDeadline(deadlineMs: number | undefined): void {
    this.deadline = checkDeadline(deadlineMs);
    this.deadlineCell = undefined;
    for (const st of this.states.values()) {
      for (const socket of [st.arp, st.ndp]) if (socket) this.fenceSocket(st, socket);
    }
  }

  /**
   * The answer fence read from shared memory (fence.ts, createAnswerDeadlineCell): from now on
   * the deadline is whatever the cell holds when a frame arrives, on the native threads and
   * here, so the lease's worker thread moves it without the main thread. undefined goes back
   * to the value of setAnswerDeadline (and setAnswerDeadline drops the cell).
   */
  setAnswerDeadlineCell(cell: SharedArrayBuffer | undefined): void {
    if (cell !== undefined && cell.byteLength < 8)
      throw new RangeError(`setAnswerDeadlineCell: the cell has ${cell.byteLength} bytes, want 8`);
    this.deadlineCell = cell === undefined ? undefined : new Float64Array(cell, 0, 1);
    for (const st of this.states.values()) {
      for (const socket of [st.arp, st.ndp]) if (socket) this.fenceSocket(st, socket);
    }
  }

  /** Whether the fence is closed now (a deadline is set and has passed, or the cell says so). */
  fenced(now: number = this.now()): boolean {
    return isFenced(this.deadlineCell ? this.deadlineCell[0] : this.deadline, now);
  }

  /** The node's current links and addresses (from InterfaceWatcher). */
  setInterfaces(snapshot: InterfaceSnapshot): void {
    this.snapshot = snapshot;
    this.reconcile();
  }

  /** The complete set of IPs this node owns now; anything not listed is no longer answered. */
  setOwned(ips: readonly OwnedIp[]): void {
    this.owned = new Map(ips.map((o) => [o.ip, o]));
    this.conflictLimiter.retain((ip) => this.owned.has(ip));
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
    if (this.fenced()) {
      this.drop('fenced');
      return 0;
    }
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
      this.closeSocket(st, 'arp');
      this.closeSocket(st, 'ndp');
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
      this.closeSocket(st, 'arp');
      this.closeSocket(st, 'ndp');
      this.states.delete(key);
    }
    for (const [key, { iface, ips }] of desired) {
      let st = this.states.get(key);
      if (!st) {
        st = {
          iface,
          mac: iface.mac,
          macBytes: macBytes(iface.mac),
          v4: new Set(),
          v4Keys: new Map(),
          arpFilterFor: '',
          v6: new Set(),
          v6Keys: new Map(),
          groups: new Set(),
        };
        this.states.set(key, st);
      }
      st.iface = iface;
      st.v4 = new Set(ips.filter((ip) => !isV6(ip)));
      st.v4Keys = ownedV4Keys(st.v4);
      st.v6 = new Set(ips.filter(isV6));
      st.v6Keys = ownedV6Keys(st.v6);
      this.syncSockets(st);
    }
    if (!this.options.onPlacementGained) return;
    for (const [ip, names] of this.placement()) {
      const had = new Set(before.get(ip) ?? []);
      const gained = names.filter((n) => !had.has(n));
      if (gained.length === 0) continue;
      // The caller's handler must not stop the others, nor throw into setOwned's caller.
      try {
        this.options.onPlacementGained(ip, gained);
      } catch (err) {
        this.drop('exception');
        this.log({ msg: 'announcing a placed IP failed', ip, error: String(err) });
      }
    }
  }

  private syncSockets(st: InterfaceState): void {
    if (st.v4.size > 0 && !st.arp) st.arp = this.open(st, ETH_P_ARP);
    if (st.v4.size === 0 && st.arp) {
      this.closeSocket(st, 'arp');
      st.arpFilterFor = '';
    }
    if (st.arp) {
      this.filterArp(st, st.arp);
      if (this.options.answerThread !== false) st.arp.setArpAnswers?.(st.macBytes, st.v4Keys.keys());
    }
    if (st.v6.size > 0 && !st.ndp) {
      st.ndp = this.open(st, ETH_P_IPV6);
      st.groups.clear();
    }
    if (st.v6.size === 0 && st.ndp) {
      this.closeSocket(st, 'ndp');
      st.groups.clear();
    }
    if (st.ndp) {
      if (this.options.answerThread !== false)
        st.ndp.setNdpAnswers?.(st.macBytes, Buffer.from([...st.v6Keys.keys()].join(''), 'latin1'));
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
        ...(this.options.answerThread !== false ? { answerThread: true } : {}),
        onFrame: (frame) => this.onFrame(st, frame),
        onError: (err) => {
          // A receive error loses whatever the kernel had queued: counted, logged, and the
          // socket stays open (the link may come back).
          this.drop('receive-error');
          this.log({ msg: 'packet socket error', interface: st.iface.name, error: err.message });
        },
      });
      if (socket.hardwareAddress) {
        st.mac = socket.hardwareAddress;
        st.macBytes = macBytes(st.mac);
      }
      if (etherType === ETH_P_ARP) st.arpFilterFor = '';
      // Before any table is set: a new socket never answers past the fence.
      this.fenceSocket(st, socket);
      // An IPv6 packet socket would otherwise receive every IPv6 packet on the link.
      if (etherType === ETH_P_IPV6) socket.attachFilter?.(NDP_FILTER);
      return socket;
    } catch (err) {
      this.log({ msg: 'opening packet socket failed', interface: st.iface.name, error: String(err) });
      return undefined;
    }
  }

  /** Closes one socket of `st`, keeping the count of the answers it sent itself. */
  private closeSocket(st: InterfaceState, which: 'arp' | 'ndp'): void {
    const socket = st[which];
    if (!socket) return;
    this.collectAnswered(st, which);
    socket.close();
    delete st[which];
  }

  private fenceSocket(st: InterfaceState, socket: FrameSocket): void {
    if (!socket.setAnswerDeadline) return;
    try {
      socket.setAnswerDeadline(this.deadline);
      socket.setAnswerDeadlineCell?.(this.deadlineCell);
    } catch (err) {
      this.log({ msg: 'setting the answer deadline failed', interface: st.iface.name, error: String(err) });
    }
  }

  private drop(reason: string, n = 1): void {
    if (n > 0) bump(this.#counters.dropped, reason, n);
  }

  /** Adds the answers a socket sent on its own thread to the counters, as act() would. */
  private collectAnswered(st: InterfaceState, which: 'arp' | 'ndp'): void {
    const dropped = st[which]?.takeDropped?.();
    if (dropped) {
      this.drop('fenced', dropped.fenced);
      this.drop('not-owned', dropped.notOwned);
      this.drop('overload', dropped.overload);
      this.drop('queue-full', dropped.queueFull);
      this.drop('socket-buffer', dropped.socketBuffer);
    }
    const count = (ip: string, n: number): void => {
      bump(this.#counters.requestsReceived, ip, n);
      bump(this.#counters.responsesSent, ip, n);
    };
    if (which === 'arp')
      for (const [key, n] of st.arp?.takeArpAnswered?.() ?? [])
        count(st.v4Keys.get(key) ?? formatIPv4(keyBytes(key)), n);
    else
      for (const [key, n] of st.ndp?.takeNdpAnswered?.() ?? [])
        count(st.v6Keys.get(key) ?? formatIPv6(Buffer.from(key, 'latin1')), n);
  }

  /** (Re)builds the ARP socket's filter when the owned set of the interface changed. */
  private filterArp(st: InterfaceState, socket: FrameSocket): void {
    if (!socket.attachFilter) return;
    const key = [...st.v4Keys.keys()].sort((a, b) => a - b).join(',');
    if (key === st.arpFilterFor) return;
    try {
      // Too many IPs for one program: accept everything, the responder still decides.
      socket.attachFilter(st.v4Keys.size <= ARP_FILTER_MAX_IPS ? arpFilter(st.v4Keys.keys()) : [ACCEPT_ALL]);
      st.arpFilterFor = key;
    } catch (err) {
      this.log({ msg: 'attaching the ARP filter failed', interface: st.iface.name, error: String(err) });
    }
  }

  private onFrame(st: InterfaceState, bytes: Buffer): void {
    // A frame off the wire is untrusted; nothing it contains may take the responder down.
    try {
      // The hot paths first; undefined means "not certain", and the full decoder decides.
      const arp = bytes.length > 13 && bytes[12] === 0x08 && bytes[13] === 0x06;
      const fast = arp
        ? decideArpBytes(bytes, st.macBytes, st.v4Keys)
        : decideNdpBytes(bytes, st.macBytes, st.v6Keys);
      if (fast !== undefined) {
        this.act(st, fast, arp ? st.arp : st.ndp);
        return;
      }
      const decoded = decodeFrame(bytes);
      if (!decoded.ok) {
        if (NOT_OURS.has(decoded.reason)) return;
        this.#counters.malformed++;
        bump(this.#counters.malformedByReason, decoded.reason);
        return;
      }
      const ownedHere = decoded.value.protocol === 'arp' ? st.v4 : st.v6;
      const decision = decideFrame(decoded.value, { mac: st.mac, owns: (ip) => ownedHere.has(ip) });
      this.act(st, decision, decoded.value.protocol === 'arp' ? st.arp : st.ndp);
    } catch (err) {
      this.#counters.malformed++;
      bump(this.#counters.malformedByReason, 'exception');
      this.drop('exception');
      this.log({ msg: 'frame handling failed', interface: st.iface.name, error: String(err) });
    }
  }

  private act(st: InterfaceState, decision: FrameDecision, socket: FrameSocket | undefined): void {
    if (decision.kind === 'conflict') {
      // Counted always, reported once per IP per interval: the claimed MAC is the sender's
      // choice, so it cannot be part of the key (RFC 5227 §2.4 defends per address too).
      this.#counters.conflicts++;
      bump(this.#counters.conflictsByIp, decision.ip);
      if (this.conflictLimiter.admit(decision.ip) === undefined) return;
      this.options.onConflict?.(decision.ip, decision.mac, st.iface.name);
      return;
    }
    if (decision.kind === 'ignore') {
      if (decision.ip !== undefined) bump(this.#counters.requestsReceived, decision.ip);
      return;
    }
    bump(this.#counters.requestsReceived, decision.ip);
    if (this.fenced()) {
      this.drop('fenced');
      return;
    }
    if (socket && this.send(st, socket, decision.frame, decision.ip)) {
      bump(this.#counters.responsesSent, decision.ip);
    }
  }

  private send(st: InterfaceState, socket: FrameSocket, frame: Buffer, ip: string): boolean {
    try {
      socket.send(frame);
      return true;
    } catch (err) {
      this.#counters.sendErrors++;
      this.log({ msg: 'send failed', interface: st.iface.name, ip, error: String(err) });
      return false;
    }
  }

  /** Edge log lines, at most one per message and interface per log interval. */
  private log(event: { msg: string; interface?: string; ip?: string; error?: string }): void {
    const held = this.logLimiter.admit(`${event.msg}|${event.interface ?? ''}`);
    if (held === undefined) return;
    this.options.onLog?.(held > 0 ? { ...event, suppressed: held } : event);
  }
}

function macBytes(mac: string): Buffer {
  return parseMac(mac) ?? Buffer.alloc(6);
}

function bump(map: Map<string, number>, key: string, n = 1): void {
  map.set(key, (map.get(key) ?? 0) + n);
}

function keyBytes(key: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(key >>> 0);
  return out;
}
