// What the speaker's status writers share (per-Service objects, service-status-writer.ts, and
// BGPSessionState, bgp-mode/session-state-writer.ts): the desired values by key, a coalescing
// ConvergeLoop that writes toward them, one take-over of the objects a previous run of this
// node left (listed by the node label), and clear() on SIGTERM. Each writer says only how it
// adopts what it found and how one pass converges.

import type { ApiRequester } from '../../lib/kube/api-request.js';
import type { Logger } from '../../lib/log.js';
import {
  ConvergeLoop,
  nodeLabel,
  type OwnerReference,
  StatusObjects,
  type StatusObject,
} from './status-objects.js';

export interface StatusWriterOptions {
  node: string;
  namespace: string;
  api: ApiRequester;
  log: Logger;
  /** The speaker's Pod (speakerPodOwner): every object gets it as its ownerReference. */
  owner?: OwnerReference;
  /** At most one write pass per this long; default 500 ms. */
  minIntervalMs?: number;
  retryMs?: number;
}

export abstract class StatusWriter<V, S> {
  protected readonly objects: StatusObjects<S>;
  /** Key → the value to show. */
  protected desired: ReadonlyMap<string, V> = new Map();
  private readonly loop: ConvergeLoop;
  private adopted = false;

  constructor(
    protected readonly opts: StatusWriterOptions,
    private readonly resource: { plural: string; kind: string },
  ) {
    this.objects = new StatusObjects(opts.api, opts.namespace, resource.plural, resource.kind, opts.owner);
    this.loop = new ConvergeLoop({
      pass: () => this.converge(),
      onError: (err) => opts.log.warn(`could not write ${resource.kind}`, { error: err.message }),
      minIntervalMs: opts.minIntervalMs ?? 500,
      retryMs: opts.retryMs ?? 1000,
    });
  }

  /** The values now, by key; the objects follow asynchronously. */
  set(desired: ReadonlyMap<string, V>): void {
    this.desired = desired;
    this.loop.kick();
  }

  /** Deletes every object of this node (SIGTERM). */
  async clear(): Promise<void> {
    await this.loop.stop();
    this.desired = new Map();
    await this.converge().catch((err: Error) =>
      this.opts.log.warn(`could not delete ${this.resource.kind} objects`, { error: err.message }),
    );
  }

  /** Takes over (or deletes) the objects of this node that a previous run left. */
  protected abstract adopt(found: StatusObject<S>[]): Promise<void>;

  /** One pass toward `desired`. */
  protected abstract apply(): Promise<void>;

  private async converge(): Promise<void> {
    if (!this.adopted) {
      await this.adopt(await this.objects.list(`${nodeLabel}=${this.opts.node}`));
      this.adopted = true;
    }
    await this.apply();
  }
}
