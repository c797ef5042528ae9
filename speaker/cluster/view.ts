// The speaker's watch on the cluster: Services, Nodes and EndpointSlices, cached, mapped to
// the planners' input and handed to the protocols as one snapshot. Changes are coalesced (a
// burst of watch events costs one notification) and every listener reads the same snapshot,
// so L2 and BGP decide from the same view.
//
// Work is proportional to what changed: the view keeps the mapped Services and the serving
// nodes per Service up to date one object at a time, and tells listeners which Services
// changed (or 'all' when a Node did, which every Service's plan depends on). At 10,000
// Services a rebuild of everything per change held the event loop for hundreds of
// milliseconds, long enough to make BGP keepalives and BFD packets late.
//
// A snapshot's maps are the view's own, updated in place: read them in the listener (or via
// current()), do not keep them to compare with a later one.

import type { Logger } from '../../lib/log.js';
import { Reflector } from '../../lib/kube/reflector.js';
import type { Transport } from '../../lib/kube/transport.js';
import type { ServiceObject } from '../../lib/service/service-object.js';
import type { L2Service, PlannerInput } from '../layer2/plan/types.js';
import {
  projectEndpointSlice,
  projectNode,
  projectService,
  serviceNameLabel,
  sliceServingNodes,
  toL2Service,
  toSpeakerNode,
  type EndpointSliceObject,
  type NodeObject,
  type SpeakerNode,
} from './objects.js';

export interface ClusterSnapshot extends PlannerInput {
  /** Every Service we announce, sorted by key (built when first read after a change). */
  readonly services: readonly L2Service[];
  readonly nodes: readonly SpeakerNode[];
  /** Service key → the mapped Service: one Service without building `services`. */
  readonly serviceByKey: ReadonlyMap<string, L2Service>;
  /** Service key → the Service object as last seen (projected: the fields the speaker reads),
   * for Events and status owner references. */
  readonly serviceObjects: ReadonlyMap<string, ServiceObject>;
}

/** What changed since the previous notification: these Service keys, or everything. */
export type ClusterChanges = { readonly services: ReadonlySet<string> } | 'all';

export interface ClusterViewOptions {
  transport: Transport;
  log: Logger;
  /** --lb-class: only Services of this class (or of no class when unset) are announced. */
  lbClass?: string;
  /** Coalescing window for bursts of changes, ms (default 20). */
  settleMs?: number;
  onError?: (err: Error) => void;
}

type Listener = (snapshot: ClusterSnapshot, changes: ClusterChanges) => void;

/** Plain code-unit order: deterministic on every speaker and far cheaper than localeCompare. */
const byKey = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

const nodesKey = (nodes: readonly SpeakerNode[]): string =>
  JSON.stringify(nodes, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));

export class ClusterView {
  private readonly services: Reflector<ServiceObject>;
  private readonly nodes: Reflector<NodeObject>;
  private readonly slices: Reflector<EndpointSliceObject>;
  private readonly listeners = new Set<Listener>();
  private timer: NodeJS.Timeout | undefined;
  private latest: ClusterSnapshot | undefined;
  private started = false;
  readonly synced: Promise<void>;

  // The mapped state, kept current object by object.
  private readonly serviceByKey = new Map<string, L2Service>();
  private readonly serviceObjects = new Map<string, ServiceObject>();
  private readonly servingNodes = new Map<string, Set<string>>();
  /** EndpointSlice key → its Service key and the nodes it counts (what it adds to servingNodes). */
  private readonly sliceServing = new Map<string, { service: string; nodes: readonly string[] }>();
  /** Service key → node → how many of its slices count that node. */
  private readonly servingCounts = new Map<string, Map<string, number>>();
  private nodeList: SpeakerNode[] = [];
  private sorted: L2Service[] | undefined;
  /** How long the listeners took on the last notification, ms. */
  private lastListenersMs = 0;
  /** Since the last notification. */
  private pending: Set<string> | 'all' = 'all';

  constructor(private readonly opts: ClusterViewOptions) {
    const common = {
      transport: opts.transport,
      log: opts.log,
      ...(opts.onError ? { onError: opts.onError } : {}),
    };
    this.services = new Reflector<ServiceObject>({
      ...common,
      resource: { group: '', version: 'v1', plural: 'services' },
      project: projectService,
    });
    this.nodes = new Reflector<NodeObject>({
      ...common,
      resource: { group: '', version: 'v1', plural: 'nodes' },
      project: projectNode,
    });
    this.slices = new Reflector<EndpointSliceObject>({
      ...common,
      resource: { group: 'discovery.k8s.io', version: 'v1', plural: 'endpointslices' },
      project: projectEndpointSlice,
    });
    this.synced = Promise.all([this.services.synced, this.nodes.synced, this.slices.synced]).then(() => {
      // The first snapshot is read whole (current()); notifications report changes after it.
      this.pending = new Set();
      this.latest = this.snapshot();
    });
    this.services.onChange((keys) => {
      for (const key of keys) this.serviceChanged(key);
      this.schedule();
    });
    this.slices.onChange((keys) => {
      for (const key of keys) this.sliceChanged(key);
      this.schedule();
    });
    this.nodes.onChange(() => {
      const next = this.nodes.cache
        .list()
        .map(toSpeakerNode)
        .sort((a, b) => byKey(a.name, b.name));
      // Nodes are rewritten often (status heartbeats) without a change the speaker reads.
      if (nodesKey(next) === nodesKey(this.nodeList)) return;
      this.nodeList = next;
      this.pending = 'all';
      this.schedule();
    });
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

  /** Called with the snapshot and what changed after every (coalesced) change once synced. */
  onChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private mark(key: string): void {
    if (this.pending !== 'all') this.pending.add(key);
  }

  private serviceChanged(key: string): void {
    const obj = this.services.cache.get(key);
    const mapped = obj === undefined ? undefined : toL2Service(obj, this.opts.lbClass);
    const had = this.serviceByKey.has(key);
    if (mapped === undefined) {
      if (!had) return;
      this.serviceByKey.delete(key);
      this.serviceObjects.delete(key);
    } else {
      this.serviceByKey.set(key, mapped);
      this.serviceObjects.set(key, obj!);
    }
    this.sorted = undefined;
    this.mark(key);
  }

  private sliceChanged(sliceKey: string): void {
    const old = this.sliceServing.get(sliceKey);
    if (old !== undefined) {
      this.count(old.service, old.nodes, -1);
      this.sliceServing.delete(sliceKey);
    }
    const slice = this.slices.cache.get(sliceKey);
    const name = slice?.metadata?.labels?.[serviceNameLabel];
    if (slice !== undefined && name) {
      const service = `${slice.metadata?.namespace ?? ''}/${name}`;
      const nodes = sliceServingNodes(slice);
      this.sliceServing.set(sliceKey, { service, nodes });
      this.count(service, nodes, 1);
    }
  }

  /** Adds (or removes) one slice's nodes to its Service's serving set. */
  private count(service: string, nodes: readonly string[], delta: 1 | -1): void {
    if (nodes.length === 0) return;
    let counts = this.servingCounts.get(service);
    if (counts === undefined) this.servingCounts.set(service, (counts = new Map()));
    for (const node of nodes) {
      const n = (counts.get(node) ?? 0) + delta;
      if (n > 0) counts.set(node, n);
      else counts.delete(node);
    }
    // A new Set for the Service (never mutated once handed out): consumers may compare it.
    if (counts.size === 0) {
      this.servingCounts.delete(service);
      this.servingNodes.delete(service);
    } else this.servingNodes.set(service, new Set(counts.keys()));
    this.mark(service);
  }

  private schedule(): void {
    if (this.timer !== undefined || this.latest === undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const changes: ClusterChanges = this.pending === 'all' ? 'all' : { services: this.pending };
      this.pending = new Set();
      if (changes !== 'all' && changes.services.size === 0) return;
      this.latest = this.snapshot();
      const started = performance.now();
      for (const l of this.listeners) {
        try {
          l(this.latest, changes);
        } catch (err) {
          this.opts.log.error('cluster view listener failed', { error: err });
        }
      }
      this.lastListenersMs = performance.now() - started;
    }, this.window());
  }

  /**
   * The coalescing window: settleMs, or twice what the listeners took last time (at most 1 s).
   * A listener whose work grows with the cluster (a plan of every Service) then runs at most a
   * third of the time during churn, and the rest of the event loop (keepalives, BFD, I/O)
   * keeps its share.
   */
  private window(): number {
    return Math.min(1000, Math.max(this.opts.settleMs ?? 20, 2 * this.lastListenersMs));
  }

  private snapshot(): ClusterSnapshot {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const view = this;
    return {
      get services(): readonly L2Service[] {
        return (view.sorted ??= [...view.serviceByKey.values()].sort((a, b) => byKey(a.key, b.key)));
      },
      nodes: this.nodeList,
      serviceByKey: this.serviceByKey,
      serviceObjects: this.serviceObjects,
      servingNodes: this.servingNodes,
    };
  }
}
