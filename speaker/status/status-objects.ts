// The I/O shared by the speaker's status writers (ServiceL2Status, ServiceBGPStatus,
// BGPSessionState): the metallb.io/v1beta1 object calls, the labels MetalLB puts on them, the
// ownerReference to the speaker's Pod (as MetalLB sets it: the garbage collector then deletes
// the objects of a speaker whose Pod is gone, even one that never ran its SIGTERM path), and
// the loop that converges objects on the latest desired set: one pass at a time, at most one pass per `minIntervalMs` (a flapping session or a burst
// of Service changes costs one write per object per interval, not one per event), a failed
// pass retried after `retryMs`.

import type { ApiRequester } from '../../lib/kube/api-request.js';

const group = 'metallb.io';
const version = 'v1beta1';

export const nodeLabel = 'metallb.io/node';
export const serviceNameLabel = 'metallb.io/service-name';
export const serviceNamespaceLabel = 'metallb.io/service-namespace';

/** "namespace/name" → [namespace, name]. */
export function splitKey(key: string): [string, string] {
  const i = key.indexOf('/');
  return [key.slice(0, i), key.slice(i + 1)];
}

/** metadata.ownerReferences[] (a namespaced owner: the object's namespace is the owner's). */
export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
}

/**
 * The speaker's Pod, from the downward API variables manifests/speaker.yaml sets (POD_NAME:
 * metadata.name, POD_UID: metadata.uid); undefined when either is missing, as for a speaker
 * run as a plain process (the lab): its objects then have no owner. The Pod runs in the
 * namespace the objects are written to (METALLB_NAMESPACE is its metadata.namespace too).
 * Not a controller reference, and without blockOwnerDeletion (which needs the right to
 * update the Pod's finalizers): like controllerutil.SetOwnerReference in MetalLB.
 */
export function speakerPodOwner(env: NodeJS.ProcessEnv): OwnerReference | undefined {
  const name = env.POD_NAME;
  const uid = env.POD_UID;
  if (!name || !uid) return undefined;
  return { apiVersion: 'v1', kind: 'Pod', name, uid };
}

/** Whether an object's ownerReferences are exactly `owner` (none when undefined). */
export function ownedBy(
  refs: readonly OwnerReference[] | undefined,
  owner: OwnerReference | undefined,
): boolean {
  const list = refs ?? [];
  if (owner === undefined) return list.length === 0;
  return list.length === 1 && list[0]!.uid === owner.uid && list[0]!.name === owner.name;
}

export interface StatusObject<S> {
  metadata?: { name?: string; labels?: Record<string, string>; ownerReferences?: OwnerReference[] };
  status?: S;
}

export class StatusObjects<S> {
  constructor(
    private readonly api: ApiRequester,
    private readonly namespace: string,
    private readonly plural: string,
    private readonly kind: string,
    /** Set on every object created, and on objects taken over (see `own`). */
    private readonly owner?: OwnerReference,
  ) {}

  private get base(): string {
    return `/apis/${group}/${version}/namespaces/${encodeURIComponent(this.namespace)}/${this.plural}`;
  }

  async list(labelSelector: string): Promise<StatusObject<S>[]> {
    const res = (await this.api.request(
      'GET',
      `${this.base}?labelSelector=${encodeURIComponent(labelSelector)}`,
    )) as { items?: StatusObject<S>[] };
    return res.items ?? [];
  }

  /** Creates the object (`name`, or one the server generates from `generateName`); returns its name. */
  async create(
    meta: { name: string } | { generateName: string },
    labels: Record<string, string>,
  ): Promise<string> {
    const created = (await this.api.request('POST', this.base, {
      apiVersion: `${group}/${version}`,
      kind: this.kind,
      metadata: {
        ...meta,
        namespace: this.namespace,
        labels,
        ...(this.owner ? { ownerReferences: [this.owner] } : {}),
      },
      spec: {},
    })) as StatusObject<S>;
    const name = created.metadata?.name;
    if (name === undefined) throw new Error(`creating a ${this.kind}: no name in the answer`);
    return name;
  }

  /**
   * Makes an object a previous run of this node left ours: its ownerReferences become this
   * speaker's Pod (or none). Otherwise the garbage collector would delete it with the old Pod,
   * under a writer that believes it is written. Resolves false when the object is gone.
   */
  async own(obj: StatusObject<S>): Promise<boolean> {
    const name = obj.metadata?.name;
    if (name === undefined) return false;
    if (ownedBy(obj.metadata?.ownerReferences, this.owner)) return true;
    try {
      // A merge patch replaces the list as a whole (null removes it).
      await this.api.patch(`${this.base}/${encodeURIComponent(name)}`, 'merge', {
        metadata: { ownerReferences: this.owner ? [this.owner] : null },
      });
      return true;
    } catch (err) {
      if ((err as { status?: number }).status === 404) return false;
      throw err;
    }
  }

  /** The object `name` as the server has it, or undefined when there is none. */
  async get(name: string): Promise<StatusObject<S> | undefined> {
    try {
      return (await this.api.request('GET', `${this.base}/${encodeURIComponent(name)}`)) as StatusObject<S>;
    } catch (err) {
      if ((err as { status?: number }).status === 404) return undefined;
      throw err;
    }
  }

  async writeStatus(name: string, status: S): Promise<void> {
    await this.api.patch(`${this.base}/${encodeURIComponent(name)}/status`, 'merge', { status });
  }

  /** Deletes the object; one already gone is fine. */
  async delete(name: string): Promise<void> {
    try {
      await this.api.request('DELETE', `${this.base}/${encodeURIComponent(name)}`);
    } catch (err) {
      if ((err as { status?: number }).status === 404) return;
      throw err;
    }
  }
}

export interface ConvergeLoopOptions {
  /** One pass towards the latest desired state; throws to be retried. */
  pass: () => Promise<void>;
  onError: (err: Error) => void;
  minIntervalMs: number;
  retryMs: number;
}

export class ConvergeLoop {
  private running = false;
  private dirty = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private lastStart = -Infinity;

  constructor(private readonly opts: ConvergeLoopOptions) {}

  /** Something changed: a pass runs now, or when the running one ends or the interval allows. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.dirty = true;
      return;
    }
    if (this.timer !== undefined) return;
    const wait = this.lastStart + this.opts.minIntervalMs - performance.now();
    if (wait > 0) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.kick();
      }, wait);
      return;
    }
    this.running = true;
    this.lastStart = performance.now();
    void this.opts
      .pass()
      .catch((err: Error) => {
        this.opts.onError(err);
        if (this.stopped || this.timer !== undefined) return;
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.kick();
        }, this.opts.retryMs);
      })
      .finally(() => {
        this.running = false;
        if (this.dirty) {
          this.dirty = false;
          this.kick();
        }
      });
  }

  /** No more passes on their own; resolves once the running one has ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    while (this.running) await new Promise((r) => setTimeout(r, 10));
  }
}
