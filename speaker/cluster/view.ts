// The speaker's watch on the cluster: Services, Nodes and EndpointSlices, cached, mapped to
// the planners' input and handed to the protocols as one immutable snapshot. Changes are
// coalesced (a burst of watch events costs one snapshot) and every listener reads the same
// snapshot, so L2 and BGP decide from the same view.

import type { Logger } from '../../lib/log.js';
import { Reflector } from '../../lib/kube/reflector.js';
import type { Transport } from '../../lib/kube/transport.js';
import type { ServiceObject } from '../../lib/service/service-object.js';
import type { L2Service, PlannerInput } from '../layer2/plan/types.js';
import {
  servingNodes,
  toL2Service,
  toSpeakerNode,
  type EndpointSliceObject,
  type NodeObject,
  type SpeakerNode,
} from './objects.js';

export interface ClusterSnapshot extends PlannerInput {
  readonly services: readonly L2Service[];
  readonly nodes: readonly SpeakerNode[];
  /** Service key → the Service object as last seen (for Events and status owner references). */
  readonly serviceObjects: ReadonlyMap<string, ServiceObject>;
}

export interface ClusterViewOptions {
  transport: Transport;
  log: Logger;
  /** --lb-class: only Services of this class (or of no class when unset) are announced. */
  lbClass?: string;
  /** Coalescing window for bursts of changes, ms (default 20). */
  settleMs?: number;
  onError?: (err: Error) => void;
}

type Listener = (snapshot: ClusterSnapshot) => void;

export class ClusterView {
  private readonly services: Reflector<ServiceObject>;
  private readonly nodes: Reflector<NodeObject>;
  private readonly slices: Reflector<EndpointSliceObject>;
  private readonly listeners = new Set<Listener>();
  private timer: NodeJS.Timeout | undefined;
  private latest: ClusterSnapshot | undefined;
  private started = false;
  readonly synced: Promise<void>;

  constructor(private readonly opts: ClusterViewOptions) {
    const common = {
      transport: opts.transport,
      log: opts.log,
      ...(opts.onError ? { onError: opts.onError } : {}),
    };
    this.services = new Reflector<ServiceObject>({
      ...common,
      resource: { group: '', version: 'v1', plural: 'services' },
    });
    this.nodes = new Reflector<NodeObject>({
      ...common,
      resource: { group: '', version: 'v1', plural: 'nodes' },
    });
    this.slices = new Reflector<EndpointSliceObject>({
      ...common,
      resource: { group: 'discovery.k8s.io', version: 'v1', plural: 'endpointslices' },
    });
    this.synced = Promise.all([this.services.synced, this.nodes.synced, this.slices.synced]).then(() => {
      this.latest = this.build();
    });
    for (const r of [this.services, this.nodes, this.slices] as Reflector<never>[])
      r.onChange(() => this.schedule());
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.services.start();
    this.nodes.start();
    this.slices.start();
  }

  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.services.stop();
    this.nodes.stop();
    this.slices.stop();
  }

  /** The snapshot as of the last change; undefined until every cache has synced. */
  current(): ClusterSnapshot | undefined {
    return this.latest;
  }

  /** Called with a fresh snapshot after every (coalesced) change once synced. */
  onChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private schedule(): void {
    if (this.timer !== undefined || this.latest === undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.latest = this.build();
      for (const l of this.listeners) {
        try {
          l(this.latest);
        } catch (err) {
          this.opts.log.error('cluster view listener failed', { error: err });
        }
      }
    }, this.opts.settleMs ?? 20);
  }

  private build(): ClusterSnapshot {
    const services: L2Service[] = [];
    const serviceObjects = new Map<string, ServiceObject>();
    for (const svc of this.services.cache.list()) {
      const s = toL2Service(svc, this.opts.lbClass);
      if (s === undefined) continue;
      services.push(s);
      serviceObjects.set(s.key, svc);
    }
    services.sort((a, b) => a.key.localeCompare(b.key));
    const nodes = this.nodes.cache
      .list()
      .map(toSpeakerNode)
      .sort((a, b) => a.name.localeCompare(b.name));
    return { services, nodes, servingNodes: servingNodes(this.slices.cache.list()), serviceObjects };
  }
}
