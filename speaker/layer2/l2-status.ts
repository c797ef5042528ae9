// ServiceL2Status objects (crds/metallb.io_servicel2statuses.yaml): one per Service this node
// announces, named by the API server from generateName `l2-` and labelled with the node and the
// Service, as MetalLB's speaker writes them; deleted when the node stops announcing it. Writes
// are serialised and converge on the latest desired set; a failed write is retried.
//
// A SIGKILLed speaker cannot delete its objects (in a cluster its Pod's ownerReference would
// let the garbage collector do it). The node that takes a Service over therefore deletes the
// Service's objects of nodes membership says are gone.

import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { ApiRequester } from '../../controller/api-request.js';
import type { Logger } from '../../lib/log.js';
import type { AnnouncedService } from './announced.js';

export const nodeLabel = 'metallb.io/node';
export const serviceNameLabel = 'metallb.io/service-name';
export const serviceNamespaceLabel = 'metallb.io/service-namespace';
const group = 'metallb.io';
const version = 'v1beta1';
const plural = 'servicel2statuses';

interface StatusObject {
  metadata?: { name?: string; labels?: Record<string, string> };
  status?: {
    node?: string;
    serviceName?: string;
    serviceNamespace?: string;
    interfaces?: { name?: string }[];
  };
}

export interface L2StatusWriterOptions {
  node: string;
  namespace: string;
  kubeConfig: KubeConfig;
  api: ApiRequester;
  log: Logger;
  /** Whether `node` is dead or gone for membership (its leftovers may be deleted). */
  isGone: (node: string) => boolean;
  retryMs?: number;
}

interface Written {
  name: string;
  interfaces: string;
}

export class L2StatusWriter {
  private readonly crd: CustomObjectsApi;
  private desired: ReadonlyMap<string, AnnouncedService> = new Map();
  /** Service key → our object. */
  private readonly written = new Map<string, Written>();
  private running = false;
  private dirty = false;
  private adopted = false;
  private stopped = false;
  private retry: NodeJS.Timeout | undefined;

  constructor(private readonly opts: L2StatusWriterOptions) {
    this.crd = opts.kubeConfig.makeApiClient(CustomObjectsApi);
  }

  /** The Services announced now; the objects follow asynchronously. */
  set(desired: ReadonlyMap<string, AnnouncedService>): void {
    this.desired = desired;
    this.kick();
  }

  /** Deletes every object of this node (SIGTERM), then stops. */
  async clear(): Promise<void> {
    this.desired = new Map();
    this.stopped = true;
    if (this.retry !== undefined) clearTimeout(this.retry);
    while (this.running) await new Promise((r) => setTimeout(r, 10));
    await this.converge().catch((err: Error) =>
      this.opts.log.warn('could not delete ServiceL2Status objects', { error: err.message }),
    );
  }

  private kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.dirty = true;
      return;
    }
    this.running = true;
    void this.converge()
      .catch((err: Error) => {
        this.opts.log.warn('could not write ServiceL2Status', { error: err.message });
        if (this.stopped) return;
        if (this.retry !== undefined) clearTimeout(this.retry);
        this.retry = setTimeout(() => {
          this.retry = undefined;
          this.kick();
        }, this.opts.retryMs ?? 1000);
      })
      .finally(() => {
        this.running = false;
        if (this.dirty) {
          this.dirty = false;
          this.kick();
        }
      });
  }

  private async converge(): Promise<void> {
    if (!this.adopted) {
      // Objects of a previous run of this node: take them over or delete them below.
      for (const obj of await this.list(`${nodeLabel}=${this.opts.node}`)) {
        const key = keyOf(obj);
        const name = obj.metadata?.name;
        if (key === undefined || name === undefined) continue;
        if (this.written.has(key)) await this.delete(name);
        else this.written.set(key, { name, interfaces: interfacesKey(obj) });
      }
      this.adopted = true;
    }
    for (const [key, w] of [...this.written]) {
      if (this.desired.has(key)) continue;
      await this.delete(w.name);
      this.written.delete(key);
    }
    for (const [key, svc] of this.desired) {
      const interfaces = svc.interfaces.join(',');
      const w = this.written.get(key);
      if (w !== undefined && w.interfaces === interfaces) continue;
      const name = w?.name ?? (await this.create(key));
      this.written.set(key, { name, interfaces: w?.interfaces ?? '\0' });
      await this.writeStatus(name, key, svc);
      this.written.set(key, { name, interfaces });
      if (w === undefined) await this.deleteLeftovers(key);
    }
  }

  private async create(key: string): Promise<string> {
    const [ns, name] = splitKey(key);
    const created = (await this.opts.api.request(
      'POST',
      `/apis/${group}/${version}/namespaces/${encodeURIComponent(this.opts.namespace)}/${plural}`,
      {
        apiVersion: `${group}/${version}`,
        kind: 'ServiceL2Status',
        metadata: {
          generateName: 'l2-',
          namespace: this.opts.namespace,
          labels: { [nodeLabel]: this.opts.node, [serviceNameLabel]: name, [serviceNamespaceLabel]: ns },
        },
        spec: {},
      },
    )) as StatusObject;
    const objName = created.metadata?.name;
    if (objName === undefined) throw new Error(`creating ServiceL2Status for ${key}: no name in the answer`);
    this.opts.log.info('ServiceL2Status created', { service: key, name: objName });
    return objName;
  }

  private async writeStatus(objName: string, key: string, svc: AnnouncedService): Promise<void> {
    const [ns, name] = splitKey(key);
    await this.opts.api.patch(
      `/apis/${group}/${version}/namespaces/${encodeURIComponent(this.opts.namespace)}/${plural}/${encodeURIComponent(objName)}/status`,
      'merge',
      {
        status: {
          node: this.opts.node,
          serviceName: name,
          serviceNamespace: ns,
          interfaces: svc.interfaces.map((n) => ({ name: n })),
        },
      },
    );
  }

  private async deleteLeftovers(key: string): Promise<void> {
    const [ns, name] = splitKey(key);
    for (const obj of await this.list(`${serviceNameLabel}=${name},${serviceNamespaceLabel}=${ns}`)) {
      const node = obj.metadata?.labels?.[nodeLabel];
      const objName = obj.metadata?.name;
      if (node === undefined || node === this.opts.node || objName === undefined) continue;
      if (!this.opts.isGone(node)) continue;
      this.opts.log.info('deleting the ServiceL2Status of a gone speaker', {
        service: key,
        node,
        name: objName,
      });
      await this.delete(objName);
    }
  }

  private async list(labelSelector: string): Promise<StatusObject[]> {
    const res = (await this.crd.listNamespacedCustomObject({
      group,
      version,
      namespace: this.opts.namespace,
      plural,
      labelSelector,
    })) as { items?: StatusObject[] };
    return res.items ?? [];
  }

  private async delete(objName: string): Promise<void> {
    try {
      await this.crd.deleteNamespacedCustomObject({
        group,
        version,
        namespace: this.opts.namespace,
        plural,
        name: objName,
      });
    } catch (err) {
      if ((err as { code?: number }).code === 404) return;
      throw err;
    }
  }
}

function splitKey(key: string): [string, string] {
  const i = key.indexOf('/');
  return [key.slice(0, i), key.slice(i + 1)];
}

function keyOf(obj: StatusObject): string | undefined {
  const l = obj.metadata?.labels ?? {};
  const ns = l[serviceNamespaceLabel];
  const name = l[serviceNameLabel];
  return ns !== undefined && name !== undefined ? `${ns}/${name}` : undefined;
}

function interfacesKey(obj: StatusObject): string {
  return (obj.status?.interfaces ?? [])
    .map((i) => i.name ?? '')
    .sort()
    .join(',');
}
