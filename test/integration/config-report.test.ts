// Cross-object configuration problems are accepted by the API server (no webhook) and then
// reported where users look — a condition on the object, a Warning Event, metrics — naming
// both objects, while everything unrelated keeps working.

import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { KubeClient } from '../../lib/kube/client.js';
import { ConfigReporter, ConfigMetrics } from '../../lib/config/reporter.js';
import { ConfigSource } from '../../lib/config/source.js';
import type { Config } from '../../lib/config/types.js';
import { EventRecorder, eventSink } from '../../lib/kube/events.js';
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
    // The controller's own Event path: EventRecorder writing through the API requester.
    const recorder = new EventRecorder({
      sink: eventSink(new KubeClient(kc)),
      component: 'beacon-controller',
      now: Date.now,
      log: quiet,
    });
    reporter = new ConfigReporter(new KubeClient(kc), quiet, (target, type, reason, message) =>
      recorder.emit(target, type, reason, message),
    );
    source = new ConfigSource({
      transport: new KubeClient(kc),
      namespace: ns,
      log: quiet,
      secrets: false,
      coalesceMs: 20,
    });
    source.onChange((config) => {
      latest = config;
      metrics.update(config);
      void reporter.report(config, source.objectsByKind());
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
    // The reporter writes the objects one after another: wait for each, the machine may be busy.
    const unrelated = await eventually(() => condition('ipaddresspools', 'v1beta1', 'unrelated'));
    expect(unrelated.status).toBe('True');
    const older = await eventually(async () => {
      const c = await condition('ipaddresspools', 'v1beta1', 'older');
      return c?.reason === undefined ? undefined : c;
    });
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
  it('rebuilds the configuration when an input changes, not when only status is written', async () => {
    const patch = (body: object, status: boolean) =>
      (status ? crd.patchNamespacedCustomObjectStatus : crd.patchNamespacedCustomObject).call(
        crd,
        {
          group: 'metallb.io',
          version: 'v1beta1',
          namespace: ns,
          plural: 'ipaddresspools',
          name: 'unrelated',
          body,
        },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    await new Promise((r) => setTimeout(r, 300)); // let earlier reporter writes settle
    const before = source.builds;
    await patch({ status: { assignedIPv4: 7 } }, true);
    await new Promise((r) => setTimeout(r, 300));
    expect(source.builds).toBe(before);
    await patch({ metadata: { labels: { tier: 'web' } } }, false);
    await eventually(() => (latest?.pools.get('unrelated')?.labels.tier === 'web' ? true : undefined));
    expect(source.builds).toBe(before + 1);
  });
});

describe('cross-object problems, table-driven: accepted by the API server, reported on the object', () => {
  // Each row: objects to create in a fresh namespace, the object that must carry the condition,
  // and text its condition must contain (naming the other object).
  type Obj = [plural: string, version: string, kind: string, name: string, spec: object];
  const rows: {
    what: string;
    objects: Obj[];
    subject: [string, string, string];
    severity: 'False' | 'True';
    contains: string[];
  }[] = [
    {
      what: 'a range overlapping another pool’s CIDR',
      objects: [
        ['ipaddresspools', 'v1beta1', 'IPAddressPool', 'a', { addresses: ['10.252.0.0/24'] }],
        ['ipaddresspools', 'v1beta1', 'IPAddressPool', 'b', { addresses: ['10.252.0.10-10.252.0.20'] }],
      ],
      subject: ['ipaddresspools', 'v1beta1', 'b'],
      severity: 'False',
      contains: ['overlaps 10.252.0.0/24 of IPAddressPool', '/a'],
    },
    {
      what: 'an IPv6 pool overlapping another',
      objects: [
        ['ipaddresspools', 'v1beta1', 'IPAddressPool', 'a', { addresses: ['fd00:252::/120'] }],
        ['ipaddresspools', 'v1beta1', 'IPAddressPool', 'b', { addresses: ['fd00:252::80/121'] }],
      ],
      subject: ['ipaddresspools', 'v1beta1', 'b'],
      severity: 'False',
      contains: ['overlaps fd00:252::/120'],
    },
    {
      what: 'an L2Advertisement naming a pool that does not exist',
      objects: [['l2advertisements', 'v1beta1', 'L2Advertisement', 'l2', { ipAddressPools: ['ghost'] }]],
      subject: ['l2advertisements', 'v1beta1', 'l2'],
      severity: 'True',
      contains: ['spec.ipAddressPools[0] "ghost": there is no IPAddressPool'],
    },
    {
      what: 'a BGPAdvertisement naming a pool that does not exist',
      objects: [['bgpadvertisements', 'v1beta1', 'BGPAdvertisement', 'bgp', { ipAddressPools: ['ghost'] }]],
      subject: ['bgpadvertisements', 'v1beta1', 'bgp'],
      severity: 'True',
      contains: ['there is no IPAddressPool', '/ghost'],
    },
    {
      what: 'a BGPAdvertisement using an unknown community alias',
      objects: [['bgpadvertisements', 'v1beta1', 'BGPAdvertisement', 'bgp', { communities: ['gold'] }]],
      subject: ['bgpadvertisements', 'v1beta1', 'bgp'],
      severity: 'False',
      contains: ['spec.communities[0] "gold": no Community object defines the alias "gold"'],
    },
    {
      what: 'a BGPAdvertisement naming a peer that does not exist',
      objects: [['bgpadvertisements', 'v1beta1', 'BGPAdvertisement', 'bgp', { peers: ['ghost'] }]],
      subject: ['bgpadvertisements', 'v1beta1', 'bgp'],
      severity: 'True',
      contains: ['there is no valid BGPPeer', '/ghost'],
    },
    {
      what: 'a Community redefining another Community’s alias',
      objects: [
        ['communities', 'v1beta1', 'Community', 'c1', { communities: [{ name: 'gold', value: '64512:1' }] }],
        ['communities', 'v1beta1', 'Community', 'c2', { communities: [{ name: 'gold', value: '64512:2' }] }],
      ],
      subject: ['communities', 'v1beta1', 'c2'],
      severity: 'False',
      contains: ['alias is already defined by Community', '/c1'],
    },
    {
      what: 'two BGPAdvertisements giving one pool different localPref',
      objects: [
        ['ipaddresspools', 'v1beta1', 'IPAddressPool', 'p', { addresses: ['10.253.0.0/24'] }],
        [
          'bgpadvertisements',
          'v1beta1',
          'BGPAdvertisement',
          'lp1',
          { ipAddressPools: ['p'], localPref: 100 },
        ],
        [
          'bgpadvertisements',
          'v1beta1',
          'BGPAdvertisement',
          'lp2',
          { ipAddressPools: ['p'], localPref: 200 },
        ],
      ],
      subject: ['bgpadvertisements', 'v1beta1', 'lp2'],
      severity: 'False',
      contains: ['conflicts with localPref 100 of BGPAdvertisement', '/lp1'],
    },
    {
      what: 'a BGPPeer naming a BFD profile that does not exist',
      objects: [
        [
          'bgppeers',
          'v1beta2',
          'BGPPeer',
          'peer',
          { myASN: 64512, peerASN: 64500, peerAddress: '10.77.0.1', bfdProfile: 'ghost' },
        ],
      ],
      subject: ['bgppeers', 'v1beta2', 'peer'],
      severity: 'False',
      contains: ['spec.bfdProfile "ghost": there is no BFDProfile'],
    },
  ];

  it.each(rows)('$what', async ({ objects, subject, severity, contains }) => {
    const rowNs = `cfgrow-${Math.random().toString(36).slice(2, 7)}`;
    await core.createNamespace({ body: { metadata: { name: rowNs } } });
    const source = new ConfigSource({
      transport: new KubeClient(kc),
      namespace: rowNs,
      log: quiet,
      secrets: false,
      coalesceMs: 20,
    });
    const reporter = new ConfigReporter(new KubeClient(kc), quiet, async () => undefined);
    source.onChange((config) => void reporter.report(config, source.objectsByKind()));
    source.start();
    try {
      await source.synced;
      for (const [i, [plural, version, kind, name, spec]] of objects.entries()) {
        if (i > 0) await new Promise((r) => setTimeout(r, 1100)); // order by creationTimestamp
        // Accepted by the API server: no webhook refuses a cross-object problem.
        await crd.createNamespacedCustomObject({
          group: 'metallb.io',
          version,
          namespace: rowNs,
          plural,
          body: { apiVersion: `metallb.io/${version}`, kind, metadata: { name }, spec },
        });
      }
      const [plural, version, name] = subject;
      const got = await eventually(async () => {
        const o = (await crd.getNamespacedCustomObject({
          group: 'metallb.io',
          version,
          namespace: rowNs,
          plural,
          name,
        })) as {
          status?: { conditions?: { type: string; status: string; message: string }[] };
        };
        const c = o.status?.conditions?.find((x) => x.type === 'Valid');
        return c && c.status === severity && c.message !== 'in use' ? c : undefined;
      });
      for (const text of contains) expect(got.message).toContain(text);
    } finally {
      source.stop();
    }
  });
});
