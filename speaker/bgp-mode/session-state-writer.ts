// Writes this node's BGPSessionState objects (session-state.ts): one per BGPPeer selecting the
// node, named `<node>-<peer>` and labelled metallb.io/node and metallb.io/peer, updated when
// what it says changes (coalesced by ConvergeLoop), deleted when the peer no longer selects
// the node and on SIGTERM. Each is owned by the speaker's Pod when it is known (`owner`).
// Objects a previous run of this node left are taken over (ownerReference moved to this Pod)
// or deleted.

import type { StatusWriterOptions } from '../status/service-status-writer.js';
import { ConvergeLoop, nodeLabel, StatusObjects } from '../status/status-objects.js';
import { sameStatus, sessionStateName, type SessionStateStatus } from './session-state.js';

export const peerLabel = 'metallb.io/peer';

interface Written {
  /** The status last written; undefined when created and not yet written. */
  status: SessionStateStatus | undefined;
}

export class SessionStateWriter {
  private readonly objects: StatusObjects<SessionStateStatus>;
  private readonly loop: ConvergeLoop;
  /** BGPPeer name → the status it should show. */
  private desired: ReadonlyMap<string, SessionStateStatus> = new Map();
  /** Object name → what it holds. */
  private readonly written = new Map<string, Written>();
  private adopted = false;

  constructor(private readonly opts: StatusWriterOptions) {
    this.objects = new StatusObjects(
      opts.api,
      opts.kubeConfig,
      opts.namespace,
      'bgpsessionstates',
      'BGPSessionState',
      opts.owner,
    );
    this.loop = new ConvergeLoop({
      pass: () => this.converge(),
      onError: (err) => opts.log.warn('could not write BGPSessionState', { error: err.message }),
      minIntervalMs: opts.minIntervalMs ?? 500,
      retryMs: opts.retryMs ?? 1000,
    });
  }

  /** The sessions now, by BGPPeer name; the objects follow asynchronously. */
  set(desired: ReadonlyMap<string, SessionStateStatus>): void {
    this.desired = desired;
    this.loop.kick();
  }

  /** Deletes every object of this node (SIGTERM). */
  async clear(): Promise<void> {
    await this.loop.stop();
    this.desired = new Map();
    await this.converge().catch((err: Error) =>
      this.opts.log.warn('could not delete BGPSessionState objects', { error: err.message }),
    );
  }

  private async converge(): Promise<void> {
    const { node } = this.opts;
    if (!this.adopted) {
      for (const obj of await this.objects.list(`${nodeLabel}=${node}`)) {
        const name = obj.metadata?.name;
        if (name !== undefined && (await this.objects.own(obj)))
          this.written.set(name, { status: obj.status });
      }
      this.adopted = true;
    }
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
