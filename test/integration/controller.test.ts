// The controller binary against a real API server, as the controller ServiceAccount (so
// manifests/rbac.yaml is what is tested), with the layer 2 example's pool and L2Advertisement.

import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CoreV1Api, type V1Service } from '@kubernetes/client-node';
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
const startController = (): Controller =>
  startControllerProcess(['--kubeconfig', kubeconfig, '--metrics-port', '0']);
const core = env.kubeConfig('admin').makeApiClient(CoreV1Api);
const ns = `ctl-${crypto.randomBytes(3).toString('hex')}`;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'beacon-controller-'));
const kubeconfig = path.join(tmp, 'kubeconfig');
const created: string[] = [];

async function createService(
  name: string,
  spec: Partial<NonNullable<V1Service['spec']>> = {},
  annotations: Record<string, string> = {},
): Promise<void> {
  await core.createNamespacedService({
    namespace: ns,
    body: {
      metadata: { name, annotations },
      spec: {
        type: 'LoadBalancer',
        selector: { app: name },
        ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
        ...spec,
      },
    },
  });
  created.push(name);
}

const read = (name: string) => core.readNamespacedService({ name, namespace: ns });
const ingressOf = async (name: string) => (await read(name)).status?.loadBalancer?.ingress ?? [];

function allocatedIP(name: string, ms = 15_000): Promise<string> {
  return eventually(async () => (await ingressOf(name))[0]?.ip, ms, `address for ${name}`);
}

function pendingCondition(name: string) {
  return eventually(
    async () => {
      const c = (await read(name)).status?.conditions?.find((x) => x.type === 'metallb.io/IPAllocated');
      return c?.status === 'False' ? c : undefined;
    },
    15_000,
    `pending condition on ${name}`,
  );
}

async function warningEvents(name: string): Promise<string[]> {
  const list = await core.listNamespacedEvent({
    namespace: ns,
    fieldSelector: `involvedObject.name=${name}`,
  });
  return list.items.filter((e) => e.type === 'Warning').map((e) => `${e.reason}: ${e.message}`);
}

async function resourceVersions(): Promise<Map<string, string>> {
  const list = await core.listNamespacedService({ namespace: ns });
  return new Map(list.items.map((s) => [s.metadata!.name!, s.metadata!.resourceVersion!]));
}

let controller: Controller;

beforeAll(async () => {
  writeKubeconfig(env, kubeconfig, 'controller');
  await env.kubectl(['apply', '-f', path.join(repoRoot, 'manifests/samples/seed-002.yaml')]);
  await core.createNamespace({ body: { metadata: { name: ns } } });
  controller = startController();
  await waitForLog(controller, 'became leader');
}, 60_000);

afterAll(async () => {
  await stopAllControllers();
  for (const name of created)
    await core.deleteNamespacedService({ name, namespace: ns }).catch(() => undefined);
  await core.deleteNamespace({ name: ns }).catch(() => undefined);
  fs.rmSync(tmp, { recursive: true, force: true });
}, 60_000);

describe('beacon-controller against a real API server', () => {
  it("gives the layer 2 example's myapp its requested 192.168.10.222 with ipMode VIP", async () => {
    await createService('myapp', { loadBalancerIP: '192.168.10.222' });
    await allocatedIP('myapp');
    const svc = await read('myapp');
    expect(svc.status?.loadBalancer?.ingress).toEqual([{ ip: '192.168.10.222', ipMode: 'VIP' }]);
    expect(svc.metadata?.annotations?.['metallb.io/ip-allocated-from-pool']).toBe('first-pool');
    expect(svc.status?.conditions?.find((c) => c.type === 'metallb.io/IPAllocated')?.status).toBe('True');
  });

  it('gives a Service without loadBalancerIP the lowest free address of the pool', async () => {
    await createService('auto');
    expect(await allocatedIP('auto')).toBe('192.168.10.200');
  });

  it('leaves each bad request pending with a condition and a Warning Event, touching no other Service', async () => {
    const before = await resourceVersions();
    await createService('outside', { loadBalancerIP: '10.99.0.1' });
    await createService('taken', { loadBalancerIP: '192.168.10.222' });
    await createService(
      'both',
      { loadBalancerIP: '192.168.10.230' },
      { 'metallb.io/loadBalancerIPs': '192.168.10.231' },
    );
    await createService('nopool', {}, { 'metallb.io/address-pool': 'no-such-pool' });

    const expected: [string, string, RegExp][] = [
      ['outside', 'IPNotInAnyPool', /10\.99\.0\.1 is not in any IPAddressPool/],
      ['taken', 'IPInUse', new RegExp(`192\\.168\\.10\\.222 is already used by service ${ns}/myapp`)],
      ['both', 'InvalidRequest', /cannot be combined with spec.loadBalancerIP "192.168.10.230"/],
      ['nopool', 'UnknownPool', /IPAddressPool no-such-pool.*does not exist/],
    ];
    for (const [name, reason, message] of expected) {
      const cond = await pendingCondition(name);
      expect(cond.reason).toBe(reason);
      expect(cond.message).toMatch(message);
      expect(await ingressOf(name)).toEqual([]);
      const events = await eventually(async () => {
        const e = await warningEvents(name);
        return e.length > 0 ? e : undefined;
      });
      expect(events[0]).toMatch(/^AllocationFailed: /);
      expect(events[0]).toMatch(message);
    }
    const after = await resourceVersions();
    for (const [name, rv] of before) expect(after.get(name)).toBe(rv);
  });

  it('puts Services with the same allow-shared-ip key and distinct ports on one address', async () => {
    const key = { 'metallb.io/allow-shared-ip': 'shared-1' };
    await createService('share-a', { ports: [{ name: 'http', port: 80, protocol: 'TCP' }] }, key);
    await createService('share-b', { ports: [{ name: 'dns', port: 53, protocol: 'UDP' }] }, key);
    const a = await allocatedIP('share-a');
    expect(await allocatedIP('share-b')).toBe(a);
  });

  it('releases the address when the type changes away from LoadBalancer', async () => {
    await createService('leaving');
    const ip = await allocatedIP('leaving');
    await core.patchNamespacedService({
      name: 'leaving',
      namespace: ns,
      body: [{ op: 'replace', path: '/spec/type', value: 'ClusterIP' }],
    });
    // The annotation and the condition go in two writes (the API server itself drops the
    // ingress on the type change): wait for all three.
    await eventually(
      async () => {
        const s = await read('leaving');
        const cleared =
          (s.status?.loadBalancer?.ingress ?? []).length === 0 &&
          s.metadata?.annotations?.['metallb.io/ip-allocated-from-pool'] === undefined &&
          s.status?.conditions?.find((c) => c.type === 'metallb.io/IPAllocated') === undefined;
        return cleared ? s : undefined;
      },
      15_000,
      'address, pool annotation and IPAllocated condition all gone',
    );
    // The address is free again: a new Service gets it if it is the lowest.
    await createService('after-leaving', { loadBalancerIP: ip });
    expect(await allocatedIP('after-leaving')).toBe(ip);
  });

  it('keeps every address and writes nothing for unchanged Services across SIGKILL and SIGTERM restarts', async () => {
    const ipsBefore = new Map<string, string | undefined>();
    for (const name of ['myapp', 'auto', 'share-a', 'share-b', 'after-leaving'])
      ipsBefore.set(name, (await ingressOf(name))[0]?.ip);
    const before = await resourceVersions();
    for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
      await stopController(controller, signal);
      controller = startController();
      await waitForLog(controller, 'all services reconciled', 30_000);
    }
    // Give any stray write time to land.
    await new Promise((r) => setTimeout(r, 1000));
    const after = await resourceVersions();
    for (const [name, rv] of before) expect([name, after.get(name)]).toEqual([name, rv]);
    for (const [name, ip] of ipsBefore) expect((await ingressOf(name))[0]?.ip).toBe(ip);
  }, 60_000);

  it('lets only the leader write, and the standby takes over within seconds of its death', async () => {
    const standby = startController();
    await waitForLog(standby, 'caches synced');
    await createService('while-two');
    await allocatedIP('while-two');
    expect(standby.logs.some((l) => l.includes('became leader'))).toBe(false);
    expect(standby.logs.some((l) => l.includes('service allocated'))).toBe(false);

    await stopController(controller, 'SIGKILL');
    const killedAt = Date.now();
    await waitForLog(standby, 'became leader', 15_000);
    const takeover = Date.now() - killedAt;
    expect(takeover).toBeLessThan(8000);
    await createService('after-failover');
    expect(await allocatedIP('after-failover')).toMatch(/^192\.168\.10\./);
    controller = standby;
  }, 60_000);
});
