// The controller binary against a real API server, as the controller ServiceAccount: which
// pool a Service gets (serviceAllocation namespaces, namespaceSelectors, serviceSelectors,
// priorities, autoAssign, the address-pool annotation), dual-stack, --lb-class, pool edits,
// release on delete and the deprecated metallb.universe.tf/ annotations.
//
// Isolation from other test files sharing the control plane: the configuration (pools and the
// leader Lease) lives in a namespace of its own, holding a copy of manifests/rbac.yaml's
// controller Role, and the controller serves only this file's loadBalancerClass (until the
// last test, which runs one without --lb-class).

import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CoreV1Api, CustomObjectsApi, type V1Service } from '@kubernetes/client-node';
import yaml from 'js-yaml';
import { repoRoot, writeKubeconfig } from '../env/control-plane.js';
import { testEnv } from '../env/testenv.js';
import {
  eventually,
  startController as startControllerProcess,
  stopAllControllers,
  stopController,
  waitForLog,
  type ControllerProcess,
} from '../support/controller-process.js';

const env = testEnv();
type Controller = ControllerProcess;
const core = env.kubeConfig('admin').makeApiClient(CoreV1Api);
const custom = env.kubeConfig('admin').makeApiClient(CustomObjectsApi);
const id = crypto.randomBytes(3).toString('hex');
const cfgNs = `c4-cfg-${id}`;
const ns = `c4-a-${id}`;
const nsBlue = `c4-blue-${id}`;
const nsListed = `c4-listed-${id}`;
const lbClass = `beacon.test/c4-${id}`;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'beacon-controller-alloc-'));
const kubeconfig = path.join(tmp, 'kubeconfig');

/** A controller serving lbClass, or Services without a class when cls is null. */
function startController(cls: string | null = lbClass): Controller {
  const args = ['--kubeconfig', kubeconfig, '--metrics-port', '0', '--namespace', cfgNs];
  if (cls !== null) args.push('--lb-class', cls);
  return startControllerProcess(args);
}

interface ServiceOptions {
  namespace?: string;
  spec?: Partial<NonNullable<V1Service['spec']>>;
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
}

async function createService(name: string, o: ServiceOptions = {}): Promise<void> {
  await core.createNamespacedService({
    namespace: o.namespace ?? ns,
    body: {
      metadata: { name, annotations: o.annotations ?? {}, labels: o.labels ?? {} },
      spec: {
        type: 'LoadBalancer',
        loadBalancerClass: lbClass,
        selector: { app: name },
        ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
        ...o.spec,
      },
    },
  });
}

const read = (name: string, namespace = ns) => core.readNamespacedService({ name, namespace });
const ingressOf = async (name: string, namespace = ns) =>
  ((await read(name, namespace)).status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? '');

/** The Service's addresses once it has any. */
function addresses(name: string, namespace = ns): Promise<string[]> {
  return eventually(
    async () => {
      const ips = await ingressOf(name, namespace);
      return ips.length > 0 ? ips : undefined;
    },
    15_000,
    `address for ${namespace}/${name}`,
  );
}

async function allocatedPool(name: string, namespace = ns): Promise<string | undefined> {
  return (await read(name, namespace)).metadata?.annotations?.['metallb.io/ip-allocated-from-pool'];
}

function pendingReason(name: string): Promise<string> {
  return eventually(
    async () => {
      const c = (await read(name)).status?.conditions?.find((x) => x.type === 'metallb.io/IPAllocated');
      return c?.status === 'False' ? `${c.reason}: ${c.message}` : undefined;
    },
    15_000,
    `pending condition on ${name}`,
  );
}

async function events(name: string, namespace = ns): Promise<string[]> {
  const list = await core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${name}` });
  return list.items.map((e) => `${e.type} ${e.reason}: ${e.message}`);
}

function eventMatching(name: string, re: RegExp): Promise<string> {
  return eventually(
    async () => (await events(name)).find((e) => re.test(e)),
    15_000,
    `event ${re} on ${name}`,
  );
}

interface PoolSpec {
  addresses: string[];
  autoAssign?: boolean;
  serviceAllocation?: Record<string, unknown>;
}

const poolApi = { group: 'metallb.io', version: 'v1beta1', namespace: cfgNs, plural: 'ipaddresspools' };

async function createPool(name: string, spec: PoolSpec): Promise<void> {
  await custom.createNamespacedCustomObject({
    ...poolApi,
    body: { apiVersion: 'metallb.io/v1beta1', kind: 'IPAddressPool', metadata: { name }, spec },
  });
}

async function resourceVersion(name: string, namespace = ns): Promise<string> {
  return (await read(name, namespace)).metadata!.resourceVersion!;
}

/** manifests/rbac.yaml's namespaced controller Role and RoleBinding, moved into cfgNs. */
function controllerRoleIn(namespace: string): string {
  const docs = yaml.loadAll(fs.readFileSync(path.join(repoRoot, 'manifests/rbac.yaml'), 'utf8')) as {
    kind: string;
    metadata: { name: string; namespace?: string };
  }[];
  const picked = docs.filter(
    (d) => (d.kind === 'Role' || d.kind === 'RoleBinding') && d.metadata.name === 'controller',
  );
  expect(picked.map((d) => d.kind).sort()).toEqual(['Role', 'RoleBinding']);
  return picked.map((d) => yaml.dump({ ...d, metadata: { ...d.metadata, namespace } })).join('---\n');
}

let controller: Controller;

beforeAll(async () => {
  writeKubeconfig(env, kubeconfig, 'controller');
  await env.kubectl(['apply', '-f', path.join(repoRoot, 'manifests/rbac.yaml')]);
  await core.createNamespace({ body: { metadata: { name: cfgNs } } });
  fs.writeFileSync(path.join(tmp, 'role.yaml'), controllerRoleIn(cfgNs));
  await env.kubectl(['apply', '-f', path.join(tmp, 'role.yaml')]);
  await core.createNamespace({ body: { metadata: { name: ns } } });
  await core.createNamespace({ body: { metadata: { name: nsBlue, labels: { team: 'blue' } } } });
  await core.createNamespace({ body: { metadata: { name: nsListed } } });

  // Fallback tier (no serviceAllocation), tried by name: default-v4 before dual.
  await createPool('default-v4', { addresses: ['10.250.0.10-10.250.0.19'] });
  await createPool('dual', { addresses: ['10.250.6.0/28', 'fd00:250:6::/124'] });
  // Pinned tier, by priority (lower first), equal priorities by name.
  await createPool('by-ns', {
    addresses: ['10.250.1.0/28'],
    serviceAllocation: { priority: 10, namespaces: [nsBlue, nsListed] },
  });
  await createPool('by-nssel', {
    addresses: ['10.250.2.0/28'],
    serviceAllocation: { priority: 5, namespaceSelectors: [{ matchLabels: { team: 'blue' } }] },
  });
  await createPool('gold-b', {
    addresses: ['10.250.3.0/28'],
    serviceAllocation: { priority: 1, serviceSelectors: [{ matchLabels: { tier: 'gold' } }] },
  });
  await createPool('gold-a', {
    addresses: ['10.250.4.0/28'],
    serviceAllocation: { priority: 1, serviceSelectors: [{ matchLabels: { tier: 'gold' } }] },
  });
  // Accepts every Service of ns with the best priority, but is never chosen automatically.
  await createPool('manual', {
    addresses: ['10.250.5.0/28'],
    autoAssign: false,
    serviceAllocation: { priority: 1, namespaces: [ns] },
  });
  await createPool('edit', { addresses: ['10.250.8.0-10.250.8.3'], autoAssign: false });

  controller = startController();
  await waitForLog(controller, 'all services reconciled', 30_000);
}, 90_000);

afterAll(async () => {
  await stopAllControllers();
  // The test control plane runs no namespace controller: a deleted namespace keeps its Services
  // (Terminating) for ever, and a later test's controller would allocate the class-less ones.
  for (const n of [ns, nsBlue, nsListed, cfgNs]) {
    await core.deleteCollectionNamespacedService({ namespace: n }).catch(() => undefined);
    await core.deleteNamespace({ name: n }).catch(() => undefined);
  }
  fs.rmSync(tmp, { recursive: true, force: true });
}, 60_000);

describe('which pool a Service gets', () => {
  it('gives a Service no pool restricts to the fallback pools in name order', async () => {
    await createService('plain');
    expect(await addresses('plain')).toEqual(['10.250.0.10']);
    expect(await allocatedPool('plain')).toBe('default-v4');
  });

  it('serves a listed namespace from the pool listing it', async () => {
    await createService('listed', { namespace: nsListed });
    expect(await addresses('listed', nsListed)).toEqual(['10.250.1.0']);
    expect(await allocatedPool('listed', nsListed)).toBe('by-ns');
  });

  it('prefers the lower priority when both a namespace list and a namespace selector match', async () => {
    await createService('blue', { namespace: nsBlue });
    expect(await addresses('blue', nsBlue)).toEqual(['10.250.2.0']);
    expect(await allocatedPool('blue', nsBlue)).toBe('by-nssel');
  });

  it('picks the pool named first among matching pools of equal priority, every time', async () => {
    for (const name of ['gold-1', 'gold-2', 'gold-3']) {
      await createService(name, { labels: { tier: 'gold' }, namespace: nsBlue });
      await addresses(name, nsBlue);
      expect([name, await allocatedPool(name, nsBlue)]).toEqual([name, 'gold-a']);
    }
    expect(await ingressOf('gold-3', nsBlue)).toEqual(['10.250.4.2']);
  });

  it('never assigns automatically from an autoAssign: false pool, but does when the annotation names it', async () => {
    await createService('not-manual');
    expect(await addresses('not-manual')).toEqual(['10.250.0.11']);
    expect(await allocatedPool('not-manual')).toBe('default-v4');

    await createService('manual-ann', { annotations: { 'metallb.io/address-pool': 'manual' } });
    expect(await addresses('manual-ann')).toEqual(['10.250.5.0']);
    expect(await allocatedPool('manual-ann')).toBe('manual');
  });

  it('leaves a Service pending when its annotated pool does not accept its namespace', async () => {
    await createService('wrong-pool', { annotations: { 'metallb.io/address-pool': 'by-ns' } });
    expect(await pendingReason('wrong-pool')).toMatch(/^PoolDoesNotMatchService: .*by-ns/);
    expect(await ingressOf('wrong-pool')).toEqual([]);
  });
});

describe('dual-stack Services', () => {
  it('gives RequireDualStack one address of each family from one pool, IPv4 first', async () => {
    await createService('req-dual', {
      spec: { ipFamilyPolicy: 'RequireDualStack', ipFamilies: ['IPv4', 'IPv6'] },
    });
    expect(await addresses('req-dual')).toEqual(['10.250.6.0', 'fd00:250:6::']);
    expect(await allocatedPool('req-dual')).toBe('dual');
  });

  it('puts the IPv4 address first even with IPv6 as primary family, as MetalLB writes a new pair', async () => {
    await createService('pref-dual-v6', {
      spec: { ipFamilyPolicy: 'PreferDualStack', ipFamilies: ['IPv6', 'IPv4'] },
    });
    expect(await addresses('pref-dual-v6')).toEqual(['10.250.6.1', 'fd00:250:6::1']);
  });

  it('gives PreferDualStack only its primary family when the annotated pool has no other', async () => {
    await createService('pref-v4-only', {
      spec: { ipFamilyPolicy: 'PreferDualStack', ipFamilies: ['IPv4', 'IPv6'] },
      annotations: { 'metallb.io/address-pool': 'default-v4' },
    });
    expect(await addresses('pref-v4-only')).toEqual(['10.250.0.12']);
  });

  it('leaves RequireDualStack pending when the annotated pool has one family only', async () => {
    await createService('req-v4-only', {
      spec: { ipFamilyPolicy: 'RequireDualStack', ipFamilies: ['IPv4', 'IPv6'] },
      annotations: { 'metallb.io/address-pool': 'default-v4' },
    });
    expect(await pendingReason('req-v4-only')).toMatch(/^FamilyUnavailable: /);
  });
});

describe('pool edits and deletes', () => {
  it('keeps addresses still in a shrunk pool, and moves only the one that left it, with an Event', async () => {
    const ann = { 'metallb.io/address-pool': 'edit' };
    for (const name of ['edit-0', 'edit-1', 'edit-2']) {
      await createService(name, { annotations: ann });
      await addresses(name);
    }
    expect(await ingressOf('edit-0')).toEqual(['10.250.8.0']);
    expect(await ingressOf('edit-2')).toEqual(['10.250.8.2']);
    const kept = [await resourceVersion('edit-1'), await resourceVersion('edit-2')];

    await custom.patchNamespacedCustomObject({
      ...poolApi,
      name: 'edit',
      body: [{ op: 'replace', path: '/spec/addresses', value: ['10.250.8.1-10.250.8.2', '10.250.8.10/31'] }],
    });
    await eventually(async () => ((await ingressOf('edit-0'))[0] === '10.250.8.10' ? true : undefined));
    expect(await eventMatching('edit-0', /ClearAssignment/)).toMatch(
      /^Normal ClearAssignment: 10\.250\.8\.0 released/,
    );
    expect(await eventMatching('edit-0', /Assigned IP 10\.250\.8\.10/)).toMatch(/^Normal IPAllocated/);
    expect(await ingressOf('edit-1')).toEqual(['10.250.8.1']);
    expect([await resourceVersion('edit-1'), await resourceVersion('edit-2')]).toEqual(kept);
  });

  it('frees the address of a deleted Service for the next one', async () => {
    const ann = { 'metallb.io/address-pool': 'manual' };
    await createService('gone', { annotations: ann });
    const [ip] = await addresses('gone');
    expect(ip).toBe('10.250.5.1');
    await core.deleteNamespacedService({ name: 'gone', namespace: ns });
    await createService('next', { annotations: ann });
    expect(await addresses('next')).toEqual([ip]);
  });
});

describe('deprecated annotations', () => {
  it('honours metallb.universe.tf/address-pool and warns, naming its replacement', async () => {
    await createService('old-spelling', { annotations: { 'metallb.universe.tf/address-pool': 'manual' } });
    expect(await addresses('old-spelling')).toEqual(['10.250.5.2']);
    expect(await eventMatching('old-spelling', /DeprecatedAnnotation/)).toBe(
      'Warning DeprecatedAnnotation: annotation metallb.universe.tf/address-pool is deprecated; use metallb.io/address-pool instead',
    );
  });

  it('honours metallb.universe.tf/loadBalancerIPs and allow-shared-ip', async () => {
    const old = {
      'metallb.universe.tf/loadBalancerIPs': '10.250.5.9',
      'metallb.universe.tf/allow-shared-ip': 'k',
    };
    await createService('old-share-a', { annotations: old });
    await createService('old-share-b', {
      annotations: old,
      spec: { ports: [{ name: 'dns', port: 53, protocol: 'UDP' }] },
    });
    expect(await addresses('old-share-a')).toEqual(['10.250.5.9']);
    expect(await addresses('old-share-b')).toEqual(['10.250.5.9']);
    await eventMatching(
      'old-share-b',
      /metallb\.universe\.tf\/allow-shared-ip is deprecated; use metallb\.io\/allow-shared-ip/,
    );
    await eventMatching(
      'old-share-b',
      /metallb\.universe\.tf\/loadBalancerIPs is deprecated; use metallb\.io\/loadBalancerIPs/,
    );
  });
});

describe('--lb-class', () => {
  it('with --lb-class set, serves only that class and never touches another class or none', async () => {
    await createService('other-class', { spec: { loadBalancerClass: 'example.com/other' } });
    await createService('no-class', { spec: { loadBalancerClass: undefined } });
    const untouched = [await resourceVersion('other-class'), await resourceVersion('no-class')];
    // Created after the two, so once it has its address the controller has seen them.
    await createService('our-class');
    await addresses('our-class');
    await new Promise((r) => setTimeout(r, 500));
    expect(await ingressOf('other-class')).toEqual([]);
    expect(await resourceVersion('other-class')).toBe(untouched[0]);
    expect(await events('other-class')).toEqual([]);
    // A controller without --lb-class elsewhere in the cluster may serve no-class; ours may not.
    expect((await ingressOf('no-class')).filter((ip) => ip.startsWith('10.250.'))).toEqual([]);
  });

  it('without --lb-class, serves Services with no class and leaves every classed one alone', async () => {
    const classed = ['plain', 'our-class', 'other-class', 'req-dual'];
    const before = await Promise.all(classed.map((n) => resourceVersion(n)));
    await stopController(controller, 'SIGTERM');
    controller = startController(null);
    await waitForLog(controller, 'all services reconciled', 30_000);
    await createService('no-class-2', { spec: { loadBalancerClass: undefined } });
    expect((await addresses('no-class-2'))[0]).toMatch(/^10\.250\.0\./);
    expect((await addresses('no-class'))[0]).toMatch(/^10\.250\.0\./);
    expect(await Promise.all(classed.map((n) => resourceVersion(n)))).toEqual(before);
    expect(await ingressOf('other-class')).toEqual([]);
    await stopController(controller, 'SIGTERM');
  }, 60_000);
});
