// The I/O shared by the speaker's status writers (ServiceL2Status, ServiceBGPStatus,
// BGPSessionState): the metallb.io/v1beta1 object calls, the labels MetalLB puts on them, and
// the loop that converges objects on the latest desired set: one pass at a time, at most one pass per `minIntervalMs` (a flapping session or a burst
// of Service changes costs one write per object per interval, not one per event), a failed
// pass retried after `retryMs`.

import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { ApiRequester } from '../../controller/api-request.js';

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

export interface StatusObject<S> {
  metadata?: { name?: string; labels?: Record<string, string> };
  status?: S;
}

export class StatusObjects<S> {
  private readonly crd: CustomObjectsApi;

  constructor(
    private readonly api: ApiRequester,
    kubeConfig: KubeConfig,
    private readonly namespace: string,
    private readonly plural: string,
    private readonly kind: string,
  ) {
    this.crd = kubeConfig.makeApiClient(CustomObjectsApi);
  }

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
      metadata: { ...meta, namespace: this.namespace, labels },
      spec: {},
    })) as StatusObject<S>;
    const name = created.metadata?.name;
    if (name === undefined) throw new Error(`creating a ${this.kind}: no name in the answer`);
    return name;
  }

  async writeStatus(name: string, status: S): Promise<void> {
    await this.api.patch(`${this.base}/${encodeURIComponent(name)}/status`, 'merge', { status });
  }

  /** Deletes the object; one already gone is fine. */
  async delete(name: string): Promise<void> {
    try {
      await this.crd.deleteNamespacedCustomObject({
        group,
        version,
        namespace: this.namespace,
        plural: this.plural,
        name,
      });
    } catch (err) {
      if ((err as { code?: number }).code === 404) return;
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
