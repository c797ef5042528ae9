// BFD for BGP mode: a BGPPeer with a bfdProfile gets a single-hop BFD session (speaker/bgp/bfd)
// to its address, and BFD Down takes the BGP session down at once (RFC 5882 §4.3) instead of
// waiting for the hold timer; BFD Up lets it reconnect. One BFD worker thread (client.ts,
// worker.ts: UDP port 3784, transmission and detection off the main event loop) serves every
// session of the speaker; it is started when the first session needs it.
//
// RFC 5882 §3.2: a peer that says AdminDown is not a failure, so that does not tear BGP down.

import dgram from 'node:dgram';
import type { Logger } from '../../../lib/log.js';
import { BfdWorkerClient, type BfdBackend } from './client.js';
import { profileFromBFDProfile } from './sessions.js';
import type { BfdPeerStats } from './sessions.js';
import { canonicalAddress } from './sessions.js';
import type { SessionSpec } from '../session/session-spec.js';
import type { BfdStarter } from '../session/sessions.js';

/** The address the kernel would send from to reach `peer` (a connected UDP socket's local address). */
export function sourceAddressFor(peer: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket(peer.includes(':') ? 'udp6' : 'udp4');
    s.once('error', (err) => {
      s.close();
      reject(err);
    });
    s.connect(9, peer, () => {
      const { address } = s.address();
      s.close();
      resolve(address);
    });
  });
}

interface Watcher {
  down(reason: string): void;
  up(): void;
}

export class BgpBfd {
  private manager: BfdBackend | undefined;
  private readonly watchers = new Map<string, Watcher>();
  /** Last reported state per peer (canonical address), as the events said it. */
  private readonly states = new Map<string, string>();
  /** BFD workers lost (crashed or exited) and replaced. */
  workerRestarts = 0;
  /** Called on every BFD state change (BGPSessionState's bfdStatus). */
  onChange: (() => void) | undefined;

  constructor(
    private readonly log: Logger,
    private readonly open: () => BfdBackend = () =>
      new BfdWorkerClient({ log, onWorkerLost: () => this.workerRestarts++ }),
  ) {}

  /** The seam BgpSessions calls for each session with a bfdProfile. */
  readonly starter: BfdStarter = (spec: SessionSpec, down, up) => {
    const peer = canonicalAddress(spec.peerAddress);
    let stopped = false;
    const watcher: Watcher = { down, up };
    this.watchers.set(peer, watcher);
    const local = spec.localAddress ?? sourceAddressFor(peer);
    void Promise.resolve(local).then(
      (address) => {
        if (stopped || !spec.bfdProfile) return;
        // Caught here: a throw in this callback would be an unhandled rejection.
        try {
          this.ensure().add(peer, address, profileFromBFDProfile(spec.bfdProfile));
        } catch (err) {
          this.log.error('BFD session not started', { peer, error: err });
          return;
        }
        this.log.info('BFD session started', { peer, local: address, bfdProfile: spec.bfdProfile.ref.name });
      },
      (err: unknown) => this.log.error('BFD session not started', { peer, error: err }),
    );
    return {
      stop: () => {
        stopped = true;
        if (this.watchers.get(peer) === watcher) this.watchers.delete(peer);
        this.states.delete(peer);
        this.manager?.remove(peer);
      },
    };
  };

  /** The BFD worker's event-loop delay over its last second, ms (0 before it reports). */
  workerLag(): { p99Ms: number; maxMs: number } {
    return this.manager instanceof BfdWorkerClient ? this.manager.workerLag() : { p99Ms: 0, maxMs: 0 };
  }

  /** Every BFD session's state and counters (metrics). */
  stats(): BfdPeerStats[] {
    return this.manager?.stats() ?? [];
  }

  /** The BFD state of the session to `peer` (any spelling of the address), if there is one. */
  state(peer: string): string | undefined {
    return this.states.get(canonicalAddress(peer));
  }

  /** Ends every BFD session; peers are told AdminDown, so their BGP is left to its own timers. */
  async close(): Promise<void> {
    const m = this.manager;
    this.manager = undefined;
    this.watchers.clear();
    this.states.clear();
    await m?.close();
  }

  private ensure(): BfdBackend {
    if (this.manager) return this.manager;
    const m = this.open();
    m.on('down', (c) => {
      if (c.remoteAdminDown) return;
      this.watchers.get(c.peer)?.down(`BFD ${c.from} → ${c.to} (${c.diagName})`);
    });
    m.on('up', (c) => this.watchers.get(c.peer)?.up());
    m.on('state', (c) => {
      if (this.watchers.has(c.peer)) this.states.set(c.peer, c.to);
      this.onChange?.();
    });
    this.manager = m;
    return m;
  }
}
