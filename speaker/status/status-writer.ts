// What the speaker's status writers share (per-Service objects, service-status-writer.ts, and
// BGPSessionState, bgp/status/session-state-writer.ts): the desired values by key, a coalescing
// ConvergeLoop that writes toward them, the take-over of the objects a previous run of this
// node left (listed by the node label), and clear() on SIGTERM. Each writer says only how it
// adopts what it found and how one pass converges.
//
// What a writer remembers having written can go wrong behind its back: a create whose answer
// was lost in an API outage made an object it does not know (a duplicate later), another node
// deleted an object it took for a gone node's, a user deleted one. So the writer resyncs: it
// forgets what it wrote and adopts what the server has, as at start, then converges every key.
// That happens after every failed pass (an outage is when answers get lost) and every
// `resyncMs`, the way controllers' informers resync (client-go's resyncPeriod).

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
  /** Re-list and correct this node's objects this often (default 5 minutes; 0: only after errors). */
  resyncMs?: number;
}

export abstract class StatusWriter<V, S> {
  protected readonly objects: StatusObjects<S>;
  /** Key → the value to show. */
  protected desired = new Map<string, V>();
  /** Keys whose value changed since the last pass began, or every key. */
  private changed: Set<string> | 'all' = 'all';
  private readonly loop: ConvergeLoop;
  /** Whether the next pass lists the server's objects first (at start, after errors, periodically). */
  private listDue = true;
  private readonly resyncTimer: NodeJS.Timeout | undefined;

  constructor(
    protected readonly opts: StatusWriterOptions,
    private readonly resource: { plural: string; kind: string },
  ) {
    this.objects = new StatusObjects(opts.api, opts.namespace, resource.plural, resource.kind, opts.owner);
    this.loop = new ConvergeLoop({
      pass: () => this.converge(),
      onError: (err) => {
        this.listDue = true;
        opts.log.warn(`could not write ${resource.kind}`, { error: err.message });
      },
      minIntervalMs: opts.minIntervalMs ?? 500,
      retryMs: opts.retryMs ?? 1000,
    });
    const resyncMs = opts.resyncMs ?? 5 * 60_000;
    if (resyncMs > 0) {
      this.resyncTimer = setInterval(() => this.resync(), resyncMs);
      this.resyncTimer.unref();
    }
  }

  /** Compares what the server has with what should be there, and corrects it, soon. */
  resync(): void {
    this.listDue = true;
    this.loop.kick();
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
    clearInterval(this.resyncTimer);
    await this.loop.stop();
    this.desired = new Map();
    this.changed = 'all';
    await this.converge().catch((err: Error) =>
      this.opts.log.warn(`could not delete ${this.resource.kind} objects`, { error: err.message }),
    );
  }

  /**
   * Takes over (or deletes) the objects of this node found on the server, as what is written
   * now: at start the ones a previous run left, at a resync the writer's own (having forgotten
   * what it believed it wrote).
   */
  protected abstract adopt(found: StatusObject<S>[]): Promise<void>;

  /** Forgets what the writer believes it wrote (a resync adopts the server's objects instead). */
  protected abstract forget(): void;

  /** One pass toward `desired`. */
  protected abstract apply(): Promise<void>;

  private async converge(): Promise<void> {
    if (this.listDue) {
      const found = await this.objects.list(`${nodeLabel}=${this.opts.node}`);
      this.forget();
      this.changed = 'all';
      this.listDue = false;
      try {
        await this.adopt(found);
      } catch (err) {
        // Half adopted: what was not is unknown to the writer; list again next time.
        this.listDue = true;
        throw err;
      }
    }
    await this.apply();
  }
}
