// Writes this node's BGPSessionState objects (session-state.ts): one per BGPPeer selecting the
// node, named `<node>-<peer>` and labelled metallb.io/node and metallb.io/peer, updated when
// what it says changes (coalesced by ConvergeLoop), deleted when the peer no longer selects
// the node and on SIGTERM. Each is owned by the speaker's Pod when it is known (`owner`).
// Objects a previous run of this node left are taken over (ownerReference moved to this Pod)
// or deleted.

import { nodeLabel, type StatusObject } from '../../status/status-objects.js';
import { StatusWriter, type StatusWriterOptions } from '../../status/status-writer.js';
import { sameStatus, sessionStateName, type SessionStateStatus } from './session-state.js';

export const peerLabel = 'metallb.io/peer';

interface Written {
  /** The status last written; undefined when created and not yet written. */
  status: SessionStateStatus | undefined;
}

/** Keyed by BGPPeer name: the status its object should show. */
export class SessionStateWriter extends StatusWriter<SessionStateStatus, SessionStateStatus> {
  /** Object name → what it holds. */
  private readonly written = new Map<string, Written>();

  constructor(opts: StatusWriterOptions) {
    super(opts, { plural: 'bgpsessionstates', kind: 'BGPSessionState' });
  }

  protected forget(): void {
    this.written.clear();
  }

  protected async adopt(found: StatusObject<SessionStateStatus>[]): Promise<void> {
    for (const obj of found) {
      const name = obj.metadata?.name;
      if (name !== undefined && (await this.objects.own(obj))) this.written.set(name, { status: obj.status });
    }
  }

  protected async apply(): Promise<void> {
    const { node } = this.opts;
    const want = new Map(
      [...this.desired].map(([peer, status]) => [sessionStateName(node, peer), { peer, status }]),
    );
    for (const [name, w] of [...this.written]) {
      const d = want.get(name);
      // status.peer is immutable: a BGPPeer whose address changed gets a new object.
      if (d !== undefined && (w.status?.peer === undefined || w.status.peer === d.status.peer)) continue;
      await this.objects.delete(name);
      this.written.delete(name);
    }
    for (const [name, { peer, status }] of want) {
      let w = this.written.get(name);
      if (w === undefined) {
        await this.create(name, peer);
        w = { status: undefined };
        this.written.set(name, w);
      }
      if (sameStatus(w.status, status)) continue;
      await this.objects.writeStatus(name, status);
      w.status = status;
    }
  }

  private async create(name: string, peer: string): Promise<void> {
    try {
      await this.objects.create(
        { name },
        { [nodeLabel]: this.opts.node, [peerLabel]: peer.slice(0, 63).replace(/[^a-zA-Z0-9]+$/, '') },
      );
      this.opts.log.info('BGPSessionState created', { bgpPeer: peer, name });
    } catch (err) {
      // Left by a run whose list we missed: it is ours (same node and peer), overwrite it.
      if ((err as { status?: number }).status !== 409) throw err;
      const existing = await this.objects.get(name);
      if (existing !== undefined) await this.objects.own(existing);
    }
  }
}
