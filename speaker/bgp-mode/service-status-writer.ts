// ServiceBGPStatus objects (crds/metallb.io_servicebgpstatuses.yaml): one per Service this
// node announces over BGP, named by the API server from generateName `bgp-`, labelled with the
// node and the Service as MetalLB's speaker does, status.peers the BGPPeers its IPs go to
// (the planner's `announced`); deleted when the node stops announcing it and on SIGTERM.
// As ServiceL2Status (speaker/layer2/l2-status.ts), but with the coalescing ConvergeLoop.

import { ConvergeLoop, StatusObjects } from './status-objects.js';
import { nodeLabel, type StatusWriterOptions } from './session-state-writer.js';

export const serviceNameLabel = 'metallb.io/service-name';
export const serviceNamespaceLabel = 'metallb.io/service-namespace';

interface ServiceBGPStatusStatus {
  node?: string;
  serviceName?: string;
  serviceNamespace?: string;
  peers?: string[];
}

interface Written {
  name: string;
  /** The peers last written, joined; undefined when created and not yet written. */
  peers: string | undefined;
}

export class ServiceBgpStatusWriter {
  private readonly objects: StatusObjects<ServiceBGPStatusStatus>;
  private readonly loop: ConvergeLoop;
  /** Service key → BGPPeer names. */
  private desired: ReadonlyMap<string, readonly string[]> = new Map();
  /** Service key → our object. */
  private readonly written = new Map<string, Written>();
  private adopted = false;

  constructor(private readonly opts: StatusWriterOptions) {
    this.objects = new StatusObjects(
      opts.api,
      opts.kubeConfig,
      opts.namespace,
      'servicebgpstatuses',
      'ServiceBGPStatus',
    );
    this.loop = new ConvergeLoop({
      pass: () => this.converge(),
      onError: (err) => opts.log.warn('could not write ServiceBGPStatus', { error: err.message }),
      minIntervalMs: opts.minIntervalMs ?? 500,
      retryMs: opts.retryMs ?? 1000,
    });
  }

  /** Service key ("ns/name") → the BGPPeers it is announced to from this node. */
  set(desired: ReadonlyMap<string, readonly string[]>): void {
    this.desired = desired;
    this.loop.kick();
  }

  /** Deletes every object of this node (SIGTERM). */
  async clear(): Promise<void> {
    await this.loop.stop();
    this.desired = new Map();
    await this.converge().catch((err: Error) =>
      this.opts.log.warn('could not delete ServiceBGPStatus objects', { error: err.message }),
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
        else this.written.set(key, { name, peers: (obj.status?.peers ?? []).join(',') });
      }
      this.adopted = true;
    }
    for (const [key, w] of [...this.written]) {
      if (this.desired.has(key)) continue;
      await this.objects.delete(w.name);
      this.written.delete(key);
    }
    for (const [key, peers] of this.desired) {
      const joined = peers.join(',');
      let w = this.written.get(key);
      if (w?.peers === joined) continue;
      const [ns, svc] = splitKey(key);
      if (w === undefined) {
        const name = await this.objects.create(
          { generateName: 'bgp-' },
          { [nodeLabel]: this.opts.node, [serviceNameLabel]: svc, [serviceNamespaceLabel]: ns },
        );
        this.opts.log.info('ServiceBGPStatus created', { service: key, name });
        w = { name, peers: undefined };
        this.written.set(key, w);
      }
      await this.objects.writeStatus(w.name, {
        node: this.opts.node,
        serviceName: svc,
        serviceNamespace: ns,
        peers: [...peers],
      });
      w.peers = joined;
    }
  }
}

function splitKey(key: string): [string, string] {
  const i = key.indexOf('/');
  return [key.slice(0, i), key.slice(i + 1)];
}
