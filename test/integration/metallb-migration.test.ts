// Switching a cluster from MetalLB to Beacon and back, with MetalLB itself (the pinned peer in
// test/peers/, its controller binary) on the same API server: 1,000 Services — plain, sharing
// an address, dual-stack (Require and Prefer, IPv4 or IPv6 primary) and with requested
// addresses — are allocated by MetalLB; its controller is stopped and Beacon's started in its
// place; then back again. No Service may change address (nor the order of its pair), and each
// controller may write each Service at most once when it takes over.
//
// Isolation from other test files sharing the control plane: the configuration (pools, both
// controllers' Leases and the memberlist Secret) lives in a namespace of its own, and both
// controllers serve only this file's loadBalancerClass.

import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CoreV1Api, CustomObjectsApi, Watch, type V1Service } from '@kubernetes/client-node';
import yaml from 'js-yaml';
import { repoRoot, writeKubeconfig } from '../env/control-plane.js';
import { testEnv } from '../env/testenv.js';
import {
  installMetalLBOwner,
  metallbBinaries,
  startMetalLBController,
  stopAllMetalLB,
  stopMetalLB,
} from '../peers/metallb.js';
import {
  eventually,
  startController,
  stopAllControllers,
  stopController,
  waitForLog,
} from '../support/controller-process.js';

const env = testEnv();
const core = env.kubeConfig('admin').makeApiClient(CoreV1Api);
const custom = env.kubeConfig('admin').makeApiClient(CustomObjectsApi);
const id = crypto.randomBytes(3).toString('hex');
const cfgNs = `mig-cfg-${id}`;
const ns = `mig-${id}`;
const lbClass = `beacon.test/migration-${id}`;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'beacon-migration-'));
const adminConfig = path.join(tmp, 'kubeconfig-admin');
const controllerConfig = path.join(tmp, 'kubeconfig-controller');
const total = 1000;

/** manifests/rbac.yaml's controller Role and RoleBinding, in the configuration namespace. */
function controllerRoleIn(namespace: string): string {
  const docs = yaml.loadAll(fs.readFileSync(path.join(repoRoot, 'manifests/rbac.yaml'), 'utf8')) as {
    kind: string;
    metadata: { name: string; namespace?: string };
  }[];
  return docs
    .filter((d) => (d.kind === 'Role' || d.kind === 'RoleBinding') && d.metadata.name === 'controller')
    .map((d) => yaml.dump({ ...d, metadata: { ...d.metadata, namespace } }))
    .join('---\n');
}

/** The i-th Service: 600 plain, 200 sharing in pairs, 100 dual-stack, 100 with requested IPs. */
function service(i: number): {
  name: string;
  spec: Partial<NonNullable<V1Service['spec']>>;
  annotations: Record<string, string>;
} {
  const name = `svc-${String(i).padStart(4, '0')}`;
  if (i < 600) return { name, spec: {}, annotations: {} };
  if (i < 800)
    return {
      name,
      spec: { ports: [{ name: 'http', port: 8000 + (i % 2), protocol: 'TCP' }] },
      annotations: { 'metallb.io/allow-shared-ip': `pair-${Math.floor(i / 2)}` },
    };
  if (i < 900) {
    const v6First = i % 2 === 1;
    return {
      name,
      spec: {
        ipFamilyPolicy: i < 850 ? 'RequireDualStack' : 'PreferDualStack',
        ipFamilies: v6First ? ['IPv6', 'IPv4'] : ['IPv4', 'IPv6'],
      },
      annotations: {},
    };
  }
  const k = i - 900;
  if (k < 90) return { name, spec: {}, annotations: { 'metallb.io/loadBalancerIPs': `10.231.3.${100 + k}` } };
  // Requested as a pair, IPv6 first.
  return {
    name,
    spec: { ipFamilyPolicy: 'RequireDualStack', ipFamilies: ['IPv4', 'IPv6'] },
    annotations: {
      'metallb.io/loadBalancerIPs': `fd00:231::3${String(k).padStart(2, '0')},10.231.3.${100 + k}`,
    },
  };
}

interface Snapshot {
  ips: Map<string, string>;
  versions: Map<string, string>;
}

async function snapshot(): Promise<Snapshot> {
  const list = await core.listNamespacedService({ namespace: ns });
  return {
    ips: new Map(
      list.items.map((s) => [
        s.metadata!.name!,
        (s.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? i.hostname ?? '?').join(','),
      ]),
    ),
    versions: new Map(list.items.map((s) => [s.metadata!.name!, s.metadata!.resourceVersion!])),
  };
}

/** Counts writes per Service (watch MODIFIED events) from now until stop(). */
async function countWrites(): Promise<{
  perService: Map<string, number>;
  last: () => number;
  stop: () => void;
}> {
  const rv = (await core.listNamespacedService({ namespace: ns })).metadata!.resourceVersion!;
  const perService = new Map<string, number>();
  let last = performance.now();
  const req = await new Watch(env.kubeConfig('admin')).watch(
    `/api/v1/namespaces/${ns}/services`,
    { resourceVersion: rv },
    (type, obj: V1Service) => {
      if (type !== 'MODIFIED') return;
      last = performance.now();
      const name = obj.metadata!.name!;
      perService.set(name, (perService.get(name) ?? 0) + 1);
    },
    () => {},
  );
  return { perService, last: () => last, stop: () => req.abort() };
}

/** Until `ms` pass with no Service write. */
async function quiet(last: () => number, ms = 3000): Promise<void> {
  while (performance.now() - last() < ms) await new Promise((r) => setTimeout(r, 200));
}

function changedIPs(a: Snapshot, b: Snapshot): string[] {
  return [...a.ips]
    .filter(([name, ips]) => b.ips.get(name) !== ips)
    .map(([n, ips]) => `${n}: ${ips} → ${b.ips.get(n)}`);
}

beforeAll(async () => {
  await metallbBinaries();
  writeKubeconfig(env, adminConfig, 'admin');
  writeKubeconfig(env, controllerConfig, 'controller');
  await env.kubectl(['apply', '-f', path.join(repoRoot, 'manifests/rbac.yaml')]);
  await core.createNamespace({ body: { metadata: { name: cfgNs } } });
  fs.writeFileSync(path.join(tmp, 'role.yaml'), controllerRoleIn(cfgNs));
  await env.kubectl(['apply', '-f', path.join(tmp, 'role.yaml')]);
  await installMetalLBOwner(adminConfig, cfgNs);
  await core.createNamespace({ body: { metadata: { name: ns } } });
  await custom.createNamespacedCustomObject({
    group: 'metallb.io',
    version: 'v1beta1',
    namespace: cfgNs,
    plural: 'ipaddresspools',
    body: {
      apiVersion: 'metallb.io/v1beta1',
      kind: 'IPAddressPool',
      metadata: { name: 'main' },
      spec: { addresses: ['10.231.0.0/22', 'fd00:231::/118'] },
    },
  });
  const all = Array.from({ length: total }, (_, i) => service(i));
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < all.length) {
        const s = all[next++]!;
        await core.createNamespacedService({
          namespace: ns,
          body: {
            metadata: { name: s.name, annotations: s.annotations },
            spec: {
              type: 'LoadBalancer',
              loadBalancerClass: lbClass,
              allocateLoadBalancerNodePorts: false,
              selector: { app: s.name },
              ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
              ...s.spec,
            },
          },
        });
      }
    }),
  );
}, 30 * 60_000);

afterAll(async () => {
  await stopAllControllers();
  await stopAllMetalLB();
  for (const n of [ns, cfgNs]) {
    await core.deleteCollectionNamespacedService({ namespace: n }).catch(() => undefined);
    await core.deleteNamespace({ name: n }).catch(() => undefined);
  }
  fs.rmSync(tmp, { recursive: true, force: true });
}, 120_000);

it(
  'moves 1,000 Services from MetalLB to Beacon and back without an address change',
  async () => {
    // MetalLB allocates everything.
    let writes = await countWrites();
    let metallb = await startMetalLBController(adminConfig, { namespace: cfgNs, lbClass });
    await eventually(
      async () => {
        const s = await snapshot();
        return [...s.ips.values()].every((ips) => ips !== '') ? true : undefined;
      },
      300_000,
      'MetalLB allocating all 1,000 Services',
    );
    await quiet(writes.last);
    writes.stop();
    const underMetalLB = await snapshot();
    // Dual-stack Services got a pair (a requested pair ends up in text order: MetalLB's
    // isEqualIPs sorts the status addresses in place and the next reconcile writes them back).
    expect(underMetalLB.ips.get('svc-0800')?.split(',')).toHaveLength(2);
    expect(underMetalLB.ips.get('svc-0990')).toBe('10.231.3.190,fd00:231::390');
    expect(underMetalLB.ips.get('svc-0600')).toBe(underMetalLB.ips.get('svc-0601'));
    await stopMetalLB(metallb, 'SIGTERM');

    // Beacon takes over: no address changes, at most one write per Service.
    writes = await countWrites();
    const beacon = startController([
      '--kubeconfig',
      controllerConfig,
      '--metrics-port',
      '0',
      '--namespace',
      cfgNs,
      '--lb-class',
      lbClass,
    ]);
    await waitForLog(beacon, 'all services reconciled', 300_000);
    await quiet(writes.last);
    writes.stop();
    const underBeacon = await snapshot();
    expect(changedIPs(underMetalLB, underBeacon)).toEqual([]);
    expect([...writes.perService].filter(([, n]) => n > 1)).toEqual([]);
    process.stderr.write(`MetalLB → Beacon: ${writes.perService.size} of ${total} Services written\n`);
    await stopController(beacon, 'SIGTERM');

    // And back to MetalLB.
    writes = await countWrites();
    metallb = await startMetalLBController(adminConfig, { namespace: cfgNs, lbClass });
    // MetalLB logs nothing for a Service it leaves as it is: give it time to go through them all.
    await new Promise((r) => setTimeout(r, 10_000));
    await quiet(writes.last);
    writes.stop();
    const backUnderMetalLB = await snapshot();
    expect(changedIPs(underBeacon, backUnderMetalLB)).toEqual([]);
    expect([...writes.perService].filter(([, n]) => n > 1)).toEqual([]);
    process.stderr.write(`Beacon → MetalLB: ${writes.perService.size} of ${total} Services written\n`);
    await stopMetalLB(metallb, 'SIGTERM');
  },
  30 * 60_000,
);
