// List + watch for one kind, level-triggered (controller-runtime style): a LIST fills the cache
// and yields a resourceVersion, a WATCH from it keeps the cache current. A watch that ends is
// resumed from the last resourceVersion seen; a 410 Gone (the server no longer has that
// history) forces a fresh LIST; failures retry with jittered exponential backoff. Listeners
// are told only which keys changed: they read the current state from the cache.

import { Backoff } from './backoff.js';
import { Cache, objectKey, type ReadonlyCache } from './cache.js';
import type { KubeObject, Transport, WatchEvent, WatchHandle } from './transport.js';
import { ApiError } from './transport.js';
import type { Logger } from '../log.js';

export interface ResourceRef {
  /** '' for the core group. */
  group: string;
  version: string;
  plural: string;
  /** Watch one namespace only; undefined watches all namespaces (or a cluster-scoped kind). */
  namespace?: string;
}

export function resourcePath(r: ResourceRef): string {
  const base = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
  return r.namespace ? `${base}/namespaces/${r.namespace}/${r.plural}` : `${base}/${r.plural}`;
}

export interface ReflectorOptions {
  transport: Transport;
  resource: ResourceRef;
  log: Logger;
  backoff?: Backoff;
  sleep?: (ms: number) => Promise<void>;
  pageSize?: number;
  /** Server-side watch timeout; randomised a little so watches don't all end together. */
  watchTimeoutSeconds?: number;
  /** Counts each LIST/WATCH failure (for metallb_k8s_client_update_errors_total and friends). */
  onError?: (err: Error) => void;
  /**
   * Keeps only what the consumer reads of each listed or watched object. A Service as the API
   * server sends it is mostly managedFields and fields no controller of load balancers reads;
   * caching it whole costs memory per Service for nothing.
   */
  project?: (obj: KubeObject) => KubeObject;
}

type Listener = (keys: string[]) => void;

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class Reflector<T extends KubeObject> {
  private readonly store = new Cache<T>();
  private readonly listeners = new Set<Listener>();
  private readonly backoff: Backoff;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly path: string;
  private running = false;
  private watchHandle: WatchHandle | undefined;
  private wake: (() => void) | undefined;
  private syncedResolve!: () => void;
  private isSynced = false;
  /** Resolves after the first successful LIST. */
  readonly synced: Promise<void>;
  /** The last resourceVersion seen: where a resumed watch starts. */
  resourceVersion = '';
  lists = 0;
  watches = 0;

  constructor(private readonly opts: ReflectorOptions) {
    this.backoff = opts.backoff ?? new Backoff();
    this.sleep = opts.sleep ?? defaultSleep;
    this.path = resourcePath(opts.resource);
    this.synced = new Promise((resolve) => (this.syncedResolve = resolve));
  }

  get cache(): ReadonlyCache<T> {
    return this.store;
  }

  hasSynced(): boolean {
    return this.isSynced;
  }

  /** Registers a listener for changed keys; returns an unsubscribe function. */
  onChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    void this.loop();
  }

  stop(): void {
    this.running = false;
    this.watchHandle?.stop();
    this.wake?.();
  }

  private notify(keys: string[]): void {
    if (keys.length === 0) return;
    for (const l of this.listeners) l(keys);
  }

  private async loop(): Promise<void> {
    let needList = true;
    while (this.running) {
      try {
        if (needList) {
          await this.list();
          needList = false;
        }
        this.opts.log.debug('watch starting', { resource: this.path, resourceVersion: this.resourceVersion });
        const outcome = await this.watchOnce();
        this.opts.log.debug('watch ended', {
          resource: this.path,
          outcome,
          resourceVersion: this.resourceVersion,
        });
        if (outcome === 'gone') needList = true;
      } catch (err) {
        const e = err instanceof Error ? err : new Error(String(err));
        if (e instanceof ApiError && e.status === 410) needList = true;
        this.opts.onError?.(e);
        if (!this.running) break;
        const delay = this.backoff.next();
        this.opts.log.warn('watch failed, retrying', {
          resource: this.path,
          error: e.message,
          retryMs: delay,
        });
        await Promise.race([this.sleep(delay), new Promise<void>((r) => (this.wake = r))]);
      }
    }
  }

  private async list(): Promise<void> {
    const items: T[] = [];
    let cont: string | undefined;
    let rv: string;
    do {
      const page = await this.opts.transport.list<T>(this.path, {
        limit: this.opts.pageSize ?? 500,
        ...(cont ? { continue: cont } : {}),
      });
      const project = this.opts.project;
      items.push(...(project ? page.items.map((o) => project(o) as T) : page.items));
      rv = page.resourceVersion;
      cont = page.continue;
    } while (cont && this.running);
    this.lists++;
    this.resourceVersion = rv;
    const changed = this.store.replace(items);
    this.backoff.reset();
    if (!this.isSynced) {
      this.isSynced = true;
      this.syncedResolve();
    }
    this.notify(changed);
  }

  /** Watches until the stream ends: 'ended' (resume from resourceVersion) or 'gone' (relist). */
  private watchOnce(): Promise<'ended' | 'gone'> {
    this.watches++;
    const timeout = this.opts.watchTimeoutSeconds ?? 300;
    return new Promise((resolve, reject) => {
      let outcome: 'gone' | ApiError | undefined;
      this.watchHandle = this.opts.transport.watch<T>(
        this.path,
        {
          resourceVersion: this.resourceVersion,
          timeoutSeconds: Math.round(timeout * (1 + Math.random() * 0.2)),
        },
        (event) => {
          if (outcome) return;
          const result = this.handle(event);
          if (result !== 'ok') {
            outcome = result;
            this.watchHandle?.stop();
          }
        },
        (err) => {
          this.watchHandle = undefined;
          if (outcome === 'gone') resolve('gone');
          else if (outcome) reject(outcome);
          else if (err) reject(err);
          else resolve('ended');
        },
      );
    });
  }

  private handle(event: WatchEvent<T>): 'ok' | 'gone' | ApiError {
    if (event.type === 'ERROR') {
      const status = event.object as { code?: number; message?: string };
      if (status.code === 410) return 'gone';
      return new ApiError(`watch error: ${status.message ?? 'unknown'}`, status.code);
    }
    const obj = event.object as T;
    const rv = obj.metadata?.resourceVersion;
    if (rv) this.resourceVersion = rv;
    this.backoff.reset();
    if (event.type === 'BOOKMARK') return 'ok';
    if (event.type === 'DELETED') {
      if (this.store.delete(objectKey(obj))) this.notify([objectKey(obj)]);
    } else if (this.store.set(this.opts.project ? (this.opts.project(obj) as T) : obj)) {
      this.notify([objectKey(obj)]);
    }
    return 'ok';
  }
}
