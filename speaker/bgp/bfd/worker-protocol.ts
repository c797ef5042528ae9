// Messages between the speaker's main thread (client.ts) and the BFD worker (worker.ts), and
// the main thread's record of what it asked for (BfdSessionTable). The table is pure: it turns
// each request into the message to post, remembers every session's last reported state, and
// when the worker is lost says which sessions were Up (they are reported down, since nobody
// sent or checked their packets meanwhile) and which messages bring a new worker to the same
// set of sessions.

import type { Stall } from '../../../lib/stall-watch.js';
import type { BfdPeerProfile, BfdPeerStats, BfdStateChange } from './sessions.js';
import { canonicalAddress } from './sessions.js';

export interface BfdListen {
  readonly v4?: readonly string[];
  readonly v6?: readonly string[];
}

export interface WorkerLag {
  readonly p99Ms: number;
  readonly maxMs: number;
}

export type ToBfdWorker =
  | {
      readonly type: 'start';
      /** Where to listen (default 0.0.0.0 and ::). */
      readonly listen?: BfdListen;
      /** Destination / listening port (default 3784; only tests change it). */
      readonly port?: number;
      /** How often to post `stats`, ms. */
      readonly statsEveryMs: number;
    }
  | { readonly type: 'add'; readonly peer: string; readonly local: string; readonly profile: BfdPeerProfile }
  | { readonly type: 'update'; readonly peer: string; readonly profile: BfdPeerProfile }
  | { readonly type: 'remove'; readonly peer: string }
  /** Ends every session (AdminDown first unless `adminDown` is false) and closes the sockets. */
  | { readonly type: 'close'; readonly adminDown: boolean };

export type FromBfdWorker =
  | {
      readonly type: 'ready';
      /** Whether the worker thread got a higher scheduling priority (nice −10). */
      readonly priority: boolean;
    }
  | { readonly type: 'state'; readonly change: BfdStateChange }
  | {
      readonly type: 'stats';
      readonly sessions: readonly BfdPeerStats[];
      readonly discarded: readonly (readonly [string, number])[];
      /** The worker's own event-loop delay over the period since the last `stats`, ms. */
      readonly lag: WorkerLag;
    }
  /** Something failed in the worker; `fatal` errors end it (the client starts a new one). */
  | {
      readonly type: 'error';
      readonly where: string;
      readonly message: string;
      readonly peer?: string;
      readonly fatal?: boolean;
    }
  /**
   * The native thread that sends the periodic packets has started, with the priority it got
   * (speaker/native/src/periodic_sender.cc): realtime (SCHED_RR), nice (−10) or default.
   */
  | { readonly type: 'sender'; readonly priority: string }
  /** The worker's thread was away longer than a Control packet interval, and why (lib/stall-watch.ts). */
  | { readonly type: 'stall'; readonly stall: Stall }
  | { readonly type: 'closed' };

interface Wanted {
  readonly local: string;
  profile: BfdPeerProfile;
  /** Last state the worker reported ('Down' until it reports one). */
  state: string;
}

/** The diagnostic name given to sessions lost with their worker. */
export const workerLostDiagName = 'BFD worker exited';

export class BfdSessionTable {
  readonly #wanted = new Map<string, Wanted>();

  /** Asks for a session to `peer` from `local`. Throws if there already is one. */
  add(peer: string, local: string, profile: BfdPeerProfile): ToBfdWorker {
    const p = canonicalAddress(peer);
    const l = canonicalAddress(local);
    if (p.includes(':') !== l.includes(':'))
      throw new TypeError(`BFD peer ${p}: local address ${l} is of another address family`);
    if (this.#wanted.has(p)) throw new Error(`BFD peer ${p}: a session already exists`);
    this.#wanted.set(p, { local: l, profile, state: 'Down' });
    return { type: 'add', peer: p, local: l, profile };
  }

  update(peer: string, profile: BfdPeerProfile): ToBfdWorker {
    const p = canonicalAddress(peer);
    const w = this.#wanted.get(p);
    if (!w) throw new Error(`BFD peer ${p}: no such session`);
    w.profile = profile;
    return { type: 'update', peer: p, profile };
  }

  /** The message that ends the session, or undefined if there is none. */
  remove(peer: string): ToBfdWorker | undefined {
    const p = canonicalAddress(peer);
    if (!this.#wanted.delete(p)) return undefined;
    return { type: 'remove', peer: p };
  }

  has(peer: string): boolean {
    return this.#wanted.has(canonicalAddress(peer));
  }

  state(peer: string): string | undefined {
    return this.#wanted.get(canonicalAddress(peer))?.state;
  }

  isUp(peer: string): boolean {
    return this.state(peer) === 'Up';
  }

  peers(): string[] {
    return [...this.#wanted.keys()];
  }

  /**
   * Records a transition the worker reported. Returns false for a session that is no longer
   * wanted (a report that crossed its removal): such reports are not passed on.
   */
  onState(change: BfdStateChange): boolean {
    const w = this.#wanted.get(change.peer);
    if (!w) return false;
    w.state = change.to;
    return true;
  }

  /**
   * The worker is gone. Every session that was Up is reported down (a transition Up → Down the
   * clients act on); every session is Down until the new worker says otherwise.
   */
  workerLost(at: number): BfdStateChange[] {
    const lost: BfdStateChange[] = [];
    for (const [peer, w] of this.#wanted) {
      if (w.state !== 'Down')
        lost.push({
          peer,
          local: w.local,
          from: w.state,
          to: 'Down',
          diag: 0,
          diagName: workerLostDiagName,
          remoteAdminDown: false,
          at,
        });
      w.state = 'Down';
    }
    return lost;
  }

  /** The messages that give a new worker every session wanted now. */
  replay(): ToBfdWorker[] {
    return [...this.#wanted].map(([peer, w]) => ({ type: 'add', peer, local: w.local, profile: w.profile }));
  }
}
