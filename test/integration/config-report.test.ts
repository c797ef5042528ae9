// Cross-object configuration problems are accepted by the API server (no webhook) and then
// reported where users look — a condition on the object, a Warning Event, metrics — naming
// both objects, while everything unrelated keeps working.

import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { ConfigReporter, ConfigMetrics } from '../../lib/config/reporter.js';
import { ConfigSource } from '../../lib/config/source.js';
import type { Config } from '../../lib/config/types.js';
import { HttpsTransport } from '../../lib/kube/transport.js';
import { createLogger } from '../../lib/log.js';
import { testEnv } from '../env/testenv.js';

const env = testEnv();
const kc = env.kubeConfig('admin');
const core = kc.makeApiClient(CoreV1Api);
const crd = kc.makeApiClient(CustomObjectsApi);
const ns = `cfg-${Math.random().toString(36).slice(2, 7)}`;
const quiet = createLogger({ level: 'error', component: 'test', write: () => undefined });

async function eventually<T>(probe: () => Promise<T | undefined> | T | undefined, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

const create = (plural: string, version: string, kind: string, name: string, spec: object) =>
  crd.createNamespacedCustomObject({
    group: 'metallb.io',
    version,
    namespace: ns,
    plural,
    body: { apiVersion: `metallb.io/${version}`, kind, metadata: { name }, spec },
  });

const condition = async (plural: string, version: string, name: string) => {
  const o = (await crd.getNamespacedCustomObject({
    group: 'metallb.io',
    version,
    namespace: ns,
    plural,
    name,
  })) as {
    status?: { conditions?: { type: string; status: string; reason: string; message: string }[] };
  };
  return o.status?.conditions?.find((c) => c.type === 'Valid');
};

describe('configuration problems are reported, not refused', () => {
  const registry = new Registry();
  const metrics = new ConfigMetrics(registry);
  let source: ConfigSource;
  let reporter: ConfigReporter;
  let latest: Config | undefined;

  beforeAll(async () => {
    await core.createNamespace({ body: { metadata: { name: ns } } });
    reporter = new ConfigReporter(kc, quiet, async (ref, type, reason, message) => {
      await core.createNamespacedEvent({
        namespace: ref.namespace,
        body: {
          metadata: { generateName: `${ref.name}.` },
          involvedObject: {
            apiVersion: ref.apiVersion,
            kind: ref.kind,
            namespace: ref.namespace,
            name: ref.name,
            ...(ref.uid ? { uid: ref.uid } : {}),
          },
          type,
          reason,
          message,
          source: { component: 'beacon-controller' },
        },
      });
    });
    source = new ConfigSource({
      transport: new HttpsTransport(kc),
      namespace: ns,
      log: quiet,
      secrets: false,
      coalesceMs: 20,
    });
    source.onChange((config) => {
      latest = config;
      metrics.update(config);
      void reporter.report(config, {
        IPAddressPool: source.objects('pools'),
        L2Advertisement: source.objects('l2Advertisements'),
        BGPAdvertisement: source.objects('bgpAdvertisements'),
        BGPPeer: source.objects('peers'),
        Community: source.objects('communities'),
        BFDProfile: source.objects('bfdProfiles'),
      });
    });
    source.start();
    await source.synced;
  });
  afterAll(() => source?.stop());

  it('disables the newer of two overlapping pools and keeps the rest, reporting on the object, in an Event and in metrics', async () => {
    await create('ipaddresspools', 'v1beta1', 'IPAddressPool', 'older', { addresses: ['10.250.0.0/24'] });
    await new Promise((r) => setTimeout(r, 1100)); // creationTimestamp has 1 s resolution
    await create('ipaddresspools', 'v1beta1', 'IPAddressPool', 'newer', { addresses: ['10.250.0.128/25'] });
    await create('ipaddresspools', 'v1beta1', 'IPAddressPool', 'unrelated', { addresses: ['10.251.0.0/24'] });

    await eventually(() => (latest?.pools.size === 2 && latest.pools.has('unrelated') ? true : undefined));
    expect([...latest!.pools.keys()].sort()).toEqual(['older', 'unrelated']);

    const bad = await eventually(async () => {
      const c = await condition('ipaddresspools', 'v1beta1', 'newer');
      return c?.status === 'False' ? c : undefined;
    });
    expect(bad.reason).toBe('InvalidConfiguration');
    expect(bad.message).toContain(
      `IPAddressPool ${ns}/newer: spec.addresses[0] "10.250.0.128/25": overlaps 10.250.0.0/24 of IPAddressPool ${ns}/older`,
    );
    expect((await condition('ipaddresspools', 'v1beta1', 'unrelated'))?.status).toBe('True');
    const older = await condition('ipaddresspools', 'v1beta1', 'older');
    expect(older?.reason).toBe('ValidWithWarnings');
    expect(older?.message).toContain('newer');

    const event = await eventually(async () => {
      const list = await core.listNamespacedEvent({
        namespace: ns,
        fieldSelector: 'involvedObject.name=newer',
      });
      return list.items.find((e) => e.reason === 'InvalidConfiguration');
    });
    expect(event.type).toBe('Warning');
    expect(event.message).toContain('older');

    const text = await registry.metrics();
    expect(text).toContain('metallb_k8s_client_config_stale_bool 1');
    expect(text).toContain('beacon_config_invalid_objects{kind="IPAddressPool"} 1');
  });

  it('reports a peer naming a BFD profile that does not exist, and clears it once the profile exists', async () => {
    await create('bgppeers', 'v1beta2', 'BGPPeer', 'router', {
      myASN: 64512,
      peerASN: 64500,
      peerAddress: '10.77.0.1',
      bfdProfile: 'fast',
    });
    const bad = await eventually(async () => {
      const c = await condition('bgppeers', 'v1beta2', 'router');
      return c?.status === 'False' ? c : undefined;
    });
    expect(bad.message).toBe(
      `BGPPeer ${ns}/router: spec.bfdProfile "fast": there is no BFDProfile ${ns}/fast (the object is not in use)`,
    );
    await create('bfdprofiles', 'v1beta1', 'BFDProfile', 'fast', {
      receiveInterval: 100,
      transmitInterval: 100,
    });
    await eventually(async () =>
      (await condition('bgppeers', 'v1beta2', 'router'))?.status === 'True' ? true : undefined,
    );
    expect(latest?.peers.get('router')?.bfdProfile?.receiveInterval).toBe(100);
  });

  it('clears the stale flag when the conflicting pool is removed', async () => {
    await crd.deleteNamespacedCustomObject({
      group: 'metallb.io',
      version: 'v1beta1',
      namespace: ns,
      plural: 'ipaddresspools',
      name: 'newer',
    });
    await eventually(async () =>
      (await registry.metrics()).includes('metallb_k8s_client_config_stale_bool 0') ? true : undefined,
    );
    expect((await condition('ipaddresspools', 'v1beta1', 'older'))?.reason).toBe('Valid');
  });
});
