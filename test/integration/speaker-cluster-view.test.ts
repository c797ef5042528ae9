// The speaker's view of the cluster against a real API server, read as the speaker's own
// ServiceAccount: a LoadBalancer Service, its EndpointSlices and the Nodes become the planners'
// input, and follow every change.

import { CoreV1Api, DiscoveryV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { KubeClient } from '../../lib/kube/client.js';
import { formatIP } from '../../lib/ip/index.js';
import { createLogger } from '../../lib/log.js';
import { ClusterView, type ClusterSnapshot } from '../../speaker/cluster/view.js';
import { testEnv } from '../env/testenv.js';

const env = testEnv();
const admin = env.kubeConfig('admin');
const core = admin.makeApiClient(CoreV1Api);
const discovery = admin.makeApiClient(DiscoveryV1Api);
const ns = `view-${Math.random().toString(36).slice(2, 7)}`;
const nodeName = `${ns}-node`;
const quiet = createLogger({ level: 'error', component: 'test', write: () => undefined });

async function eventually<T>(probe: () => T | undefined, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("the speaker's cluster view", () => {
  let view: ClusterView;
  let latest: ClusterSnapshot | undefined;

  beforeAll(async () => {
    await core.createNamespace({ body: { metadata: { name: ns } } });
    await core.createNode({
      body: { metadata: { name: nodeName, labels: { zone: 'a' } } },
    });
    await core.patchNodeStatus(
      {
        name: nodeName,
        body: {
          status: {
            addresses: [{ type: 'InternalIP', address: '10.77.9.1' }],
            conditions: [
              {
                type: 'NetworkUnavailable',
                status: 'False',
                reason: 'RouteCreated',
                message: 'ok',
                lastHeartbeatTime: new Date(),
                lastTransitionTime: new Date(),
              },
            ],
          },
        },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    view = new ClusterView({
      transport: new KubeClient(env.kubeConfig('speaker')),
      log: quiet,
      settleMs: 10,
    });
    view.onChange((s) => (latest = s));
    view.start();
    await view.synced;
    latest = view.current();
  });
  afterAll(async () => {
    view?.stop();
    await core.deleteNode({ name: nodeName }).catch(() => undefined);
    await core.deleteCollectionNamespacedService({ namespace: ns }).catch(() => undefined);
    await core.deleteNamespace({ name: ns }).catch(() => undefined);
  });

  it('maps a Node with its InternalIP', () => {
    const node = latest?.nodes.find((n) => n.name === nodeName);
    expect(node?.labels).toEqual({ zone: 'a' });
    expect(node?.internalIPs.map(formatIP)).toEqual(['10.77.9.1']);
    expect(node?.networkUnavailable).toBe(false);
  });

  it('follows a LoadBalancer Service from pending to its ingress IP and its serving nodes', async () => {
    await core.createNamespacedService({
      namespace: ns,
      body: {
        metadata: { name: 'web', labels: { app: 'web' } },
        spec: {
          type: 'LoadBalancer',
          externalTrafficPolicy: 'Local',
          allocateLoadBalancerNodePorts: false,
          ports: [{ port: 80 }],
        },
      },
    });
    const pending = await eventually(() => latest?.services.find((s) => s.key === `${ns}/web`));
    expect(pending.ips).toEqual([]);
    expect(pending.externalTrafficPolicy).toBe('Local');

    await core.patchNamespacedServiceStatus(
      {
        namespace: ns,
        name: 'web',
        body: { status: { loadBalancer: { ingress: [{ ip: '192.168.10.222', ipMode: 'VIP' }] } } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await discovery.createNamespacedEndpointSlice({
      namespace: ns,
      body: {
        metadata: { name: 'web-1', labels: { 'kubernetes.io/service-name': 'web' } },
        addressType: 'IPv4',
        endpoints: [{ addresses: ['10.244.0.5'], nodeName, conditions: { ready: true } }],
      },
    });
    const served = await eventually(() => {
      const s = latest?.services.find((x) => x.key === `${ns}/web`);
      return s && s.ips.length > 0 && latest?.servingNodes.has(`${ns}/web`) ? latest : undefined;
    });
    expect(served.services.find((x) => x.key === `${ns}/web`)?.ips.map(formatIP)).toEqual(['192.168.10.222']);
    expect([...(served.servingNodes.get(`${ns}/web`) ?? [])]).toEqual([nodeName]);
    expect(served.serviceObjects.get(`${ns}/web`)?.metadata?.name).toBe('web');
  });

  it('drops a Service whose type changes away from LoadBalancer', async () => {
    await core.patchNamespacedService(
      {
        namespace: ns,
        name: 'web',
        body: { spec: { type: 'ClusterIP', allocateLoadBalancerNodePorts: null } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await eventually(() => (latest?.services.some((s) => s.key === `${ns}/web`) ? undefined : true));
  });
});
