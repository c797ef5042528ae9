// The edge that runs one BGP session's FSM (fsm/) over real TCP: sockets (with TCP-MD5 via the
// native addon when a password is set), the framer, setTimeout for the FSM's deadlines, and the
// Adj-RIB-Out. Messages the FSM sends (OPEN, KEEPALIVE, NOTIFICATION) jump ahead of queued
// UPDATEs, and UPDATEs are written in bounded chunks with a yield to the event loop between
// them, so a large table never starves KEEPALIVEs (and the peer's hold timer).

import net from 'node:net';
import { connectTcpMd5, serverFd, setTcpMd5 } from '../../native/index.js';
import { decodeMessage } from '../wire/decode.js';
import { encodeMessage } from '../wire/encode.js';
import { endOfRib } from '../wire/end-of-rib.js';
import { BgpDecodeError } from '../wire/errors.js';
import { BgpFramer } from '../wire/framer.js';
import { BgpFsm } from '../fsm/fsm.js';
import { eventFromDecode } from '../fsm/decode-event.js';
import type { ConnId, FsmAction, FsmConfig, FsmEvent, State, TimerName } from '../fsm/types.js';
import { MAX_MESSAGE_SIZE } from '../wire/constants.js';
import { CeaseSubcode } from '../wire/notification-codes.js';
import type { Capability, CodecContext } from '../wire/messages.js';
import { notification } from '../wire/messages.js';
import { packAnnouncements, packWithdrawals } from '../wire/pack.js';
import type { AddressFamily } from '../wire/prefix.js';
import { AdjRibOut } from './speaker-rib.js';
import type { Announcement, RibSession } from './speaker-rib.js';

export interface PeerOptions extends Omit<FsmConfig, 'capabilities'> {
  /** The peer's address (IPv4 or IPv6). */
  peerAddress: string;
  port?: number;
  /** Our source address for outgoing connections. */
  localAddress?: string;
  /** TCP-MD5 key (RFC 2385). */
  password?: string;
  /** IP TTL for outgoing connections (eBGP multihop). */
  ttl?: number;
  /** Families to announce (multiprotocol capabilities, RFC 4760); default the peer address's. */
  families?: AddressFamily[];
  /** Next hops instead of the session's local address (required for the other family's routes). */
  nextHop4?: string;
  nextHop6?: string;
  linkLocal6?: string;
  /** Advertise the Graceful Restart capability (RFC 4724 §3) for every family, with the F bit
   * set: a speaker's forwarding is the node's (kube-proxy), which outlives the speaker.
   * `restarted`: set the Restart State bit in our OPENs until the session is first Established
   * (RFC 4724 §4.1); reconnects after that send R = 0. */
  gracefulRestart?: { restartTime: number; restarted?: boolean };
  /** Octets of UPDATEs written per event-loop turn; default 16 KiB. */
  chunkBytes?: number;
  /** Structured log lines (one object each). */
  log?: (line: Record<string, unknown>) => void;
}

export type PeerEvent =
  | { type: 'state'; from: State; to: State; reason: string }
  | {
      type: 'established';
      holdTime: number;
      peerId: string;
      /** The peer advertised Graceful Restart (RFC 4724 §3): it keeps our routes when we drop. */
      peerGracefulRestart: boolean;
    }
  | { type: 'down'; reason: string }
  /** The initial table and End-of-RIB are written. */
  | { type: 'synced'; prefixes: number }
  /** One BGP message handed to the socket, or one decoded from it (for counters). */
  | { type: 'message'; direction: 'sent' | 'received'; kind: MessageKind }
  /** A received UPDATE with an RFC 7606 error the session survives. */
  | { type: 'malformed-update'; action: 'treat-as-withdraw' | 'attribute-discard' };

export type MessageKind = 'open' | 'update' | 'notification' | 'keepalive' | 'route-refresh';

interface Io {
  id: ConnId;
  socket: net.Socket | undefined;
  framer: BgpFramer;
  ctx: CodecContext;
  urgent: Buffer[];
  bulk: Buffer[];
  bulkBytes: number;
  blocked: boolean;
  scheduled: boolean;
  closing: boolean;
  /** Resolvers waiting for the bulk queue to drain below the high-water mark. */
  drained: Array<() => void>;
}

const HIGH_WATER = 256 * 1024;
const isMapped = (a: string | undefined): string | undefined =>
  a?.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1');

export class PeerSession {
  readonly fsm: BgpFsm;
  readonly rib = new AdjRibOut();
  private readonly conns = new Map<ConnId, Io>();
  private readonly timers = new Map<TimerName, NodeJS.Timeout>();
  private readonly listeners: Array<(e: PeerEvent) => void> = [];
  private session: { conn: ConnId; rib: RibSession; ctx: CodecContext; eorSent: boolean } | undefined;
  private syncing = false;
  private dirty = false;
  private readonly families: AddressFamily[];
  private readonly chunkBytes: number;

  constructor(private readonly opts: PeerOptions) {
    this.families = opts.families ?? [opts.peerAddress.includes(':') ? 6 : 4];
    this.chunkBytes = opts.chunkBytes ?? 16 * 1024;
    const capabilities: Capability[] = this.families.map((f) => ({
      kind: 'multiprotocol' as const,
      afi: f === 4 ? 1 : 2,
      safi: 1,
    }));
    if (opts.gracefulRestart)
      capabilities.push({
        kind: 'graceful-restart',
        restarting: opts.gracefulRestart.restarted ?? false,
        notification: false,
        restartTime: opts.gracefulRestart.restartTime,
        families: this.families.map((f) => ({ afi: f === 4 ? 1 : 2, safi: 1, forwardingState: true })),
      });
    this.fsm = new BgpFsm({ ...opts, capabilities });
  }

  get state(): State {
    return this.fsm.state;
  }

  get address(): string {
    return this.opts.peerAddress;
  }

  get password(): string | undefined {
    return this.opts.password;
  }

  on(listener: (e: PeerEvent) => void): void {
    this.listeners.push(listener);
  }

  start(): void {
    this.step({ type: 'ManualStart' });
  }

  /** Cease / Administrative Shutdown (or `subcode`), then resolves once the sockets are closed. */
  async stop(subcode?: number): Promise<void> {
    const sockets = [...this.conns.values()].flatMap((io) => (io.socket ? [io.socket] : []));
    this.step({ type: 'ManualStop', ...(subcode !== undefined ? { subcode } : {}) });
    this.clearTimers();
    await closed(sockets);
  }

  /**
   * Resolves once what announce() asked for is written to the socket, or at once when the
   * session is not Established (there is nothing to send then); gives up after `timeoutMs`.
   * A graceful shutdown announces [] and waits here before stop(), so the peer sees the
   * withdrawals before the Cease.
   */
  async flushed(timeoutMs = 2000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const io = this.session && this.conns.get(this.session.conn);
      if (!io || io.closing) return;
      if (!this.syncing && !this.dirty && io.bulk.length === 0 && io.urgent.length === 0) return;
      if (Date.now() >= deadline) return;
      await new Promise<void>((r) => setTimeout(r, 5));
    }
  }

  /**
   * Closes every connection without a NOTIFICATION and stops all timers: to a peer that
   * negotiated Graceful Restart this looks like a restarting speaker (RFC 4724 §4.2), so it
   * keeps our routes as stale for the Restart Time instead of withdrawing them. The object is
   * dead afterwards.
   */
  async abandon(): Promise<void> {
    this.clearTimers();
    const sockets: net.Socket[] = [];
    for (const io of this.conns.values()) {
      io.closing = true;
      io.bulk = [];
      io.bulkBytes = 0;
      for (const r of io.drained.splice(0)) r();
      if (io.socket) sockets.push(io.socket);
    }
    this.conns.clear();
    this.session = undefined;
    this.log({ event: 'abandoned' });
    await closed(sockets, { end: true });
  }

  private clearTimers(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  /**
   * Closes the session now (Cease with `subcode`, default Administrative Reset) and lets the
   * FSM connect again after its retry delay: for a failure someone else detected (BFD).
   */
  reset(subcode: number = CeaseSubcode.ADMINISTRATIVE_RESET): void {
    this.step({ type: 'ManualStop', subcode, restart: true });
  }

  /** The desired routes for this peer; what changed is sent once the session is Established. */
  announce(routes: readonly Announcement[]): void {
    this.rib.setDesired(routes);
    this.scheduleSync();
  }

  /** Changes some prefixes of the desired routes (undefined: withdraw); see AdjRibOut.update. */
  change(changes: Iterable<readonly [prefix: string, route: Announcement | undefined]>): void {
    try {
      this.rib.update(changes);
    } finally {
      this.scheduleSync();
    }
  }

  /** An incoming connection from this peer's address (see BgpListener). */
  accept(socket: net.Socket): void {
    const id = this.fsm.connectionId();
    this.attach(id, socket);
    this.step({ type: 'TcpConnectionConfirmed', conn: id });
  }

  // ---- FSM plumbing ----

  private emit(e: PeerEvent): void {
    for (const l of this.listeners) l(e);
  }

  private log(line: Record<string, unknown>): void {
    this.opts.log?.({ peer: this.opts.peerAddress, ...line });
  }

  private step(ev: FsmEvent): void {
    const actions = this.fsm.step(ev, Date.now());
    for (const a of actions) this.apply(a);
  }

  private apply(a: FsmAction): void {
    switch (a.type) {
      case 'connect':
        return this.connect(a.conn, a.timeoutMs);
      case 'send': {
        const io = this.conns.get(a.conn);
        if (!io) return;
        io.urgent.push(encodeMessage(a.message, io.ctx));
        this.emit({ type: 'message', direction: 'sent', kind: a.message.type });
        if (a.message.type === 'notification')
          this.log({ event: 'notification-sent', code: a.message.code, subcode: a.message.subcode });
        return this.pump(io);
      }
      case 'close':
        return this.closeConn(a.conn);
      case 'timer': {
        const old = this.timers.get(a.timer);
        if (old) clearTimeout(old);
        this.timers.delete(a.timer);
        if (a.at === undefined) return;
        const ev = { type: `${a.timer}_Expires` } as FsmEvent;
        const expire = (): void => {
          if (this.timers.get(a.timer) !== handle) return;
          this.timers.delete(a.timer);
          this.step(ev);
        };
        const handle = setTimeout(
          () => {
            if (a.timer !== 'HoldTimer') return expire();
            // RFC 4271 §6.5: the hold timer expires when nothing was received for HoldTime. After
            // the event loop was held (bulk work, a busy CPU), Node runs due timers before it
            // reads sockets, so a KEEPALIVE that arrived in time may still be unread: decide
            // after the poll phase (setImmediate), where such a message re-arms the timer.
            setImmediate(expire);
          },
          Math.max(0, a.at - Date.now()),
        );
        this.timers.set(a.timer, handle);
        return;
      }
      case 'state':
        this.log({ event: 'state', from: a.from, to: a.to, reason: a.reason });
        return this.emit(a);
      case 'established': {
        const io = this.conns.get(a.conn);
        if (!io?.socket) return;
        io.ctx = a.negotiated.context;
        io.framer.setMaxMessageSize(io.ctx.maxMessageSize);
        const local = isMapped(io.socket.localAddress);
        const families = a.negotiated.families.flatMap((f) =>
          f.safi === 1 && (f.afi === 1 || f.afi === 2) ? [f.afi === 1 ? (4 as const) : (6 as const)] : [],
        );
        const v6 = local?.includes(':') ?? false;
        // Next hop self (RFC 4271 §5.1.3): our address on the session, unless configured.
        const nextHop4 = this.opts.nextHop4 ?? (v6 ? undefined : local);
        const nextHop6 = this.opts.nextHop6 ?? (v6 ? local : undefined);
        this.session = {
          conn: a.conn,
          ctx: io.ctx,
          eorSent: false,
          rib: {
            localAsn: this.opts.localAsn,
            external: a.negotiated.context.external ?? true,
            families,
            ...(nextHop4 ? { nextHop4 } : {}),
            ...(nextHop6 ? { nextHop6 } : {}),
            ...(this.opts.linkLocal6 ? { linkLocal6: this.opts.linkLocal6 } : {}),
          },
        };
        this.emit({
          type: 'established',
          holdTime: a.negotiated.holdTime,
          peerId: a.peerOpen.bgpId,
          peerGracefulRestart: a.peerOpen.capabilities.some((c) => c.kind === 'graceful-restart'),
        });
        this.scheduleSync();
        return;
      }
      case 'down':
        this.session = undefined;
        this.rib.reset();
        this.log({ event: 'down', reason: a.reason });
        return this.emit({ type: 'down', reason: a.reason });
    }
  }

  // ---- sockets ----

  private newIo(id: ConnId, socket: net.Socket | undefined): Io {
    return {
      id,
      socket,
      framer: new BgpFramer(),
      ctx: { fourOctetAs: false, maxMessageSize: MAX_MESSAGE_SIZE },
      urgent: [],
      bulk: [],
      bulkBytes: 0,
      blocked: false,
      scheduled: false,
      closing: false,
      drained: [],
    };
  }

  private connect(id: ConnId, timeoutMs: number): void {
    const io = this.newIo(id, undefined);
    this.conns.set(id, io);
    const port = this.opts.port ?? 179;
    const done = (err: Error | undefined, socket?: net.Socket): void => {
      if (this.conns.get(id) !== io || io.closing) {
        socket?.destroy();
        return;
      }
      if (err || !socket) {
        this.conns.delete(id);
        this.step({ type: 'TcpConnectionFails', conn: id, reason: err?.message ?? 'no socket' });
        return;
      }
      this.attach(id, socket, io);
      this.step({ type: 'Tcp_CR_Acked', conn: id });
    };
    // The native connect also sets the TTL before the SYN (ebgpMultiHop): net.Socket has no way
    // to set it at all. An empty key means no MD5.
    if (this.opts.password !== undefined || this.opts.ttl !== undefined) {
      connectTcpMd5({
        peer: this.opts.peerAddress,
        port,
        key: this.opts.password ?? '',
        timeoutMs,
        ...(this.opts.localAddress ? { localAddress: this.opts.localAddress } : {}),
        ...(this.opts.ttl ? { ttl: this.opts.ttl } : {}),
      }).then(
        (s) => done(undefined, s),
        (e: Error) => done(e),
      );
      return;
    }
    const s = net.connect({
      host: this.opts.peerAddress,
      port,
      ...(this.opts.localAddress ? { localAddress: this.opts.localAddress } : {}),
    });
    const timer = setTimeout(() => {
      s.destroy();
      done(new Error(`connect timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(timer);
      s.removeAllListeners('error');
      done(undefined, s);
    });
    s.once('error', (e) => {
      clearTimeout(timer);
      done(e);
    });
  }

  private attach(id: ConnId, socket: net.Socket, existing?: Io): void {
    const io = existing ?? this.newIo(id, socket);
    io.socket = socket;
    this.conns.set(id, io);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(io, chunk));
    socket.on('drain', () => {
      io.blocked = false;
      this.pump(io);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      for (const r of io.drained.splice(0)) r();
      if (this.conns.get(id) !== io) return;
      this.conns.delete(id);
      if (!io.closing)
        this.step({ type: 'TcpConnectionFails', conn: id, reason: 'connection closed by peer' });
    });
  }

  private onData(io: Io, chunk: Buffer): void {
    let frames: Buffer[];
    try {
      frames = io.framer.push(chunk);
    } catch (e) {
      if (!(e instanceof BgpDecodeError)) throw e;
      if (!io.closing)
        this.step({
          type: 'BGPHeaderErr',
          conn: io.id,
          notification: notification(e.code, e.subcode, e.data),
          reason: e.message,
        });
      return;
    }
    for (const frame of frames) {
      if (io.closing || this.conns.get(io.id) !== io) return;
      const result = decodeMessage(frame, io.ctx);
      if (result.action === 'session-reset') this.log({ event: 'decode-error', reason: result.reason });
      if (result.action === 'ok' && result.message.type === 'notification')
        this.log({
          event: 'notification-received',
          code: result.message.code,
          subcode: result.message.subcode,
        });
      // RFC 7606 §8: an UPDATE treated as withdraw (or with attributes discarded) SHOULD be
      // logged; the session goes on, so the log and the counter are the only trace of it.
      if (result.action === 'treat-as-withdraw' || result.action === 'attribute-discard') {
        this.log({
          event: result.action,
          errors: result.errors.map((e) => e.reason),
          ...(result.action === 'treat-as-withdraw' ? { prefixes: result.withdrawn.length } : {}),
        });
        this.emit({ type: 'malformed-update', action: result.action });
      }
      if (result.action === 'ok')
        this.emit({ type: 'message', direction: 'received', kind: result.message.type });
      const ev = eventFromDecode(io.id, result);
      if (ev) this.step(ev);
    }
  }

  private closeConn(id: ConnId): void {
    const io = this.conns.get(id);
    if (!io) return;
    io.closing = true;
    io.bulk = [];
    io.bulkBytes = 0;
    for (const r of io.drained.splice(0)) r();
    this.conns.delete(id);
    const s = io.socket;
    if (!s) return;
    // Flush what the FSM queued (a NOTIFICATION), then close.
    for (const b of io.urgent.splice(0)) s.write(b);
    s.end();
    setTimeout(() => s.destroy(), 1000).unref();
  }

  /** Urgent messages first, always; then at most chunkBytes of UPDATEs, then yield. */
  private pump(io: Io): void {
    const s = io.socket;
    if (!s || s.destroyed) return;
    for (const b of io.urgent.splice(0)) s.write(b);
    if (io.blocked || io.bulk.length === 0) return;
    let written = 0;
    while (io.bulk.length > 0 && written < this.chunkBytes) {
      const b = io.bulk.shift()!;
      io.bulkBytes -= b.length;
      written += b.length;
      if (!s.write(b)) {
        io.blocked = true;
        break;
      }
    }
    if (io.bulkBytes < HIGH_WATER) for (const r of io.drained.splice(0)) r();
    if (!io.blocked && io.bulk.length > 0 && !io.scheduled) {
      io.scheduled = true;
      setImmediate(() => {
        io.scheduled = false;
        this.pump(io);
      });
    }
  }

  private async queueBulk(io: Io, b: Buffer): Promise<void> {
    io.bulk.push(b);
    io.bulkBytes += b.length;
    this.pump(io);
    if (io.bulkBytes >= HIGH_WATER) await new Promise<void>((r) => io.drained.push(r));
  }

  // ---- Adj-RIB-Out ----

  private scheduleSync(): void {
    if (!this.session) return;
    if (this.syncing) {
      this.dirty = true;
      return;
    }
    this.syncing = true;
    void this.sync().finally(() => {
      this.syncing = false;
      if (this.dirty) {
        this.dirty = false;
        this.scheduleSync();
      }
    });
  }

  private async sync(): Promise<void> {
    const session = this.session;
    if (!session) return;
    const io = this.conns.get(session.conn);
    if (!io) return;
    const live = (): boolean =>
      this.session === session && this.conns.get(session.conn) === io && !io.closing;
    const changes = this.rib.diff(session.rib);
    let messages = 0;
    const put = async (b: Buffer): Promise<void> => {
      this.emit({ type: 'message', direction: 'sent', kind: 'update' });
      await this.queueBulk(io, b);
      // Packing is CPU work too: let timers (KEEPALIVEs) run every so often.
      if (++messages % 64 === 0) await new Promise<void>((r) => setImmediate(r));
    };
    for (const b of packWithdrawals(changes.withdraw, session.ctx)) {
      if (!live()) return;
      await put(b);
    }
    let prefixes = 0;
    for (const g of changes.announce) {
      if (!live()) return;
      prefixes += g.prefixes.length;
      for (const b of packAnnouncements(g.prefixes, g.attributes, session.ctx)) await put(b);
    }
    if (!live()) return;
    if (!session.eorSent) {
      // RFC 4724 §2: End-of-RIB after the initial table, per family.
      session.eorSent = true;
      for (const f of session.rib.families) await put(encodeMessage(endOfRib(f), session.ctx));
      this.emit({ type: 'synced', prefixes });
      this.log({ event: 'synced', prefixes });
    }
  }
}

/**
 * The passive side: one TCP listener for every configured peer. An incoming connection goes to
 * the peer with its source address; others are refused. TCP-MD5 keys are set on the listening
 * socket per peer (RFC 2385: the kernel drops unsigned or wrongly signed SYNs).
 *
 * Two peers may share an address and differ only in port (two BGP speakers behind one address).
 * An incoming connection carries the router's address and an ephemeral source port, so it
 * cannot say which of them it is. It goes to the one whose port (the port we dial, BGPPeer
 * peerPort) is the port this listener is on: the router that expects us on that port is the
 * one that connects to it, as with 179 both ways. With none or several such peers the
 * connection is refused (and no key is set for the address): guessing could run the wrong
 * peer's session (AS, password, routes) over it; those sessions still dial out.
 */
export class BgpListener {
  private readonly server = net.createServer((s) => this.onConnection(s));
  /** By canonical address: the peers there, with the port each is dialled on. */
  private readonly peers = new Map<string, Array<{ peer: PeerSession; port: number }>>();
  /** By canonical address: the TCP-MD5 key now set on the listening socket, and for what
   * address text (a link-local peer's zone names the interface the key is for). */
  private readonly keys = new Map<string, { key: string; peer: string }>();

  /**
   * `port` 0 picks a free one (see `port`); without `host`, every IPv4 and IPv6 address. Rejects
   * (and is closed) when the port cannot be bound or a peer's key cannot be set: accepting a
   * peer's connections without its key would let unsigned ones in.
   */
  async listen(port = 179, host?: string): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ port, ...(host ? { host } : {}) }, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    try {
      for (const address of this.peers.keys()) this.syncKey(address);
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  get port(): number {
    const a = this.server.address();
    return typeof a === 'object' && a ? a.port : 0;
  }

  /** `port`: the port we dial this peer on (default 179), to tell apart peers on one address. */
  addPeer(peer: PeerSession, port = 179): void {
    const address = canonicalAddress(peer.address);
    const list = (this.peers.get(address) ?? []).filter((e) => e.peer !== peer);
    list.push({ peer, port });
    this.peers.set(address, list);
    try {
      this.syncKey(address);
    } catch (err) {
      // Without its key the peer must not get connections (see listen()).
      this.peers.set(address, list.slice(0, -1));
      if (list.length === 1) this.peers.delete(address);
      throw err;
    }
  }

  /**
   * Stops handing connections to `peer` and takes its TCP-MD5 key off the listening socket (an
   * empty key deletes it: tcp_md5.cc ApplyMd5, tcpm_keylen 0), or puts on the key of the peer
   * that now gets that address's connections.
   */
  removePeer(peer: PeerSession): void {
    const address = canonicalAddress(peer.address);
    const list = this.peers.get(address)?.filter((e) => e.peer !== peer) ?? [];
    if (list.length > 0) this.peers.set(address, list);
    else this.peers.delete(address);
    this.syncKey(address);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The peer an incoming connection from `address` belongs to (see the class comment). */
  private resolve(address: string): PeerSession | undefined {
    const list = this.peers.get(address) ?? [];
    if (list.length === 1) return list[0]!.peer;
    const onOurPort = list.filter((e) => e.port === this.port);
    return onOurPort.length === 1 ? onOurPort[0]!.peer : undefined;
  }

  private syncKey(address: string): void {
    if (!this.server.listening) return;
    const peer = this.resolve(address);
    // An empty password is no password (as PeerSession dials: an empty key means no MD5).
    const want = peer?.password || undefined;
    const have = this.keys.get(address);
    const next = want !== undefined ? { key: want, peer: peer!.address } : undefined;
    if (next?.key === have?.key && next?.peer === have?.peer) return;
    const fd = serverFd(this.server);
    // Setting a key replaces the one for the same address; only a key no peer wants is deleted.
    if (have && have.peer !== next?.peer) setTcpMd5(fd, have.peer, '');
    if (next) setTcpMd5(fd, next.peer, next.key);
    if (next) this.keys.set(address, next);
    else this.keys.delete(address);
  }

  private onConnection(s: net.Socket): void {
    const peer = s.remoteAddress !== undefined ? this.resolve(canonicalAddress(s.remoteAddress)) : undefined;
    if (!peer) {
      s.destroy();
      return;
    }
    peer.accept(s);
  }
}

/**
 * An address as an accepted socket reports it: IPv4 for a v4-mapped IPv6 address (a dual-stack
 * listener), IPv6 compressed in lower case, without a zone; so a BGPPeer's "FD00:0::1" matches.
 */
/**
 * Resolves once every socket has closed (ended first with `end`), destroying any still open
 * after a second.
 */
function closed(sockets: readonly net.Socket[], { end = false } = {}): Promise<void> {
  return Promise.all(
    sockets.map(
      (s) =>
        new Promise<void>((resolve) => {
          if (s.destroyed) return resolve();
          s.once('close', () => resolve());
          if (end) s.end();
          setTimeout(() => s.destroy(), 1000).unref();
        }),
    ),
  ).then(() => undefined);
}

function canonicalAddress(address: string): string {
  const a = isMapped(address) ?? address;
  if (!a.includes(':')) return a;
  const bare = a.split('%')[0]!;
  try {
    return new URL(`http://[${bare}]`).hostname.slice(1, -1);
  } catch {
    return bare.toLowerCase();
  }
}
