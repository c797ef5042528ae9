// Typed access to beacon_native, the addon for what Node and the npm packages cannot do
// (see src/addon.cc): AF_PACKET sockets for ARP/NDP frames, TCP_MD5SIG for BGP sessions and
// UDP sockets that report the received TTL for BFD.
// Failed syscalls throw Errors shaped like Node's system errors: `code` ("ENODEV"),
// `errno`, `syscall`, and a message that names the interface, peer or address involved.
import { existsSync } from 'node:fs';
import { closeSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

export const ETH_P_ARP = 0x0806;
export const ETH_P_IPV6 = 0x86dd;

/** sll_pkttype of a received frame (linux/if_packet.h). PACKET_OUTGOING is never delivered. */
export const PacketType = { host: 0, broadcast: 1, multicast: 2, otherHost: 3 } as const;

export interface SystemError extends Error {
  code: string;
  errno: number;
  syscall: string;
}

export function isSystemError(err: unknown): err is SystemError {
  // Duck-typed: errors from the addon may come from another realm (Jest's VM contexts).
  if (typeof err !== 'object' || err === null) return false;
  const { code, syscall } = err as Partial<SystemError>;
  return typeof code === 'string' && typeof syscall === 'string';
}

interface NativePacketSocket {
  readonly hardwareAddress: Buffer;
  readonly closed: boolean;
  send(frame: Buffer): number;
  addMembership(mac: Buffer): void;
  attachFilter(program: Buffer): void;
  setArpAnswers(mac: Buffer, ips: Uint32Array): void;
  takeArpAnswered(): number[];
  setNdpAnswers(mac: Buffer, targets: Buffer): void;
  takeNdpAnswered(): (Buffer | number)[];
  setAnswerDeadline(deadlineMs?: number): void;
  takeDropped(): NativeDropped;
  setLoopBudget(framesPerSecond: number, burst: number): void;
  setAnswerDeadlineCell(cell?: Float64Array): void;
  close(): void;
}

/** Frames an answer thread dropped instead of answering them or handing them to the loop. */
export interface NativeDropped {
  /** Requests it would have answered, past the answer deadline. */
  fenced: number;
  /** Well-formed ARP frames naming no address of its table. */
  notOwned: number;
  /** Frames beyond its rate toward the loop (a flood). */
  overload: number;
  /** Frames beyond what the loop had not yet taken. */
  queueFull: number;
  /** Frames the kernel dropped: the socket's receive buffer was full (its reader fell behind). */
  socketBuffer: number;
}

interface NativeBinding {
  PacketSocket: new (
    ifindex: number,
    etherType: number,
    onFrame: (frame: Buffer, packetType: number) => void,
    onError: (err: SystemError) => void,
    answerThread?: boolean,
  ) => NativePacketSocket;
  setTcpMd5(fd: number, peer: string, key: Buffer): void;
  connectTcpMd5(peer: string, port: number, key: Buffer, localAddress?: string, ttl?: number): number;
  awaitConnect(fd: number, timeoutMs: number, callback: (err: SystemError | null) => void): void;
  interfaceIndex(name: string): number;
  periodicSenderPriority(): SenderPriority | undefined;
  UdpTtlSocket: new (
    family: 4 | 6,
    address: string,
    port: number,
    ttl: number,
    onMessage: (data: Buffer, address: string, port: number, ttl: number) => void,
    onError: (err: SystemError) => void,
  ) => NativeUdpTtlSocket;
}

interface NativeUdpTtlSocket {
  readonly port: number;
  send(data: Buffer, address: string, port: number): number;
  setPeriodic(...args: NativePeriodicArgs): void;
  clearPeriodic(): void;
  renewPeriodicLease(ms: number): void;
  periodicStats(): PeriodicStats;
  close(): void;
}

type NativePeriodicArgs = [
  data: Buffer,
  address: string,
  port: number,
  intervalUs: number,
  detectMultOne: boolean,
  leaseMs: number,
];

/** A periodic packet for UdpTtlSocket.setPeriodic. */
export interface PeriodicPacket {
  readonly data: Buffer;
  readonly address: string;
  readonly port: number;
  /** The negotiated interval before jitter. */
  readonly intervalUs: number;
  /** Jitter 10-25% instead of 0-25% (RFC 5880 §6.8.7, bfd.DetectMult 1). */
  readonly detectMultOne: boolean;
  /** How long the packets go on without renewPeriodicLease. */
  readonly leaseMs: number;
}

/** How far the native periodic sender's thread got its priority raised (src/periodic_sender.cc). */
export type SenderPriority = 'realtime' | 'nice' | 'default';

/** The periodic packets one socket's sender thread has sent, and the sends that failed. */
export interface PeriodicStats {
  readonly sent: number;
  readonly errors: number;
  /** Packets not sent because the lease had run out (renewPeriodicLease). */
  readonly withheld: number;
  /** strerror of the last failure. */
  readonly lastError?: string;
}

/**
 * The periodic sender thread's priority: SCHED_RR when CAP_SYS_NICE allows, else nice -10;
 * undefined until the first setPeriodic starts the thread.
 */
export function periodicSenderPriority(): SenderPriority | undefined {
  return native().periodicSenderPriority();
}

/** Where the built addon may be: next to this file (sources, tests) or, from dist/, in the source tree. */
function addonCandidates(): string[] {
  const fromEnv = process.env.BEACON_NATIVE_ADDON;
  const here = (rel: string): string => fileURLToPath(new URL(rel, import.meta.url));
  return [
    ...(fromEnv ? [fromEnv] : []),
    here('./build/Release/beacon_native.node'),
    here('../../../speaker/native/build/Release/beacon_native.node'),
  ];
}

let binding: NativeBinding | undefined;

function native(): NativeBinding {
  if (binding) return binding;
  const path = addonCandidates().find((p) => existsSync(p));
  if (!path) {
    throw new Error(
      `beacon_native addon not found (looked in ${addonCandidates().join(', ')}); build it with speaker/native/build.sh`,
    );
  }
  binding = createRequire(import.meta.url)(path) as NativeBinding;
  return binding;
}

/** The kernel's index of a network interface (if_nametoindex); throws ENODEV when it is absent. */
export function interfaceIndex(name: string): number {
  return native().interfaceIndex(name);
}

export interface PacketSocketOptions {
  /** Interface name or index. */
  interface: string | number;
  /** ETH_P_ARP or ETH_P_IPV6: the only frames the kernel queues on this socket. */
  etherType: number;
  /** Every received frame, Ethernet header included, except our own outgoing ones. */
  onFrame: (frame: Buffer, packetType: number) => void;
  /** Receive errors, e.g. ENETDOWN when the link goes away. The socket stays open. */
  onError: (err: SystemError) => void;
  /**
   * Read on a native thread that answers ARP requests and Neighbor Solicitations for the
   * addresses set with setArpAnswers() / setNdpAnswers() itself (see src/packet_socket.cc);
   * every other frame still reaches onFrame, on the loop. Off by default.
   */
  answerThread?: boolean;
}

/** One classic BPF instruction (struct sock_filter, linux/filter.h). */
export interface BpfInstruction {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/** Packs instructions as struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; } in host order. */
export function encodeBpfProgram(program: readonly BpfInstruction[]): Buffer {
  const out = Buffer.alloc(program.length * 8);
  const le = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  program.forEach((ins, i) => {
    if (le) {
      out.writeUInt16LE(ins.code, i * 8);
      out.writeUInt32LE(ins.k >>> 0, i * 8 + 4);
    } else {
      out.writeUInt16BE(ins.code, i * 8);
      out.writeUInt32BE(ins.k >>> 0, i * 8 + 4);
    }
    out.writeUInt8(ins.jt, i * 8 + 2);
    out.writeUInt8(ins.jf, i * 8 + 3);
  });
  return out;
}

// BPF opcodes used below (linux/bpf_common.h).
const BPF_LD_H_ABS = 0x28; // ldh [k]
const BPF_LD_B_ABS = 0x30; // ldb [k]
const BPF_JEQ_K = 0x15; // jeq #k, jt, jf
const BPF_RET_K = 0x06; // ret #k

/**
 * Accepts untagged IPv6 frames carrying ICMPv6 Neighbor Solicitations and Advertisements
 * (RFC 4861 §4.3/§4.4) directly after the fixed header, and drops everything else: frame
 * bytes 12-13 EtherType 0x86dd, byte 20 Next Header 58, byte 54 ICMPv6 type 135 or 136.
 * NDP messages with extension headers are dropped too; RFC 6980 forbids fragmenting them.
 */
export const NDP_FILTER: readonly BpfInstruction[] = [
  { code: BPF_LD_H_ABS, jt: 0, jf: 0, k: 12 },
  { code: BPF_JEQ_K, jt: 0, jf: 6, k: ETH_P_IPV6 },
  { code: BPF_LD_B_ABS, jt: 0, jf: 0, k: 20 },
  { code: BPF_JEQ_K, jt: 0, jf: 4, k: 58 },
  { code: BPF_LD_B_ABS, jt: 0, jf: 0, k: 54 },
  { code: BPF_JEQ_K, jt: 1, jf: 0, k: 135 },
  { code: BPF_JEQ_K, jt: 0, jf: 1, k: 136 },
  { code: BPF_RET_K, jt: 0, jf: 0, k: 0xffff },
  { code: BPF_RET_K, jt: 0, jf: 0, k: 0 },
];

/**
 * An AF_PACKET socket on one interface for one EtherType, read on the Node event loop. It
 * keeps the process alive until close(), and stays open even if no JS reference remains.
 */
export class PacketSocket {
  readonly ifindex: number;
  /** The interface's MAC ("02:00:00:00:0b:01"), read from the bound socket. */
  readonly hardwareAddress: string;
  readonly #socket: NativePacketSocket;

  private constructor(ifindex: number, socket: NativePacketSocket) {
    this.ifindex = ifindex;
    this.#socket = socket;
    this.hardwareAddress = Array.from(socket.hardwareAddress, (b) => b.toString(16).padStart(2, '0')).join(
      ':',
    );
  }

  static open(options: PacketSocketOptions): PacketSocket {
    const ifindex =
      typeof options.interface === 'number' ? options.interface : interfaceIndex(options.interface);
    const { PacketSocket: Native } = native();
    return new PacketSocket(
      ifindex,
      new Native(ifindex, options.etherType, options.onFrame, options.onError, options.answerThread ?? false),
    );
  }

  get closed(): boolean {
    return this.#socket.closed;
  }

  /** Sends one whole Ethernet frame; returns the bytes sent. */
  send(frame: Buffer): number {
    return this.#socket.send(frame);
  }

  /** Joins a link-layer multicast group, e.g. a solicited-node MAC 33:33:ff:xx:xx:xx. */
  addMembership(mac: string): void {
    const bytes = Buffer.from(mac.replace(/[:-]/g, ''), 'hex');
    if (bytes.length !== 6) throw new TypeError(`addMembership: "${mac}" is not a MAC address`);
    this.#socket.addMembership(bytes);
  }

  /**
   * Attaches a classic BPF program (SO_ATTACH_FILTER): the kernel then queues only the frames
   * it accepts. Frames queued before the call may still arrive, so callers keep checking.
   */
  attachFilter(program: readonly BpfInstruction[]): void {
    this.#socket.attachFilter(encodeBpfProgram(program));
  }

  /**
   * Answer-thread sockets only: from now on the thread answers ARP requests (RFC 826) for
   * `ips` (IPv4 values, big-endian read as numbers) from `mac` (6 bytes), exactly when
   * decideArpBytes() would, replacing the previous set; an empty set answers nothing.
   */
  setArpAnswers(mac: Buffer, ips: Iterable<number>): void {
    this.#socket.setArpAnswers(mac, Uint32Array.from(ips));
  }

  /** Replies the answer thread sent since the last call, per IPv4 value. */
  takeArpAnswered(): Map<number, number> {
    const flat = this.#socket.takeArpAnswered();
    const out = new Map<number, number>();
    for (let i = 0; i + 1 < flat.length; i += 2) out.set(flat[i] ?? 0, flat[i + 1] ?? 0);
    return out;
  }

  /**
   * Answer-thread sockets only: from now on the thread answers Neighbor Solicitations
   * (RFC 4861 §7.2.4) for `targets` (16-byte IPv6 addresses, packed) from `mac` (6 bytes),
   * exactly when decideNdpBytes() would, replacing the previous set; empty answers nothing.
   */
  setNdpAnswers(mac: Buffer, targets: Buffer): void {
    this.#socket.setNdpAnswers(mac, targets);
  }

  /** NAs the answer thread sent since the last call, per target as its 16 bytes in latin1. */
  takeNdpAnswered(): Map<string, number> {
    const flat = this.#socket.takeNdpAnswered();
    const out = new Map<string, number>();
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const target = flat[i];
      const count = flat[i + 1];
      // Not Buffer.isBuffer: the addon's Buffers may come from another realm (Jest's VM contexts).
      if (typeof target === 'object' && typeof count === 'number')
        out.set(Buffer.from(target.buffer, target.byteOffset, target.byteLength).toString('latin1'), count);
    }
    return out;
  }

  /**
   * Answer-thread sockets: answer only while CLOCK_MONOTONIC is before `deadlineMs`
   * (milliseconds on the clock process.hrtime reads); undefined removes the fence. Past the
   * deadline the thread sends nothing and counts the requests as fenced.
   */
  setAnswerDeadline(deadlineMs: number | undefined): void {
    if (deadlineMs === undefined) this.#socket.setAnswerDeadline();
    else this.#socket.setAnswerDeadline(deadlineMs);
  }

  /**
   * Answer-thread sockets: read the deadline from now on from element 0 of `cell` (a
   * Float64Array, normally over a SharedArrayBuffer a worker thread writes): CLOCK_MONOTONIC
   * ms, NaN or -Infinity fenced, +Infinity no fence. undefined: back to setAnswerDeadline's.
   */
  setAnswerDeadlineCell(cell: Float64Array | undefined): void {
    if (cell === undefined) this.#socket.setAnswerDeadlineCell();
    else this.#socket.setAnswerDeadlineCell(cell);
  }

  /** What the answer thread dropped since the last call, by reason, and what the kernel dropped. */
  takeDropped(): NativeDropped {
    return this.#socket.takeDropped();
  }

  /**
   * Answer-thread sockets: at most `framesPerSecond` frames (and `burst` at once) are handed
   * to the loop; the rest are dropped and counted as overload. Default 2,000/s, burst 512.
   */
  setLoopBudget(framesPerSecond: number, burst: number): void {
    this.#socket.setLoopBudget(framesPerSecond, burst);
  }

  /** Stops reading and closes the socket. Safe to call more than once. */
  close(): void {
    this.#socket.close();
  }
}

function md5Key(key: string | Buffer): Buffer {
  const bytes = typeof key === 'string' ? Buffer.from(key, 'utf8') : key;
  // RFC 2385 sets no limit, Linux does: TCP_MD5SIG_MAXKEYLEN.
  if (bytes.length > 80)
    throw new RangeError(`TCP MD5 key of ${bytes.length} bytes; Linux accepts at most 80`);
  return bytes;
}

/**
 * Sets (or, with an empty key, removes) the RFC 2385 key for one peer on a socket, typically
 * the BGP listener, so that the peer's SYN is accepted. An IPv4 peer on an IPv6 listener is
 * handled (the key is set for its v4-mapped address).
 */
export function setTcpMd5(fd: number, peer: string, key: string | Buffer): void {
  native().setTcpMd5(fd, peer, md5Key(key));
}

/** The fd of a listening net.Server (Node keeps it on the undocumented `_handle`). */
export function serverFd(server: net.Server): number {
  const handle = (server as unknown as { _handle?: { fd?: unknown } })._handle;
  if (!handle || typeof handle.fd !== 'number' || handle.fd < 0) {
    throw new Error('serverFd: the server is not listening on a TCP socket');
  }
  return handle.fd;
}

export interface TcpMd5ConnectOptions {
  peer: string;
  port: number;
  /** Empty for no signature. */
  key: string | Buffer;
  /** Source address to bind before connecting (must be of the peer's family). */
  localAddress?: string;
  /** IP TTL / IPv6 hop limit of the session, for ebgpMultiHop. */
  ttl?: number;
  /** Give up after this long; a wrong or missing key makes the peer drop our SYNs silently. */
  timeoutMs: number;
}

/**
 * Opens a TCP connection whose segments carry the RFC 2385 MD5 option. The key must be set
 * before the SYN, which net.connect() cannot do; the addon creates and connects the socket,
 * then net.Socket adopts the fd once the handshake is done. Rejects with ETIMEDOUT,
 * ECONNREFUSED, EHOSTUNREACH, ... (err.code).
 */
export async function connectTcpMd5(options: TcpMd5ConnectOptions): Promise<net.Socket> {
  const addon = native();
  const fd = addon.connectTcpMd5(
    options.peer,
    options.port,
    md5Key(options.key),
    options.localAddress,
    options.ttl,
  );
  return new Promise((resolve, reject) => {
    addon.awaitConnect(fd, options.timeoutMs, (err) => {
      if (err) {
        closeSync(fd);
        err.message += ` (${options.peer}:${options.port})`;
        reject(err);
        return;
      }
      resolve(new net.Socket({ fd, readable: true, writable: true }));
    });
  });
}

export interface UdpTtlSocketOptions {
  family: 4 | 6;
  /** Address to bind ('0.0.0.0' / '::' for all). */
  address: string;
  /** 0 for an ephemeral port. */
  port: number;
  /** IP TTL / IPv6 hop limit of every datagram sent. */
  ttl: number;
  /** Each datagram with its source and the TTL / hop limit it arrived with (-1 if unknown). */
  onMessage: (data: Buffer, address: string, port: number, ttl: number) => void;
  onError: (err: SystemError) => void;
}

/**
 * A UDP socket that reports each datagram's received TTL / hop limit (IP_RECVTTL,
 * IPV6_RECVHOPLIMIT): BFD single-hop (RFC 5881 §5) must discard packets that did not arrive
 * with TTL 255, and Node's dgram cannot tell. IPv6 sockets are V6ONLY. Sending is
 * synchronous (sendto on a non-blocking socket) and throws system errors such as ENETUNREACH.
 */
export class UdpTtlSocket {
  readonly #socket: NativeUdpTtlSocket;

  private constructor(socket: NativeUdpTtlSocket) {
    this.#socket = socket;
  }

  static open(o: UdpTtlSocketOptions): UdpTtlSocket {
    const { UdpTtlSocket: Native } = native();
    return new UdpTtlSocket(new Native(o.family, o.address, o.port, o.ttl, o.onMessage, o.onError));
  }

  /** The bound port. */
  get port(): number {
    return this.#socket.port;
  }

  send(data: Buffer, address: string, port: number): number {
    return this.#socket.send(data, address, port);
  }

  /**
   * Hands `data` to the native sender thread, which sends it to address:port every
   * `intervalUs` less a random 0-25% (10-25% with `detectMultOne`), RFC 5880 §6.8.7, until
   * the next setPeriodic, clearPeriodic or close, and only while the lease holds: until
   * `leaseMs` from this call or the last renewPeriodicLease. The caller renews it while its
   * own thread runs, so a thread stuck for longer stops the packets and the peer sees the
   * failure. The first packet goes at once; a new call replaces the packet and keeps the
   * schedule (a shorter interval may bring it forward).
   */
  setPeriodic(p: PeriodicPacket): void {
    this.#socket.setPeriodic(p.data, p.address, p.port, p.intervalUs, p.detectMultOne, p.leaseMs);
  }

  clearPeriodic(): void {
    this.#socket.clearPeriodic();
  }

  /** The periodic packet keeps going until `ms` from now. */
  renewPeriodicLease(ms: number): void {
    this.#socket.renewPeriodicLease(ms);
  }

  periodicStats(): PeriodicStats {
    return this.#socket.periodicStats();
  }

  /** Safe to call more than once. */
  close(): void {
    this.#socket.close();
  }
}
