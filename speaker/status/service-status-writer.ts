// One status object per Service this node announces (ServiceL2Status, ServiceBGPStatus), as
// MetalLB's speaker writes them: named by the API server from a generateName prefix, labelled
// with the node and the Service, status {node, serviceName, serviceNamespace} plus what the
// protocol adds (interfaces, peers); written when that changes, deleted when the node stops
// announcing the Service and on SIGTERM. Each object is owned by the speaker's Pod when the
// speaker knows it (`owner`). Objects a previous run of this node left are taken over, their
// ownerReference moved to this Pod (or, duplicates, deleted).

import type { KubeConfig } from '@kubernetes/client-node';
import type { ApiRequester } from '../../controller/api-request.js';
import type { Logger } from '../../lib/log.js';
import {
  ConvergeLoop,
  nodeLabel,
  type OwnerReference,
  serviceNameLabel,
  serviceNamespaceLabel,
  splitKey,
  StatusObjects,
} from './status-objects.js';

export interface ServiceStatus {
  node?: string;
  serviceName?: string;
  serviceNamespace?: string;
}

export interface StatusWriterOptions {
  node: string;
  namespace: string;
  kubeConfig: KubeConfig;
  api: ApiRequester;
  log: Logger;
  /** The speaker's Pod (speakerPodOwner): every object gets it as its ownerReference. */
  owner?: OwnerReference;
  /** At most one write pass per this long; default 500 ms. */
  minIntervalMs?: number;
  retryMs?: number;
}

/** What distinguishes one kind of per-Service status object from the other. */
export interface ServiceStatusKind<V, S extends ServiceStatus> {
  kind: string;
  plural: string;
  generateName: string;
  /** The protocol's part of the status for `value`. */
  status: (value: V) => Omit<S, keyof ServiceStatus>;
  /** Equal exactly when the written status needs no update: of a desired value, */
  fingerprint: (value: V) => string;
  /** and of an object found on the server. */
  writtenFingerprint: (status: S | undefined) => string;
  /** After a Service's object is first created (L2: delete the objects of gone nodes). */
  afterCreate?: (key: string, objects: StatusObjects<S>) => Promise<void>;
}

interface Written {
  name: string;
  /** What the object holds; undefined when created and not yet written. */
  fingerprint: string | undefined;
}

export class ServiceStatusWriter<V, S extends ServiceStatus> {
  private readonly objects: StatusObjects<S>;
  private readonly loop: ConvergeLoop;
  /** Service key → the value to show. */
  private desired: ReadonlyMap<string, V> = new Map();
  /** Service key → our object. */
  private readonly written = new Map<string, Written>();
  private adopted = false;

  constructor(
    private readonly opts: StatusWriterOptions,
    private readonly spec: ServiceStatusKind<V, S>,
  ) {
    this.objects = new StatusObjects(
      opts.api,
      opts.kubeConfig,
      opts.namespace,
      spec.plural,
      spec.kind,
      opts.owner,
    );
    this.loop = new ConvergeLoop({
      pass: () => this.converge(),
      onError: (err) => opts.log.warn(`could not write ${spec.kind}`, { error: err.message }),
      minIntervalMs: opts.minIntervalMs ?? 500,
      retryMs: opts.retryMs ?? 1000,
    });
  }

  /** The Services announced now (key "ns/name"); the objects follow asynchronously. */
  set(desired: ReadonlyMap<string, V>): void {
    this.desired = desired;
    this.loop.kick();
  }

  /** Deletes every object of this node (SIGTERM). */
  async clear(): Promise<void> {
    await this.loop.stop();
    this.desired = new Map();
    await this.converge().catch((err: Error) =>
      this.opts.log.warn(`could not delete ${this.spec.kind} objects`, { error: err.message }),
    );
  }

  private async converge(): Promise<void> {
    if (!this.adopted) {
      for (const obj of await this.objects.list(`${nodeLabel}=${this.opts.node}`)) {
        const l = obj.metadata?.labels ?? {};
        const ns = l[serviceNamespaceLabel];
        const svc = l[serviceNameLabel];
        const name = obj.metadata?.name;
        if (ns === undefined || svc === undefined || name === undefined) continue;
        const key = `${ns}/${svc}`;
        // Two objects for one Service (a crash between create and record): keep one.
        if (this.written.has(key)) await this.objects.delete(name);
        else if (await this.objects.own(obj))
          this.written.set(key, { name, fingerprint: this.spec.writtenFingerprint(obj.status) });
      }
      this.adopted = true;
    }
    for (const [key, w] of [...this.written]) {
      if (this.desired.has(key)) continue;
      await this.objects.delete(w.name);
      this.written.delete(key);
    }
    for (const [key, value] of this.desired) {
      const fingerprint = this.spec.fingerprint(value);
      let w = this.written.get(key);
      if (w?.fingerprint === fingerprint) continue;
      const [ns, svc] = splitKey(key);
      const created = w === undefined;
      if (w === undefined) {
        const name = await this.objects.create(
          { generateName: this.spec.generateName },
          { [nodeLabel]: this.opts.node, [serviceNameLabel]: svc, [serviceNamespaceLabel]: ns },
        );
        this.opts.log.info(`${this.spec.kind} created`, { service: key, name });
        w = { name, fingerprint: undefined };
        this.written.set(key, w);
      }
      await this.objects.writeStatus(w.name, {
        node: this.opts.node,
        serviceName: svc,
        serviceNamespace: ns,
        ...this.spec.status(value),
      } as S);
      w.fingerprint = fingerprint;
      if (created) await this.spec.afterCreate?.(key, this.objects);
    }
  }
}
