// The cluster view over a scripted API server: it keeps the mapped Services and the serving
// nodes per Service current object by object, tells listeners which Services changed (all of
// them only when a Node changed in a way the speaker reads), and caches only the projected
// objects.

import { createLogger } from '../../lib/log.js';
import type { KubeObject, ListPage, Transport, WatchEvent } from '../../lib/kube/transport.js';
import { ClusterView, type ClusterChanges, type ClusterSnapshot } from './view.js';

type Send = (e: WatchEvent<KubeObject>) => void;

class ScriptedServer implements Transport {
  readonly items: Record<string, KubeObject[]> = { services: [], nodes: [], endpointslices: [] };
  readonly watches: Record<string, Send> = {};
  list<T>(path: string): Promise<ListPage<T>> {
    const kind = path.split('/').pop()!;
    return Promise.resolve({ items: (this.items[kind] ?? []) as T[], resourceVersion: '1' });
  }
  watch<T>(path: string, _opts: unknown, onEvent: (e: WatchEvent<T>) => void) {
    this.watches[path.split('/').pop()!] = onEvent as Send;
    return { stop: () => undefined };
  }
}

let rv = 10;
const service = (name: string, ip: string, extra: object = {}): KubeObject =>
  ({
    metadata: {
      namespace: 'ns',
      name,
      uid: `uid-${name}`,
      resourceVersion: String(rv++),
      annotations: {
        'metallb.io/ip-allocated-from-pool': 'p',
        'kubectl.kubernetes.io/last-applied-configuration': '{}',
      },
      managedFields: [{ manager: 'kubectl' }],
    },
    spec: { type: 'LoadBalancer', ports: [{ port: 80 }], selector: { app: name }, ...extra },
    status: { loadBalancer: { ingress: [{ ip, ipMode: 'VIP' }] } },
  }) as KubeObject;
const slice = (name: string, serviceName: string, nodes: string[]): KubeObject =>
  ({
    metadata: {
      namespace: 'ns',
      name,
      resourceVersion: String(rv++),
      labels: { 'kubernetes.io/service-name': serviceName, 'endpointslice.kubernetes.io/managed-by': 'x' },
    },
    endpoints: nodes.map((nodeName) => ({
      nodeName,
      addresses: ['10.244.0.1'],
      conditions: { ready: true },
    })),
  }) as KubeObject;
const node = (name: string, labels: Record<string, string> = {}): KubeObject =>
  ({
    metadata: { name, resourceVersion: String(rv++), labels },
    status: { addresses: [{ type: 'InternalIP', address: '10.77.0.11' }], images: [{ names: ['big'] }] },
  }) as KubeObject;

const quiet = createLogger({ level: 'error', component: 'test', write: () => undefined });

async function setup() {
  const server = new ScriptedServer();
  server.items.services = [service('a', '10.100.0.1'), service('b', '10.100.0.2')];
  server.items.endpointslices = [slice('a-1', 'a', ['n1']), slice('a-2', 'a', ['n2'])];
  server.items.nodes = [node('n1'), node('n2')];
  const view = new ClusterView({ transport: server, log: quiet, settleMs: 1 });
  const seen: { snapshot: ClusterSnapshot; changes: ClusterChanges }[] = [];
  view.onChange((snapshot, changes) => seen.push({ snapshot, changes }));
  view.start();
  await view.synced;
  const next = async (): Promise<ClusterChanges> => {
    const count = seen.length;
    for (let i = 0; i < 500 && seen.length === count; i++) await new Promise((r) => setTimeout(r, 2));
    if (seen.length === count) throw new Error('no notification');
    return seen[seen.length - 1]!.changes;
  };
  return { server, view, seen, next };
}

const changedKeys = (c: ClusterChanges): string[] | 'all' => (c === 'all' ? 'all' : [...c.services].sort());

describe('ClusterView', () => {
  it('maps the initial objects, sorted, with the serving nodes of every slice', async () => {
    const { view } = await setup();
    const s = view.current()!;
    expect(s.services.map((x) => x.key)).toEqual(['ns/a', 'ns/b']);
    expect([...(s.servingNodes.get('ns/a') ?? [])].sort()).toEqual(['n1', 'n2']);
    expect(s.servingNodes.has('ns/b')).toBe(false);
    expect(s.nodes.map((n) => n.name)).toEqual(['n1', 'n2']);
    view.stop();
  });

  it('reports the Services a change touched, and keeps serving nodes per slice', async () => {
    const { server, view, next } = await setup();
    server.watches.endpointslices!({ type: 'DELETED', object: slice('a-1', 'a', ['n1']) });
    expect(changedKeys(await next())).toEqual(['ns/a']);
    expect([...view.current()!.servingNodes.get('ns/a')!]).toEqual(['n2']);

    server.watches.endpointslices!({ type: 'ADDED', object: slice('b-1', 'b', ['n1']) });
    server.watches.services!({ type: 'ADDED', object: service('c', '10.100.0.3') });
    expect(changedKeys(await next())).toEqual(['ns/b', 'ns/c']);
    const s = view.current()!;
    expect(s.serviceByKey.get('ns/c')?.ips).toHaveLength(1);
    expect(s.services.map((x) => x.key)).toEqual(['ns/a', 'ns/b', 'ns/c']);

    // A Service that stops being a LoadBalancer leaves the view; its slices still count.
    server.watches.services!({ type: 'MODIFIED', object: service('b', '10.100.0.2', { type: 'ClusterIP' }) });
    expect(changedKeys(await next())).toEqual(['ns/b']);
    expect(view.current()!.serviceByKey.has('ns/b')).toBe(false);
    view.stop();
  });

  it('reports every Service only when a Node changed in what the speaker reads', async () => {
    const { server, view, seen, next } = await setup();
    // A status heartbeat: new resourceVersion, nothing the speaker reads.
    server.watches.nodes!({ type: 'MODIFIED', object: node('n1') });
    server.watches.services!({ type: 'MODIFIED', object: service('a', '10.100.0.9') });
    expect(changedKeys(await next())).toEqual(['ns/a']);
    server.watches.nodes!({ type: 'MODIFIED', object: node('n1', { zone: 'b' }) });
    expect(await next()).toBe('all');
    expect(view.current()!.nodes[0]!.labels).toEqual({ zone: 'b' });
    expect(seen).toHaveLength(2);
    view.stop();
  });

  it('keeps only the fields the speaker reads of each object', async () => {
    const { view } = await setup();
    expect(view.current()!.serviceObjects.get('ns/a')).toEqual({
      metadata: {
        namespace: 'ns',
        name: 'a',
        uid: 'uid-a',
        resourceVersion: expect.any(String) as string,
        annotations: { 'metallb.io/ip-allocated-from-pool': 'p' },
      },
      spec: { type: 'LoadBalancer' },
      status: { loadBalancer: { ingress: [{ ip: '10.100.0.1' }] } },
    });
    view.stop();
  });
});
