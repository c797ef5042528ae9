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
  /** Per-Service writers: requests in flight at once (default 4: the controller's writes, which
   * routes wait for, share the API server). */
  concurrency?: number;
}

export abstract class StatusWriter<V, S> {
  protected readonly objects: StatusObjects<S>;
  /** Key → the value to show. */
  protected desired = new Map<string, V>();
  /** Keys whose value changed since the last pass began, or every key. */
  private changed: Set<string> | 'all' = 'all';
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
    this.desired = new Map(desired);
    this.changed = 'all';
    this.loop.kick();
  }

  /** Some keys' values now (undefined: no object any more); the next pass looks at these only. */
  change(changes: ReadonlyMap<string, V | undefined>): void {
    if (changes.size === 0) return;
    for (const [key, value] of changes) {
      if (value === undefined) this.desired.delete(key);
      else this.desired.set(key, value);
      if (this.changed !== 'all') this.changed.add(key);
    }
    this.loop.kick();
  }

  /** The keys a pass should look at (and forgets them: a pass that fails hands back its rest). */
  protected takeChanged(): Set<string> | 'all' {
    const c = this.changed;
    this.changed = new Set();
    return c;
  }

  /** Keys a pass could not finish: the next one looks at them again. */
  protected giveBack(keys: Iterable<string>): void {
    if (this.changed === 'all') return;
    for (const k of keys) this.changed.add(k);
  }

  /** Deletes every object of this node (SIGTERM). */
  async clear(): Promise<void> {
    await this.loop.stop();
    this.desired = new Map();
    this.changed = 'all';
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
