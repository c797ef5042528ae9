// One status object per Service this node announces (ServiceL2Status, ServiceBGPStatus), as
// MetalLB's speaker writes them: named by the API server from a generateName prefix, labelled
// with the node and the Service, status {node, serviceName, serviceNamespace} plus what the
// protocol adds (interfaces, peers); written when that changes, deleted when the node stops
// announcing the Service and on SIGTERM. Each object is owned by the speaker's Pod when the
// speaker knows it (`owner`). Objects a previous run of this node left are taken over, their
// ownerReference moved to this Pod (or, duplicates, deleted).

import {
  nodeLabel,
  serviceNameLabel,
  serviceNamespaceLabel,
  splitKey,
  type StatusObject,
  type StatusObjects,
} from './status-objects.js';
import { StatusWriter, type StatusWriterOptions } from './status-writer.js';

export type { StatusWriterOptions } from './status-writer.js';

export interface ServiceStatus {
  node?: string;
  serviceName?: string;
  serviceNamespace?: string;
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

export class ServiceStatusWriter<V, S extends ServiceStatus> extends StatusWriter<V, S> {
  /** Service key → our object. */
  private readonly written = new Map<string, Written>();
  /** Requests in flight at once during a pass. */
  private readonly concurrency: number;

  constructor(
    opts: StatusWriterOptions,
    private readonly spec: ServiceStatusKind<V, S>,
  ) {
    super(opts, spec);
    this.concurrency = opts.concurrency ?? 4;
  }

  protected forget(): void {
    this.written.clear();
  }

  protected async adopt(found: StatusObject<S>[]): Promise<void> {
    for (const obj of found) {
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
  }

  /**
   * Writes the objects of the Services that changed since the last pass (every Service after
   * set()), `concurrency` requests at a time: at 10,000 Services one request after another
   * fell minutes behind the routes.
   */
  protected async apply(): Promise<void> {
    const changed = this.takeChanged();
    const queue =
      changed === 'all' ? [...new Set([...this.written.keys(), ...this.desired.keys()])] : [...changed];
    const failed: string[] = [];
    let error: unknown;
    const worker = async (): Promise<void> => {
      for (let key = queue.shift(); key !== undefined; key = queue.shift()) {
        try {
          await this.applyOne(key);
        } catch (err) {
          failed.push(key);
          error ??= err;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, queue.length) }, worker));
    if (error !== undefined) {
      this.giveBack(failed);
      throw error;
    }
  }

  private async applyOne(key: string): Promise<void> {
    const w = this.written.get(key);
    const value = this.desired.get(key);
    if (value === undefined) {
      if (w === undefined) return;
      await this.objects.delete(w.name);
      this.written.delete(key);
      return;
    }
    const fingerprint = this.spec.fingerprint(value);
    if (w?.fingerprint === fingerprint) return;
    const [ns, svc] = splitKey(key);
    let target = w;
    if (target === undefined) {
      const name = await this.objects.create(
        { generateName: this.spec.generateName },
        { [nodeLabel]: this.opts.node, [serviceNameLabel]: svc, [serviceNamespaceLabel]: ns },
      );
      this.opts.log.debug(`${this.spec.kind} created`, { service: key, name });
      target = { name, fingerprint: undefined };
      this.written.set(key, target);
    }
    await this.objects.writeStatus(target.name, {
      node: this.opts.node,
      serviceName: svc,
      serviceNamespace: ns,
      ...this.spec.status(value),
    } as S);
    target.fingerprint = fingerprint;
    if (w === undefined) await this.spec.afterCreate?.(key, this.objects);
  }
}
