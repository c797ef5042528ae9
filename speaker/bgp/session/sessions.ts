// The node's BGP sessions: one PeerSession per BGPPeer that selects this node, kept in step with
// the configuration. apply() takes the whole desired set (session spec + routes per peer) and
// converges: new peers get a session, removed ones withdraw their routes and close with Cease /
// Peer De-configured (RFC 4486 §4), a changed session-level field resets that session only
// (Cease / Other Configuration Change, then a new OPEN), and every session's Adj-RIB-Out gets
// its routes (sent once Established; the RIB computes the UPDATEs).
//
// stop() ends them all for SIGTERM, in one of two ways (see protocol.ts for which is used):
// - 'withdraw': every route is withdrawn, then Cease / Administrative Shutdown: the router
//   stops sending traffic here before the session goes;
// - 'keep': sessions where both sides advertised Graceful Restart are closed without a NOTIFICATION, so
//   the router keeps our routes as stale for the Restart Time (RFC 4724 §4.2) and the next
//   speaker re-announces them (End-of-RIB ends the stale period); sessions without it withdraw.
//
// With `listenPort` (--bgp-listen-port) the sessions also take the routers' connections: one
// BgpListener on that port (every address, IPv4 and IPv6) hands a connection to the session
// for its source address. Each session keeps dialing too; when both connections come up the
// FSM keeps one (RFC 4271 §6.8). Without it they only dial, as MetalLB does (a node's port 179
// is often another BGP daemon's, such as Calico's BIRD). A port that cannot be bound is logged
// and the sessions go on dialing: the listener is an extra way in, never a condition.

import type { Logger } from '../../../lib/log.js';
import { CeaseSubcode } from '../wire/notification-codes.js';
import { BgpListener, PeerSession, type PeerEvent, type PeerOptions } from './peer-session.js';
import type { Announcement } from './speaker-rib.js';
import type { BgpMetrics } from '../metrics.js';
import { GRACEFUL_RESTART_TIME, peerLabel, sessionKey, type SessionSpec } from './session-spec.js';

export interface DesiredSession {
  readonly spec: SessionSpec;
  /** The whole table for this peer; a function is only called when the table is needed. */
  readonly routes: readonly Announcement[] | (() => readonly Announcement[]);
  /**
   * false: a session that keeps running keeps its table (its changes come through change());
   * only a new or reset session takes `routes`. Default true: every session takes it.
   */
  readonly replaceRoutes?: boolean;
}

export type StopMode = 'withdraw' | 'keep';

/**
 * Where BFD plugs in (bfd.ts): started for a session whose BGPPeer has a bfdProfile; calling
 * `down` takes the BGP session down at once (RFC 5882 §4.3) rather than at hold-timer expiry.
 * The session then reconnects on its own retry timer, as after any failure: BFD speeds up
 * detection, it does not gate BGP (a router that stops running BFD must not strand us).
 */
export type BfdStarter = (
  spec: SessionSpec,
  down: (reason: string) => void,
  up: () => void,
) => { stop(): void };

export interface BgpSessionsOptions {
  log: Logger;
  metrics?: BgpMetrics;
  bfd?: BfdStarter;
  /** How long a withdrawal may take before the Cease goes anyway; default 2000 ms. */
  withdrawTimeoutMs?: number;
  /** Called when something status() reports may have changed (BGPSessionState). */
  onChange?: () => void;
  /** The clock for status().since; default Date.now. */
  now?: () => number;
  /** Also accept the peers' connections on this TCP port (0: any free port); unset: dial only. */
  listenPort?: number;
}

export interface SessionStatus {
  name: string;
  peer: string;
  /** The BGPPeer's address. */
  address: string;
  state: string;
  established: boolean;
  announced: number;
  /** The BGPPeer has a bfdProfile. */
  bfd: boolean;
  /** When `state` last changed (ms since the epoch). */
  since: number;
  /** The last NOTIFICATION or connection error on this session. */
  lastError?: string;
}

interface Running {
  /** The latest spec; fields outside the key (the BFD profile) change without a reset. */
  spec: SessionSpec;
  readonly key: string;
  readonly label: string;
  readonly peer: PeerSession;
  established: boolean;
  /** Both sides advertised Graceful Restart on the current session. */
  gracefulRestart: boolean;
  bfd?: { stop(): void };
  bfdKey?: string;
  since: number;
  lastError?: string;
  /** NOTIFICATIONs sent and received when last looked at: a new one explains a teardown. */
  notifications: number;
  /** Started and current: takes the listener's connections from its address. */
  listening?: boolean;
}

export class BgpSessions {
  private readonly sessions = new Map<string, Running>();
  /** Sessions being closed (removed, reset): stop() waits for them too. */
  private readonly closing = new Set<Promise<void>>();
  /**
   * Peers (by metrics label, address:port: what the router tells sessions apart by) that have
   * had an Established session since this speaker process started. Until then our OPENs to a
   * peer set the Restart State bit of the Graceful Restart capability (RFC 4724 §3, §4.1):
   * after a restart (a rolling upgrade) the router keeps our routes as stale, and the bit tells
   * it we restarted. The process cannot tell a restart from a first boot, so a first boot sets
   * it too; that is harmless: all R asks of the receiver (§3) is not to wait for our
   * End-of-RIB before sending us its own routes (which we ignore anyway); what the router does
   * with routes of ours it kept depends on the new session and its F bits (§4.2), not on R. A
   * reconnect later in the same process (a reset, a changed BGPPeer, a failure) is no restart
   * and sends R = 0.
   */
  private readonly establishedOnce = new Set<string>();
  /** BGPPeer name → the session key it could not be started with (logged once). */
  private readonly refused = new Map<string, string>();
  private stopped = false;
  private listener: BgpListener | undefined;
  /** The port the listener is bound to, once it is; undefined when there is none (not asked
   * for, or it could not be opened). */
  readonly listening: Promise<number | undefined>;

  constructor(private readonly opts: BgpSessionsOptions) {
    this.listening =
      opts.listenPort !== undefined ? this.openListener(opts.listenPort) : Promise.resolve(undefined);
  }

  /** Converges on the desired sessions and routes (the whole set, by BGPPeer name). */
  apply(desired: ReadonlyMap<string, DesiredSession>): void {
    if (this.stopped) return;
    for (const [name, s] of [...this.sessions]) {
      if (desired.has(name)) continue;
      this.sessions.delete(name);
      this.unlisten(s);
      this.opts.log.info('BGP peer no longer selects this node: withdrawing and closing', {
        peer: s.label,
        bgpPeer: name,
      });
      this.track(this.close(s, 'withdraw', CeaseSubcode.PEER_DECONFIGURED).then(() => this.forget(s)));
    }
    for (const name of this.refused.keys()) if (!desired.has(name)) this.refused.delete(name);
    for (const [name, d] of desired) {
      const key = sessionKey(d.spec);
      let s = this.sessions.get(name);
      let after: Promise<void> | undefined;
      if (s && s.key !== key) {
        this.opts.log.info('BGP peer changed: resetting its session', { peer: s.label, bgpPeer: name });
        // Reset: the router drops our routes with the session, the new one re-announces them.
        this.unlisten(s);
        after = this.track(this.close(s, 'cease', CeaseSubcode.OTHER_CONFIGURATION_CHANGE));
        const old = s;
        if (peerLabel(d.spec) !== old.label) void after.then(() => this.forget(old));
        s = undefined;
      }
      const fresh = !s;
      if (!s) {
        try {
          s = this.open(d.spec, key, after);
        } catch (err) {
          // One bad BGPPeer must not take the node's other sessions down with it. Said once
          // per spec: every later apply() retries (the BGPPeer may be fixed) without logging.
          this.sessions.delete(name);
          if (this.refused.get(name) === key) continue;
          this.refused.set(name, key);
          this.opts.log.error(
            `BGPPeer ${name}: cannot start its BGP session: ${err instanceof Error ? err.message : String(err)}`,
            { bgpPeer: name, error: err },
          );
          continue;
        }
      } else s.spec = d.spec;
      this.updateBfd(s);
      if (!fresh && d.replaceRoutes === false) continue;
      try {
        s.peer.announce(typeof d.routes === 'function' ? d.routes() : d.routes);
      } catch (err) {
        this.opts.log.error('BGP routes rejected', { peer: s.label, bgpPeer: name, error: err });
      }
    }
  }

  /** Changes some of one session's routes (undefined: withdraw), by BGPPeer name. */
  change(name: string, changes: Iterable<readonly [prefix: string, route: Announcement | undefined]>): void {
    const s = this.sessions.get(name);
    if (s === undefined || this.stopped) return;
    try {
      s.peer.change(changes);
    } catch (err) {
      this.opts.log.error('BGP routes rejected', { peer: s.label, bgpPeer: name, error: err });
    }
  }

  /** Every session's state, by BGPPeer name. */
  status(): SessionStatus[] {
    return [...this.sessions.entries()].map(([name, s]) => ({
      name,
      peer: s.label,
      address: s.spec.peerAddress,
      state: s.peer.state,
      established: s.established,
      announced: s.peer.rib.sentCount,
      bfd: s.spec.bfdProfile !== undefined,
      since: s.since,
      ...(s.lastError !== undefined ? { lastError: s.lastError } : {}),
    }));
  }

  /** Ends every session (see the header for the modes); resolves when all sockets are closed. */
  async stop(mode: StopMode): Promise<void> {
    this.stopped = true;
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all([
      // Resolves once the sessions below have closed the connections it accepted.
      this.closeListener(),
      ...all.map((s) =>
        this.close(
          s,
          mode === 'keep' && s.established && s.gracefulRestart ? 'keep' : 'withdraw',
          CeaseSubcode.ADMINISTRATIVE_SHUTDOWN,
        ),
      ),
      ...this.closing,
    ]);
  }

  private async openListener(port: number): Promise<number | undefined> {
    const listener = new BgpListener();
    this.listener = listener;
    try {
      await listener.listen(port);
    } catch (err) {
      this.listener = undefined;
      const code = (err as NodeJS.ErrnoException).code;
      const cause =
        code === 'EADDRINUSE'
          ? "the port is in use (another BGP daemon on this node, such as Calico's BIRD?)"
          : code === 'EACCES'
            ? 'permission denied (a port below 1024 needs CAP_NET_BIND_SERVICE)'
            : err instanceof Error
              ? err.message
              : String(err);
      this.opts.log.error(
        `cannot accept BGP connections on TCP port ${port}: ${cause}; the sessions only dial out`,
        { port, error: err, ...(code !== undefined ? { code } : {}) },
      );
      return undefined;
    }
    this.opts.log.info('accepting BGP connections from the peers', { port: listener.port });
    // Sessions that started while the port was being bound (see listenFor).
    for (const s of this.sessions.values()) if (s.listening) this.addToListener(s);
    return listener.port;
  }

  private async closeListener(): Promise<void> {
    await this.listening;
    const listener = this.listener;
    this.listener = undefined;
    await listener?.close();
  }

  /** The session takes incoming connections from its peer from now on (if there is a listener). */
  private listenFor(s: Running): void {
    s.listening = true;
    this.addToListener(s);
  }

  private addToListener(s: Running): void {
    const listener = this.listener;
    if (!listener?.port) return; // not bound yet: openListener adds it
    try {
      listener.addPeer(s.peer, s.spec.port);
    } catch (err) {
      this.opts.log.error('BGP peer cannot take incoming connections: its TCP-MD5 key could not be set', {
        peer: s.label,
        bgpPeer: s.spec.name,
        error: err,
      });
    }
  }

  private unlisten(s: Running): void {
    s.listening = false;
    try {
      this.listener?.removePeer(s.peer);
    } catch (err) {
      // The key stays on the socket; no session takes that address's connections anyway.
      this.opts.log.warn("could not remove a BGP peer's TCP-MD5 key from the listening socket", {
        peer: s.label,
        error: err,
      });
    }
  }

  private track(p: Promise<void>): Promise<void> {
    this.closing.add(p);
    void p.finally(() => this.closing.delete(p));
    return p;
  }

  private open(spec: SessionSpec, key: string, after: Promise<void> | undefined): Running {
    const label = peerLabel(spec);
    const log = this.opts.log.with({ peer: label, bgpPeer: spec.name });
    const options: PeerOptions = {
      peerAddress: spec.peerAddress,
      port: spec.port,
      localAsn: spec.localAsn,
      routerId: spec.routerId,
      holdTime: spec.holdTime,
      ...(spec.peerAsn !== undefined ? { peerAsn: spec.peerAsn } : {}),
      ...(spec.dynamicAsn !== undefined ? { dynamicAsn: spec.dynamicAsn } : {}),
      ...(spec.keepaliveTime !== undefined ? { keepaliveTime: spec.keepaliveTime } : {}),
      ...(spec.connectRetryMs !== undefined
        ? { connectRetryMs: spec.connectRetryMs, maxConnectRetryMs: spec.connectRetryMs }
        : {}),
      ...(spec.localAddress !== undefined ? { localAddress: spec.localAddress } : {}),
      ...(spec.password !== undefined ? { password: spec.password } : {}),
      ...(spec.ttl !== undefined ? { ttl: spec.ttl } : {}),
      ...(spec.gracefulRestart
        ? {
            gracefulRestart: {
              restartTime: GRACEFUL_RESTART_TIME,
              restarted: !this.establishedOnce.has(label),
            },
          }
        : {}),
      log: ({ event, ...fields }) => {
        if (event === 'state') log.debug('BGP state', fields);
        else if (event === 'treat-as-withdraw' || event === 'attribute-discard')
          log.warn(`BGP UPDATE received with errors: ${String(event)} (RFC 7606)`, fields);
        else log.info(`BGP ${String(event)}`, fields);
      },
    };
    const peer = new PeerSession(options);
    const s: Running = {
      spec,
      key,
      label,
      peer,
      established: false,
      gracefulRestart: false,
      since: (this.opts.now ?? Date.now)(),
      notifications: 0,
    };
    const metrics = this.opts.metrics;
    metrics?.added(label);
    peer.on((e: PeerEvent) => {
      this.observe(s, e);
      switch (e.type) {
        case 'established':
          this.establishedOnce.add(label);
          s.established = true;
          s.gracefulRestart = spec.gracefulRestart && e.peerGracefulRestart;
          metrics?.up(label, true);
          log.info('BGP session established', {
            holdTime: e.holdTime,
            peerId: e.peerId,
            gracefulRestart: s.gracefulRestart,
          });
          return;
        case 'down':
          s.established = false;
          metrics?.up(label, false);
          log.warn('BGP session down', { reason: e.reason });
          return;
        case 'synced':
          metrics?.prefixes(label, peer.rib.sentCount);
          return;
        case 'message':
          metrics?.message(label, e.direction, e.kind);
          if (e.kind === 'update' && e.direction === 'sent') metrics?.prefixes(label, peer.rib.sentCount);
          return;
        case 'malformed-update':
          metrics?.malformedUpdate(label, e.action);
          return;
        case 'state':
          return;
      }
    });
    // Registered before it starts: a reset's successor starts only if it is still the current one.
    this.sessions.set(spec.name, s);
    const start = (): void => {
      if (this.sessions.get(spec.name) !== s || this.stopped) return;
      peer.start();
      // Only once started: an Idle FSM refuses every connection (RFC 4271 §8.2.2), and a reset's
      // successor must not take connections while its predecessor still closes.
      this.listenFor(s);
    };
    if (after) void after.then(start);
    else start();
    return s;
  }

  /** Keeps what status() reports beyond the peer's own state, and says when it may have changed. */
  private observe(s: Running, e: PeerEvent): void {
    if (e.type === 'malformed-update') return;
    if (e.type === 'message' && !(e.kind === 'update' && e.direction === 'sent')) return;
    if (e.type === 'state') {
      s.since = (this.opts.now ?? Date.now)();
      // Every teardown lands in Idle (RFC 4271 §8.2.2) and its reason is the error; the FSM
      // keeps the NOTIFICATION (code/subcode) apart. A stop of ours is not an error.
      const c = s.peer.fsm.counters;
      const notifications = c.notificationsSent + c.notificationsReceived;
      // A failed dial waits in Active (fsm.ts connectFailed): its reason is an error too.
      const failedDial = e.to === 'Active' && e.from === 'Connect';
      if ((e.to === 'Idle' && !e.reason.startsWith('stopped')) || failedDial)
        s.lastError =
          notifications !== s.notifications && c.lastError !== undefined
            ? `${e.reason} (${c.lastError})`
            : e.reason;
      s.notifications = notifications;
    }
    this.opts.onChange?.();
  }

  private forget(s: Running): void {
    // A label still used by a live session (same address and port) keeps its series.
    if ([...this.sessions.values()].some((o) => o.label === s.label)) return;
    this.opts.metrics?.removed(s.label);
  }

  private async close(s: Running, how: 'withdraw' | 'cease' | 'keep', subcode: number): Promise<void> {
    s.bfd?.stop();
    s.bfd = undefined;
    if (how === 'keep') {
      this.opts.log.info('closing BGP session without withdrawing (graceful restart)', {
        peer: s.label,
        restartTime: GRACEFUL_RESTART_TIME,
      });
      await s.peer.abandon();
      return;
    }
    if (how === 'withdraw' && s.established) {
      s.peer.announce([]);
      await s.peer.flushed(this.opts.withdrawTimeoutMs ?? 2000);
    }
    await s.peer.stop(subcode);
    s.established = false;
    this.opts.metrics?.up(s.label, false);
  }

  private updateBfd(s: Running): void {
    const starter = this.opts.bfd;
    const profile = s.spec.bfdProfile;
    const key = profile ? JSON.stringify(profile) : undefined;
    if (key === s.bfdKey) return;
    s.bfd?.stop();
    s.bfd = undefined;
    s.bfdKey = key;
    if (!profile) return;
    if (!starter) {
      this.opts.log.warn('BGPPeer has a bfdProfile but this speaker has no BFD yet: ignored', {
        peer: s.label,
        bgpPeer: s.spec.name,
        bfdProfile: profile.ref.name,
      });
      return;
    }
    s.bfd = starter(
      s.spec,
      (reason) => this.bfdDown(s, reason),
      () => this.bfdUp(s),
    );
  }

  /** RFC 5882 §4.3: BFD Down takes the BGP session down now, not at hold-timer expiry. */
  private bfdDown(s: Running, reason: string): void {
    if (this.sessions.get(s.spec.name) !== s) return;
    this.opts.log.warn('BFD down: resetting the BGP session', { peer: s.label, reason });
    s.peer.reset(CeaseSubcode.ADMINISTRATIVE_RESET);
  }

  private bfdUp(s: Running): void {
    if (this.sessions.get(s.spec.name) !== s) return;
    this.opts.log.info('BFD up', { peer: s.label });
  }
}
