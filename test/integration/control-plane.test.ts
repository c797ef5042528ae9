// The real control plane that every integration test runs against: pinned version, CRDs
// applied with kubectl, Services observed through a list+watch informer, and our RBAC enforced.

import { CoreV1Api, CustomObjectsApi, makeInformer, type V1Service } from '@kubernetes/client-node';
import { kubernetesVersion } from '../env/control-plane.js';
import { testEnv } from '../env/testenv.js';

const env = testEnv();
const core = env.kubeConfig('admin').makeApiClient(CoreV1Api);

async function withNamespace(prefix: string): Promise<string> {
  const name = `${prefix}-${Math.random().toString(36).slice(2, 8)}`;
  await core.createNamespace({ body: { metadata: { name } } });
  return name;
}

function statusOf(err: unknown): number | undefined {
  return (err as { code?: number }).code;
}

describe('test control plane', () => {
  it('serves the pinned Kubernetes version', async () => {
    const out = JSON.parse(await env.kubectl(['version', '-o', 'json'])) as {
      serverVersion: { gitVersion: string };
    };
    expect(out.serverVersion.gitVersion).toBe(kubernetesVersion);
  });

  it('has the metallb.io CRDs established, applied by kubectl', async () => {
    const out = await env.kubectl(['get', 'crd', '-o', 'name']);
    expect(out).toContain('customresourcedefinition.apiextensions.k8s.io/ipaddresspools.metallb.io');
  });

  it('delivers a new LoadBalancer Service to an informer (list + watch)', async () => {
    const ns = await withNamespace('informer');
    const informer = makeInformer(env.kubeConfig('controller'), `/api/v1/namespaces/${ns}/services`, () =>
      env.kubeConfig('controller').makeApiClient(CoreV1Api).listNamespacedService({ namespace: ns }),
    );
    const seen = new Promise<V1Service>((resolve) => informer.on('add', (svc) => resolve(svc)));
    await informer.start();
    try {
      await core.createNamespacedService({
        namespace: ns,
        body: {
          metadata: { name: 'myapp' },
          spec: {
            type: 'LoadBalancer',
            selector: { app: 'myapp' },
            ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
          },
        },
      });
      const svc = await seen;
      expect(svc.metadata?.name).toBe('myapp');
      expect(svc.spec?.type).toBe('LoadBalancer');
      expect(svc.spec?.clusterIP).toMatch(/^10\.96\./); // allocated by the real API server
      expect(svc.spec?.ports?.[0]?.nodePort).toBeGreaterThanOrEqual(30000);
    } finally {
      await informer.stop();
    }
  });
});

describe('RBAC from manifests/rbac.yaml', () => {
  const asController = env.kubeConfig('controller');

  it('lets the controller write Service status', async () => {
    const ns = await withNamespace('rbac');
    await core.createNamespacedService({
      namespace: ns,
      body: { metadata: { name: 'lb' }, spec: { type: 'LoadBalancer', ports: [{ port: 80 }] } },
    });
    const api = asController.makeApiClient(CoreV1Api);
    const svc = await api.readNamespacedService({ name: 'lb', namespace: ns });
    svc.status = { loadBalancer: { ingress: [{ ip: '192.168.10.222', ipMode: 'VIP' }] } };
    const updated = await api.replaceNamespacedServiceStatus({ name: 'lb', namespace: ns, body: svc });
    expect(updated.status?.loadBalancer?.ingress?.[0]?.ip).toBe('192.168.10.222');
  });

  it('refuses the controller writes it must not make (403)', async () => {
    const api = asController.makeApiClient(CoreV1Api);
    const crd = asController.makeApiClient(CustomObjectsApi);
    const attempts: [string, () => Promise<unknown>][] = [
      [
        'create a Secret outside the Beacon namespace',
        () => api.createNamespacedSecret({ namespace: 'default', body: { metadata: { name: 'x' } } }),
      ],
      [
        'read a Secret other than the memberlist key',
        () => api.readNamespacedSecret({ namespace: 'metallb-system', name: 'bgp-auth' }),
      ],
      ['create a Node', () => api.createNode({ body: { metadata: { name: 'rogue' } } })],
      ['delete a Namespace', () => api.deleteNamespace({ name: 'default' })],
      [
        'create an IPAddressPool (configuration is the operator’s)',
        () =>
          crd.createNamespacedCustomObject({
            group: 'metallb.io',
            version: 'v1beta1',
            namespace: 'metallb-system',
            plural: 'ipaddresspools',
            body: {
              apiVersion: 'metallb.io/v1beta1',
              kind: 'IPAddressPool',
              metadata: { name: 'p' },
              spec: { addresses: ['10.0.0.0/24'] },
            },
          }),
      ],
    ];
    for (const [what, attempt] of attempts) {
      const status = await attempt().then(() => 200, statusOf);
      expect({ what, status }).toEqual({ what, status: 403 });
    }
  });

  it('refuses the speaker any write to Service status (403)', async () => {
    const api = env.kubeConfig('speaker').makeApiClient(CoreV1Api);
    const status = await api
      .patchNamespacedServiceStatus({
        name: 'kubernetes',
        namespace: 'default',
        body: [{ op: 'add', path: '/status/loadBalancer', value: {} }],
      })
      .then(() => 200, statusOf);
    expect(status).toBe(403);
  });
});
