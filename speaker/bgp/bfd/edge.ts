// The I/O edge of BFD: UDP sockets per RFC 5881 and one timer, around the pure session table
// (sessions.ts). Control packets are received on port 3784 (§4) on one IPv4 and one IPv6
// socket, and each session sends from its own source port in 49152-65535, the same for the
// session's lifetime (§4), with TTL / hop limit 255 (§5). The received TTL is read through
// the native UdpTtlSocket, since Node's dgram cannot report it.

import { randomInt } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { isSystemError, UdpTtlSocket, type SystemError } from '../../native/index.js';
import {
  BfdSessions,
  canonicalAddress,
  type BfdPeerProfile,
  type BfdPeerStats,
  type BfdReceiveResult,
  type BfdStateChange,
  type EncodedPeriodic,
} from './sessions.js';

/** RFC 5881 §4: single-hop Control packets go to this port. */
export const BFD_CONTROL_PORT = 3784;
const SOURCE_PORT_MIN = 49152;
const SOURCE_PORT_MAX = 65535;
const TTL = 255;

export interface BfdManagerOptions {
  /** Where to listen; default 0.0.0.0 and ::. Pass [] for a family to skip it. */
  readonly listen?: { readonly v4?: string[]; readonly v6?: string[] };
  /** Destination / listening port; default 3784 (only tests change it). */
  readonly port?: number;
  /** Monotonic clock in ms; default performance.now. */
  readonly clock?: () => number;
  readonly random?: () => number;
  /** Debug hook: every received datagram and what became of it. */
  readonly onReceive?: (source: string, ttl: number, result: BfdReceiveResult) => void;
  /** Socket errors that do not stop the manager (a send to an unreachable peer, ...). */
  readonly onError?: (err: Error, peer?: string) => void;
  /**
   * The native sender refused a session's periodic packet (its thread could not start): the
   * session is silent and its peer will declare it down. Default: onError.
   */
  readonly onSenderError?: (err: Error, peer: string) => void;
  /**
   * How long the native sender keeps sending if this thread stops renewing (default 5 s):
   * far above the longest stall measured (~1 s), short enough that a stuck thread does not
   * hide a failure from the peers for long.
   */
  readonly senderLeaseMs?: number;
}

const defaultSenderLeaseMs = 5000;

export interface BfdManagerEvents {
  /** Every transition of every session. */
  state: [BfdStateChange];
  /** A session reached Up. */
  up: [BfdStateChange];
  /**
   * A session left Up. `remoteAdminDown` tells a peer that was shut down administratively
   * from a failure: RFC 5882 §3.2 asks clients not to tear down on the former.
   */
  down: [BfdStateChange];
}

/**
 * Single-hop BFD sessions of one speaker, keyed by peer address. The BGP speaker adds a
 * session per BGP peer with a BFDProfile and tears its BGP session down on 'down'.
 */
export class BfdManager extends EventEmitter<BfdManagerEvents> {
  readonly #sessions: BfdSessions;
  readonly #listeners: UdpTtlSocket[] = [];
  readonly #senders = new Map<string, UdpTtlSocket>();
  readonly #clock: () => number;
  readonly #port: number;
  readonly #opts: BfdManagerOptions;
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Infinity;
  #lease: NodeJS.Timeout | undefined;
  readonly #leaseMs: number;
  #closed = false;

  private constructor(opts: BfdManagerOptions) {
    super();
    this.#opts = opts;
    this.#clock = opts.clock ?? (() => performance.now());
    this.#port = opts.port ?? BFD_CONTROL_PORT;
    this.#leaseMs = opts.senderLeaseMs ?? defaultSenderLeaseMs;
    this.#sessions = new BfdSessions({
      send: (peer, _local, data) => this.#send(peer, data),
      // The periodic packets go from a native thread that JavaScript cannot delay (a garbage
      // collection held this thread for 100 ms to 1 s beside a CPU hog): the sessions here
      // decide what it sends, it decides when (src/periodic_sender.cc).
      setPeriodic: (peer, p) => this.#setPeriodic(peer, p),
      onStateChange: (c) => {
        this.emit('state', c);
        if (c.to === 'Up') this.emit('up', c);
        else if (c.from === 'Up') this.emit('down', c);
      },
      random: opts.random ?? Math.random,
      newDiscriminator: () => randomInt(1, 0xffffffff),
    });
  }

  /** Opens the listening sockets. Throws (EADDRINUSE, EACCES, ...) if one cannot be bound. */
  static start(opts: BfdManagerOptions = {}): BfdManager {
    const m = new BfdManager(opts);
    try {
      for (const address of opts.listen?.v4 ?? ['0.0.0.0']) m.#listen(4, address);
      for (const address of opts.listen?.v6 ?? ['::']) m.#listen(6, address);
    } catch (err) {
      m.close();
      throw err;
    }
    // The native sender sends only while this thread keeps renewing each session's lease.
    m.#lease = setInterval(
      () => {
        for (const socket of m.#senders.values()) socket.renewPeriodicLease(m.#leaseMs);
      },
      Math.max(10, m.#leaseMs / 5),
    );
    m.#lease.unref();
    return m;
  }

  #listen(family: 4 | 6, address: string): void {
    this.#listeners.push(
      UdpTtlSocket.open({
        family,
        address,
        port: this.#port,
        ttl: TTL,
        onMessage: (data, source, _port, ttl) => {
          const now = this.#clock();
          const result = this.#sessions.receive(data, source, ttl, now);
          this.#opts.onReceive?.(source, ttl, result);
          this.#arm();
        },
        onError: (err) => this.#opts.onError?.(err),
      }),
    );
  }

  /**
   * Starts a session with `peer` from `localAddress` (the address BGP uses to reach it).
   * The session's socket is bound to that address and a source port in 49152-65535.
   */
  add(peer: string, localAddress: string, profile: BfdPeerProfile): void {
    if (this.#closed) throw new Error('BfdManager is closed');
    const p = canonicalAddress(peer);
    const local = canonicalAddress(localAddress);
    if (this.#sessions.has(p)) throw new Error(`BFD peer ${p}: a session already exists`);
    const socket = this.#openSender(local.includes(':') ? 6 : 4, local);
    this.#senders.set(p, socket);
    try {
      this.#sessions.add(p, local, profile, this.#clock());
    } catch (err) {
      socket.close();
      this.#senders.delete(p);
      throw err;
    }
    this.#arm();
  }

  /** Changes a session's timers (negotiated with the peer by a Poll Sequence if Up). */
  update(peer: string, profile: BfdPeerProfile): void {
    this.#sessions.update(peer, profile, this.#clock());
    this.#arm();
  }

  /** Ends a session, telling the peer AdminDown first. No 'down' event is emitted. */
  remove(peer: string): void {
    const p = canonicalAddress(peer);
    if (!this.#sessions.has(p)) return;
    this.#sessions.remove(p, this.#clock());
    this.#senders.get(p)?.close();
    this.#senders.delete(p);
    this.#arm();
  }

  has(peer: string): boolean {
    return this.#sessions.has(peer);
  }

  isUp(peer: string): boolean {
    return this.#sessions.isUp(peer);
  }

  /**
   * Per-session state and counters, for metrics (metallb_bfd_* equivalents); packets out and
   * send errors include the native sender's.
   */
  stats(): BfdPeerStats[] {
    return this.#sessions.stats().map((s) => {
      const native = this.#senders.get(s.peer)?.periodicStats();
      return native
        ? { ...s, packetsOut: s.packetsOut + native.sent, sendErrors: s.sendErrors + native.errors }
        : s;
    });
  }

  /** Datagrams that matched no session, by reason. */
  discarded(): ReadonlyMap<string, number> {
    return this.#sessions.discarded;
  }

  /**
   * Closes every session and socket. By default peers are told AdminDown first, so their
   * BGP stays up until its own timers decide (RFC 5882 §3.2); with `adminDown: false` the
   * sessions just stop and peers detect a failure, as they would after a crash.
   */
  close(opts: { adminDown?: boolean } = {}): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const peer of [...this.#senders.keys()]) {
      if (opts.adminDown === false) this.#senders.get(peer)?.close();
      else this.remove(peer);
    }
    this.#senders.clear();
    for (const s of this.#listeners) s.close();
    this.#listeners.length = 0;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#lease) clearInterval(this.#lease);
    this.#lease = undefined;
  }

  #openSender(family: 4 | 6, local: string): UdpTtlSocket {
    // RFC 5881 §4: the source port MUST be in 49152-65535; start at a random one so that
    // restarts do not reuse the previous session's port, and skip ports in use.
    const span = SOURCE_PORT_MAX - SOURCE_PORT_MIN + 1;
    const start = randomInt(0, span);
    let lastErr: unknown;
    for (let i = 0; i < 64; i++) {
      const port = SOURCE_PORT_MIN + ((start + i) % span);
      try {
        return UdpTtlSocket.open({
          family,
          address: local,
          port,
          ttl: TTL,
          // Nothing is expected on the source port; read and drop so the queue never fills.
          onMessage: () => undefined,
          onError: (err) => this.#opts.onError?.(err),
        });
      } catch (err) {
        if (!(isSystemError(err) && err.code === 'EADDRINUSE')) throw err;
        lastErr = err;
      }
    }
    throw lastErr as SystemError;
  }

  #setPeriodic(peer: string, p: EncodedPeriodic | undefined): void {
    const socket = this.#senders.get(peer);
    if (!socket) return;
    try {
      if (p) socket.setPeriodic({ ...p, address: peer, port: this.#port, leaseMs: this.#leaseMs });
      else socket.clearPeriodic();
    } catch (err) {
      this.#sessions.sendFailed(peer);
      (this.#opts.onSenderError ?? this.#opts.onError)?.(err as Error, peer);
    }
  }

  #send(peer: string, data: Buffer): void {
    const socket = this.#senders.get(peer);
    if (!socket) return;
    try {
      socket.send(data, peer, this.#port);
    } catch (err) {
      // A lost packet is what BFD is built to tolerate: count it, let detection decide.
      this.#sessions.sendFailed(peer);
      this.#opts.onError?.(err as Error, peer);
    }
  }

  /** (Re)arms the single timer at the earliest session deadline. */
  #arm(): void {
    if (this.#closed) return;
    const at = this.#sessions.nextDeadline();
    if (at === this.#timerAt && this.#timer) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = at;
    if (at === Infinity) return;
    this.#timer = setTimeout(
      () => {
        // Node runs due timers before it reads sockets: after the loop was held (a busy CPU),
        // packets that arrived in time may still be unread, and detection (RFC 5880 §6.8.4)
        // would declare a live session down. The tick runs after the poll phase instead
        // (setImmediate), so those packets count first; transmission waits only that long.
        this.#timer = undefined;
        this.#timerAt = Infinity;
        setImmediate(() => {
          if (this.#closed) return;
          this.#sessions.tick(this.#clock());
          this.#arm();
        });
      },
      Math.max(0, Math.ceil(at - this.#clock())),
    );
  }
}
