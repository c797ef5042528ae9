// The controller at 10,000 Services through a real API server (its own control plane, started
// and stopped here), next to a baseline measured on the same API server in the same run: the
// fastest rate at which plain parallel PATCHes of services/status go through, with no
// controller. Goal: controller Services/s ÷ raw status writes/s ≥ 0.8.
//
// (a) 10,000 Services are created first (no controller running; allocateLoadBalancerNodePorts
//     false so the NodePort range does not run out); the controller is then started and timed
//     from its spawn to the moment a watch has seen an ingress address on every Service.
// (c) the controller is restarted (SIGTERM) with the 10,000 allocated and timed to its "all
//     services reconciled"; Service writes are counted by resourceVersion (goal 0).
// (b) the raw baseline: N parallel status PATCHes (widths 16/32/64, best kept).
//
//   npx tsc -p tsconfig.build.json && node --expose-gc dist/test/bench/run.js controller

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KubeConfig, Watch } from '@kubernetes/client-node';
import { KubeClient } from '../../lib/kube/client.js';
import { repoRoot, writeKubeconfig } from '../env/control-plane.js';
import { kubectl } from '../env/install.js';
import { startTestEnv, stopTestEnv } from '../env/testenv.js';
import {
  startController as startControllerProcess,
  stopController,
  type ControllerProcess as Controller,
} from '../support/controller-process.js';
import type { BenchResult } from './allocator-bench.js';

const count = 10_000;
const ns = 'bench';

function startController(kubeconfig: string): Controller {
  return startControllerProcess([
    '--kubeconfig',
    kubeconfig,
    '--metrics-host',
    '127.0.0.1',
    '--metrics-port',
    '0',
  ]);
}

async function logRecord(c: Controller, msg: string, ms: number): Promise<Record<string, unknown>> {
  const end = performance.now() + ms;
  for (;;) {
    const line = c.logs.find((l) => l.includes(`"msg":"${msg}"`));
    if (line !== undefined) return JSON.parse(line) as Record<string, unknown>;
    if (c.child.exitCode !== null) throw new Error(`controller exited:\n${c.logs.join('\n')}`);
    if (performance.now() > end) throw new Error(`controller did not log "${msg}" within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** metallb_k8s_client_updates_total: every write the controller sent (Lease, Events included). */
async function controllerWrites(c: Controller): Promise<number> {
  const port = (await logRecord(c, 'starting', 10_000)).metricsPort as number;
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const m = /^metallb_k8s_client_updates_total (\d+)/m.exec(text);
  if (m === null) throw new Error('metallb_k8s_client_updates_total missing from /metrics');
  return Number(m[1]);
}

async function inParallel<T>(items: readonly T[], width: number, fn: (item: T) => Promise<unknown>) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: width }, worker));
}

interface ServiceList {
  metadata: { resourceVersion: string };
  items: {
    metadata: { name: string; resourceVersion: string };
    status?: { loadBalancer?: { ingress?: { ip?: string }[] } };
  }[];
}

export async function benchController(): Promise<BenchResult[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'beacon-bench-controller-'));
  const stateFile = path.join(dir, 'state.json');
  const adminConfig = path.join(dir, 'kubeconfig');
  const controllerConfig = path.join(dir, 'kubeconfig-controller');
  const rows: BenchResult[] = [];
  let controller: Controller | undefined;
  try {
    const state = await startTestEnv({ stateFile, kubeconfig: adminConfig, owner: process.pid });
    writeKubeconfig(state, controllerConfig, 'controller');
    const kc = new KubeConfig();
    kc.loadFromFile(adminConfig);
    kc.setCurrentContext('admin');
    const api = new KubeClient(kc);
    const list = async () => (await api.request('GET', `/api/v1/namespaces/${ns}/services`)) as ServiceList;

    await kubectl(adminConfig, ['apply', '-f', path.join(repoRoot, 'manifests/rbac.yaml')], 'admin');
    await api.request('POST', '/api/v1/namespaces', { metadata: { name: ns } });
    await api.request('POST', '/apis/metallb.io/v1beta1/namespaces/metallb-system/ipaddresspools', {
      apiVersion: 'metallb.io/v1beta1',
      kind: 'IPAddressPool',
      metadata: { name: 'bench' },
      spec: { addresses: ['10.240.0.0/18'] },
    });

    const names = Array.from({ length: count }, (_, i) => `svc-${String(i).padStart(5, '0')}`);
    let t = performance.now();
    await inParallel(names, 32, (name) =>
      api.request('POST', `/api/v1/namespaces/${ns}/services`, {
        metadata: { name },
        spec: {
          type: 'LoadBalancer',
          allocateLoadBalancerNodePorts: false,
          selector: { app: name },
          ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
        },
      }),
    );
    const createMs = performance.now() - t;
    rows.push({ name: 'Services created (32 parallel POSTs, no controller)', value: createMs, unit: 'ms' });

    // (a) A watch from the current resourceVersion sees every ingress the controller writes.
    const initial = await list();
    const withIngress = new Set<string>();
    let allAllocated: () => void = () => {};
    const allDone = new Promise<void>((r) => (allAllocated = r));
    const watch = await new Watch(kc).watch(
      `/api/v1/namespaces/${ns}/services`,
      { resourceVersion: initial.metadata.resourceVersion },
      (_type, obj: ServiceList['items'][number]) => {
        if ((obj.status?.loadBalancer?.ingress ?? []).length > 0) withIngress.add(obj.metadata.name);
        if (withIngress.size === count) allAllocated();
      },
      () => {},
    );
    // The IPAllocated Events trail the status writes (they go out a few at a time): timed too.
    const allocatedEvents = new Set<string>();
    let eventsDoneAt = 0;
    const eventWatch = await new Watch(kc).watch(
      `/api/v1/namespaces/${ns}/events`,
      {},
      (type, obj: { reason?: string; involvedObject?: { name?: string } }) => {
        if (type !== 'ADDED' || obj.reason !== 'IPAllocated') return;
        allocatedEvents.add(obj.involvedObject?.name ?? '');
        if (allocatedEvents.size === count && eventsDoneAt === 0) eventsDoneAt = performance.now();
      },
      () => {},
    );
    t = performance.now();
    controller = startController(controllerConfig);
    await Promise.race([
      allDone,
      new Promise((_r, reject) => setTimeout(() => reject(new Error('not all allocated in 5 min')), 300_000)),
    ]);
    const allocMs = performance.now() - t;
    watch.abort();
    const eventsDeadline = performance.now() + 300_000;
    while (eventsDoneAt === 0 && performance.now() < eventsDeadline)
      await new Promise((r) => setTimeout(r, 100));
    eventWatch.abort();
    const leader = await logRecord(controller, 'all services reconciled', 60_000);
    const writes = await controllerWrites(controller);
    const controllerRate = count / (allocMs / 1000);
    rows.push(
      { name: '(a) controller spawn → ingress on all 10,000', value: allocMs, unit: 'ms' },
      {
        name: '(a) of which leader → queue drained (controller log)',
        value: leader.ms as number,
        unit: 'ms',
      },
      { name: '(a) controller allocation rate', value: controllerRate, unit: 'Services/s' },
      {
        name: '(a) controller spawn → all 10,000 IPAllocated Events written',
        value: eventsDoneAt === 0 ? NaN : eventsDoneAt - t,
        unit: eventsDoneAt === 0 ? `ms (only ${allocatedEvents.size} within 5 min)` : 'ms',
      },
      { name: '(a) controller API writes per Service (incl. Events)', value: writes / count, unit: 'writes' },
    );

    // (c) Restart with 10,000 allocated.
    const before = new Map((await list()).items.map((s) => [s.metadata.name, s.metadata.resourceVersion]));
    await stopController(controller, 'SIGTERM');
    t = performance.now();
    controller = startController(controllerConfig);
    const ready = await logRecord(controller, 'all services reconciled', 120_000);
    const restartMs = performance.now() - t;
    await new Promise((r) => setTimeout(r, 1000));
    const restartWrites = await controllerWrites(controller);
    const after = (await list()).items;
    const changed = after.filter((s) => before.get(s.metadata.name) !== s.metadata.resourceVersion).length;
    rows.push(
      { name: '(c) restart: spawn → all services reconciled', value: restartMs, unit: 'ms' },
      { name: '(c) restart: Services restored without a write', value: ready.restored as number, unit: '' },
      { name: '(c) restart: Services written (resourceVersion changed)', value: changed, unit: '' },
      { name: '(c) restart: controller API writes (Lease incl.)', value: restartWrites, unit: 'writes' },
    );
    await stopController(controller, 'SIGTERM');

    // (b) The baseline: each PATCH changes a condition of its own, so none is a no-op.
    let best = 0;
    let round = 0;
    for (const width of [16, 32, 64]) {
      const sample = names.slice(0, 6000);
      round++;
      t = performance.now();
      await inParallel(sample, width, (name) =>
        api.patch(`/api/v1/namespaces/${ns}/services/${name}/status`, 'strategic', {
          status: {
            conditions: [
              {
                type: 'bench.beacon/Raw',
                status: 'True',
                reason: 'Bench',
                message: `round ${round}`,
                lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
              },
            ],
          },
        }),
      );
      const rate = sample.length / ((performance.now() - t) / 1000);
      rows.push({ name: `(b) raw status PATCH rate, ${width} parallel`, value: rate, unit: 'writes/s' });
      best = Math.max(best, rate);
    }
    rows.push({
      name: 'ratio (a) controller Services/s ÷ best (b) raw writes/s (goal ≥ 0.8)',
      value: controllerRate / best,
      unit: '',
    });
    return rows;
  } finally {
    if (controller !== undefined) await stopController(controller, 'SIGKILL');
    await stopTestEnv(stateFile);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
