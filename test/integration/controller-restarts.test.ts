// 1,000 allocated Services survive 100 controller restarts (SIGKILL and SIGTERM, in a seeded
// random order) with every address kept and not one write to any of them: each Service's
// resourceVersion, which every write to the object or its status changes, is the same after
// the last restart as before the first.
//
// The restarts are a container restarting in its Pod (same POD_NAME, so the same Lease
// identity): after SIGTERM the leader has emptied the Lease, after SIGKILL the new process finds
// the Lease still its own; either way it leads at once.
// Isolated from other test files like controller-allocation.test.ts: configuration and Lease
// in a namespace of their own (with rbac.yaml's controller Role), Services of a class of their own.

import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import yaml from 'js-yaml';
import { repoRoot, writeKubeconfig } from '../env/control-plane.js';
import { testEnv } from '../env/testenv.js';
import {
  eventually,
  startController as startControllerProcess,
  stopAllControllers,
  stopController,
  type ControllerProcess,
} from '../support/controller-process.js';
import { mulberry32 } from '../support/prng.js';

const env = testEnv();
type Controller = ControllerProcess;
const core = env.kubeConfig('admin').makeApiClient(CoreV1Api);
const custom = env.kubeConfig('admin').makeApiClient(CustomObjectsApi);
const id = crypto.randomBytes(3).toString('hex');
const cfgNs = `c4-rcfg-${id}`;
const ns = `c4-r-${id}`;
const lbClass = `beacon.test/c4-restarts-${id}`;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'beacon-controller-restarts-'));
const kubeconfig = path.join(tmp, 'kubeconfig');
const services = 1000;
const restarts = 100;

function startController(): Controller {
  return startControllerProcess(
    ['--kubeconfig', kubeconfig, '--metrics-port', '0', '--namespace', cfgNs, '--lb-class', lbClass],
    // One Pod whose container restarts: the same POD_NAME, as the Deployment sets it.
    { ...process.env, POD_NAME: 'beacon-controller-0' },
  );
}

/** The "all services reconciled" log record, once the controller wrote it. */
function reconciled(c: Controller, ms = 30_000): Promise<{ restored: number }> {
  return eventually(
    async () => {
      const line = c.logs.find((l) => l.includes('"all services reconciled"'));
      return line === undefined ? undefined : (JSON.parse(line) as { restored: number });
    },
    ms,
    'all services reconciled',
  );
}

/** name → resourceVersion and addresses of every Service in ns. */
async function snapshot(): Promise<Map<string, string>> {
  const list = await core.listNamespacedService({ namespace: ns });
  return new Map(
    list.items.map((s) => [
      s.metadata!.name!,
      `${s.metadata!.resourceVersion} ${(s.status?.loadBalancer?.ingress ?? []).map((i) => i.ip).join(',')}`,
    ]),
  );
}

async function inParallel<T>(items: T[], width: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: width }, worker));
}

function controllerRoleIn(namespace: string): string {
  const docs = yaml.loadAll(fs.readFileSync(path.join(repoRoot, 'manifests/rbac.yaml'), 'utf8')) as {
    kind: string;
    metadata: { name: string };
  }[];
  return docs
    .filter((d) => (d.kind === 'Role' || d.kind === 'RoleBinding') && d.metadata.name === 'controller')
    .map((d) => yaml.dump({ ...d, metadata: { ...d.metadata, namespace } }))
    .join('---\n');
}

let controller: Controller;

beforeAll(async () => {
  writeKubeconfig(env, kubeconfig, 'controller');
  await env.kubectl(['apply', '-f', path.join(repoRoot, 'manifests/rbac.yaml')]);
  await core.createNamespace({ body: { metadata: { name: cfgNs } } });
  fs.writeFileSync(path.join(tmp, 'role.yaml'), controllerRoleIn(cfgNs));
  await env.kubectl(['apply', '-f', path.join(tmp, 'role.yaml')]);
  await core.createNamespace({ body: { metadata: { name: ns } } });
  await custom.createNamespacedCustomObject({
    group: 'metallb.io',
    version: 'v1beta1',
    namespace: cfgNs,
    plural: 'ipaddresspools',
    body: {
      apiVersion: 'metallb.io/v1beta1',
      kind: 'IPAddressPool',
      metadata: { name: 'restarts' },
      spec: { addresses: ['10.251.0.0/22', 'fd00:251::/118'] },
    },
  });
  controller = startController();
  await reconciled(controller);
  const names = Array.from({ length: services }, (_, i) => `svc-${String(i).padStart(4, '0')}`);
  await inParallel(names, 16, (name) =>
    core.createNamespacedService({
      namespace: ns,
      body: {
        metadata: {
          name,
          // A few shapes the restore path must take back as they are.
          annotations: Number(name.slice(4)) % 10 === 3 ? { 'metallb.io/allow-shared-ip': 'pair' } : {},
        },
        spec: {
          type: 'LoadBalancer',
          loadBalancerClass: lbClass,
          allocateLoadBalancerNodePorts: false,
          ...(Number(name.slice(4)) % 7 === 0
            ? { ipFamilyPolicy: 'RequireDualStack', ipFamilies: ['IPv4', 'IPv6'] }
            : {}),
          selector: { app: name },
          ports: [{ name: 'p', port: 1000 + Number(name.slice(4)), protocol: 'TCP' }],
        },
      },
    }),
  );
  await eventually(
    async () => {
      const snap = await snapshot();
      return [...snap.values()].every((v) => v.includes(' 10.251.')) ? true : undefined;
    },
    120_000,
    `all ${services} Services allocated`,
  );
}, 240_000);

afterAll(async () => {
  await stopAllControllers();
  // No namespace controller runs here: delete the Services themselves, or they stay for ever.
  for (const n of [ns, cfgNs]) {
    await core.deleteCollectionNamespacedService({ namespace: n }).catch(() => undefined);
    await core.deleteNamespace({ name: n }).catch(() => undefined);
  }
  fs.rmSync(tmp, { recursive: true, force: true });
}, 60_000);

describe('controller restarts with 1,000 allocated Services', () => {
  it(`keeps every address and writes to no Service across ${restarts} SIGKILL and SIGTERM restarts`, async () => {
    // Let the last writes of the initial allocation land before taking the reference.
    await new Promise((r) => setTimeout(r, 1000));
    const before = await snapshot();
    expect(before.size).toBe(services);
    const random = mulberry32(4);
    const times: Record<string, number[]> = { SIGKILL: [], SIGTERM: [] };
    for (let i = 0; i < restarts; i++) {
      const signal = random() < 0.5 ? 'SIGKILL' : 'SIGTERM';
      const t = performance.now();
      await stopController(controller, signal);
      controller = startController();
      const done = await reconciled(controller);
      times[signal]!.push(performance.now() - t);
      // Every Service of ours taken back from its status (the count spans the cluster's Services).
      expect([i, done.restored]).toEqual([i, services]);
      // Fail at the restart that wrote, not 100 restarts later.
      if (i % 10 === 9) expect([i, await snapshot()]).toEqual([i, before]);
    }
    await new Promise((r) => setTimeout(r, 1000));
    expect(await snapshot()).toEqual(before);
    const mean = (xs: number[]) => Math.round(xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length));
    process.stderr.write(
      `restarts: ${times.SIGKILL!.length} SIGKILL (mean ${mean(times.SIGKILL!)} ms to reconciled), ` +
        `${times.SIGTERM!.length} SIGTERM (mean ${mean(times.SIGTERM!)} ms)\n`,
    );
    expect(times.SIGKILL!.length).toBeGreaterThan(0);
    expect(times.SIGTERM!.length).toBeGreaterThan(0);
  }, 900_000);
});
