// Beacon's controller next to MetalLB's (the pinned peer, test/peers/) on one API server in one
// run, trial after trial, alternating which goes first so neither always meets a warmer etcd.
//
// Each trial, for each implementation:
// (cold)    10,000 Services are created with no controller running; the controller is spawned
//           and timed until a watch has seen an ingress address on every one. Service writes are
//           the watch's MODIFIED events (each a write that changed the object), Events are the
//           Event objects it created; peak RSS (VmHWM) and CPU seconds are read from /proc once
//           the writes have been quiet for 2 s.
// (restart) the controller is stopped (SIGTERM) with the 10,000 allocated, one more Service
//           is created, and the controller is spawned again: "ready" is the moment that
//           Service gets its address (both take back the addresses already in status before
//           they allocate new ones). Writes to the 10,000 are counted by resourceVersion.
// Then every Service and Event of the trial is deleted.
//
//   node dist/test/bench/peers.js controller     (BENCH_TRIALS, default 3)

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CoreV1Api, KubeConfig, Watch } from '@kubernetes/client-node';
import { KubeClient } from '../../lib/kube/client.js';
import { beaconNamespace, writeKubeconfig } from '../env/control-plane.js';
import { installBeacon, kubectl } from '../env/install.js';
import { startTestEnv, stopTestEnv } from '../env/testenv.js';
import {
  installMetalLBOwner,
  metricValue,
  metallbVersion,
  startMetalLBController,
  stopMetalLB,
  type MetalLBProcess,
} from '../peers/metallb.js';
import {
  startController as startBeaconProcess,
  stopController as stopBeaconProcess,
  type ControllerProcess,
} from '../support/controller-process.js';
import { procStats } from './proc-stats.js';

const ns = 'bench';

export type Impl = 'beacon' | 'metallb';

/** One measured figure of one trial. */
export interface Sample {
  readonly impl: Impl;
  readonly row: string;
  readonly unit: string;
  readonly value: number;
}

interface Running {
  readonly pid: number;
  /** Its Prometheus page. */
  metrics(): Promise<string>;
  stop(signal: NodeJS.Signals): Promise<void>;
  exited(): boolean;
  logs(): string[];
}

async function inParallel<T>(items: readonly T[], width: number, fn: (item: T) => Promise<unknown>) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: width }, worker));
}

interface SvcItem {
  metadata: { name: string; resourceVersion: string };
  status?: { loadBalancer?: { ingress?: { ip?: string }[] } };
}
interface ServiceList {
  metadata: { resourceVersion: string };
  items: SvcItem[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function benchPeersController(
  trials = Number(process.env.BENCH_TRIALS ?? 3),
  count = Number(process.env.BENCH_SERVICES ?? 10_000),
): Promise<Sample[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'h16-bench-peers-'));
  const stateFile = path.join(dir, 'state.json');
  const adminConfig = path.join(dir, 'kubeconfig');
  const controllerConfig = path.join(dir, 'kubeconfig-controller');
  const samples: Sample[] = [];
  const n = count.toLocaleString('en-US');
  let current: Running | undefined;
  try {
    const state = await startTestEnv({ stateFile, kubeconfig: adminConfig, owner: process.pid });
    writeKubeconfig(state, controllerConfig, 'controller');
    const kc = new KubeConfig();
    kc.loadFromFile(adminConfig);
    kc.setCurrentContext('admin');
    const api = new KubeClient(kc);
    const core = kc.makeApiClient(CoreV1Api);
    await installBeacon(adminConfig);
    await installMetalLBOwner(adminConfig);
    await kubectl(adminConfig, ['create', 'namespace', ns], 'admin');
    await api.request('POST', `/apis/metallb.io/v1beta1/namespaces/${beaconNamespace}/ipaddresspools`, {
      apiVersion: 'metallb.io/v1beta1',
      kind: 'IPAddressPool',
      metadata: { name: 'bench' },
      spec: { addresses: ['10.240.0.0/18'] },
    });
    const list = async () => (await api.request('GET', `/api/v1/namespaces/${ns}/services`)) as ServiceList;
    const names = Array.from({ length: count }, (_, i) => `svc-${String(i).padStart(5, '0')}`);
    const create = (name: string) =>
      api.request('POST', `/api/v1/namespaces/${ns}/services`, {
        metadata: { name },
        spec: {
          type: 'LoadBalancer',
          allocateLoadBalancerNodePorts: false,
          selector: { app: name },
          ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
        },
      });

    const start = async (impl: Impl): Promise<Running> => {
      if (impl === 'beacon') {
        const c: ControllerProcess = startBeaconProcess([
          '--kubeconfig',
          controllerConfig,
          '--metrics-host',
          '127.0.0.1',
          '--metrics-port',
          '0',
        ]);
        return {
          pid: c.child.pid!,
          metrics: async () => {
            const line = c.logs.find((l) => l.includes('"msg":"starting"'));
            const port = (JSON.parse(line ?? '{}') as { metricsPort?: number }).metricsPort;
            return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
          },
          stop: (s) => stopBeaconProcess(c, s),
          exited: () => c.child.exitCode !== null,
          logs: () => c.logs,
        };
      }
      const m: MetalLBProcess = await startMetalLBController(adminConfig);
      return {
        pid: m.child.pid!,
        metrics: async () => (await fetch(`http://127.0.0.1:${m.metricsPort}/metrics`)).text(),
        stop: (s) => stopMetalLB(m, s),
        exited: () => m.child.exitCode !== null,
        logs: () => m.logs,
      };
    };

    // A watch the API server ends (or that fails) would leave the wait below blind: the phase
    // fails saying so instead of waiting out its deadline. A watch belongs to the phase that
    // opened it, so the end of one the bench aborted is never blamed on a later phase.
    let phase = 0;
    let watchEnded: string | undefined;
    const newPhase = (): number => {
      watchEnded = undefined;
      return ++phase;
    };
    const onWatchEnd = (which: string, of: number) => (err: unknown) => {
      if (of === phase)
        watchEnded ??= `the ${which} watch ended (${err ? String(err) : 'closed by the API server'})`;
    };

    /** Waits until `done()` holds, the process still running; then until `quiet` ms pass with no write. */
    const waitFor = async (p: Running, done: () => boolean, lastWrite: () => number, what: string) => {
      const deadline = performance.now() + 1_800_000;
      while (!done()) {
        if (p.exited()) throw new Error(`${what}: the controller exited:\n${p.logs().slice(-20).join('\n')}`);
        if (watchEnded !== undefined)
          throw new Error(`${what}: ${watchEnded} before the controller was done`);
        if (performance.now() > deadline) throw new Error(`${what}: not within 30 min`);
        await sleep(20);
      }
      while (performance.now() - lastWrite() < 2000) await sleep(100);
    };

    for (let trial = 0; trial < trials; trial++) {
      const order: Impl[] = trial % 2 === 0 ? ['metallb', 'beacon'] : ['beacon', 'metallb'];
      for (const impl of order) {
        const add = (row: string, unit: string, value: number) => samples.push({ impl, row, unit, value });
        process.stderr.write(`controller trial ${trial + 1}/${trials}: ${impl}\n`);
        await inParallel(names, 32, create);

        // (cold)
        const cold0 = newPhase();
        const initial = await list();
        const withIngress = new Set<string>();
        let modified = 0;
        let lastWrite = performance.now();
        let allAt = 0;
        const watch = await new Watch(kc).watch(
          `/api/v1/namespaces/${ns}/services`,
          { resourceVersion: initial.metadata.resourceVersion },
          (type, obj: SvcItem) => {
            if (type !== 'MODIFIED') return;
            modified++;
            lastWrite = performance.now();
            if ((obj.status?.loadBalancer?.ingress ?? []).length > 0) withIngress.add(obj.metadata.name);
            if (withIngress.size === count) allAt ||= performance.now();
          },
          onWatchEnd('Service', cold0),
        );
        let events = 0;
        const eventWatch = await new Watch(kc).watch(
          `/api/v1/namespaces/${ns}/events`,
          { resourceVersion: initial.metadata.resourceVersion },
          (type) => {
            if (type !== 'ADDED') return;
            events++;
            lastWrite = performance.now();
          },
          onWatchEnd('Event', cold0),
        );
        let t = performance.now();
        current = await start(impl);
        await waitFor(
          current,
          () => withIngress.size === count,
          () => lastWrite,
          `${impl} cold`,
        );
        const allocatedMs = allAt - t;
        const cold = procStats(current.pid);
        const page = await current.metrics();
        // The runtime's own figure for live heap: V8's used heap, Go's in-use heap spans.
        const heap = metricValue(
          page,
          impl === 'beacon' ? 'nodejs_heap_size_used_bytes' : 'go_memstats_heap_inuse_bytes',
        );
        watch.abort();
        eventWatch.abort();
        add(`cold: ${n} Services, spawn → all allocated`, 's', allocatedMs / 1000);
        add('cold: Service writes per Service', '', modified / count);
        add('cold: Events per Service', '', events / count);
        add('cold: peak RSS', 'MB', cold.peakRss / 1e6);
        add('cold: CPU', 's', cold.cpuSeconds);
        add('cold: heap in use after allocating (V8 used / Go in-use)', 'MB', (heap ?? NaN) / 1e6);

        // (restart)
        const before = new Map(
          (await list()).items.map((s) => [s.metadata.name, s.metadata.resourceVersion]),
        );
        await current.stop('SIGTERM');
        current = undefined;
        await create('probe');
        const probeSeen = { at: 0 };
        let restartLastWrite = performance.now();
        const rv = (await list()).metadata.resourceVersion;
        const restart0 = newPhase();
        const probeWatch = await new Watch(kc).watch(
          `/api/v1/namespaces/${ns}/services`,
          { resourceVersion: rv },
          (type, obj: SvcItem) => {
            if (type !== 'MODIFIED') return;
            restartLastWrite = performance.now();
            if (obj.metadata.name === 'probe' && (obj.status?.loadBalancer?.ingress ?? []).length > 0)
              probeSeen.at ||= performance.now();
          },
          onWatchEnd('Service (restart)', restart0),
        );
        t = performance.now();
        current = await start(impl);
        await waitFor(
          current,
          () => probeSeen.at > 0,
          () => restartLastWrite,
          `${impl} restart`,
        );
        probeWatch.abort();
        const restarted = procStats(current.pid);
        const after = (await list()).items;
        const changed = after.filter(
          (s) => s.metadata.name !== 'probe' && before.get(s.metadata.name) !== s.metadata.resourceVersion,
        ).length;
        add(`restart with ${n} allocated: spawn → a new Service served`, 's', (probeSeen.at - t) / 1000);
        add('restart: Services rewritten', '', changed);
        add('restart: peak RSS', 'MB', restarted.peakRss / 1e6);
        add('restart: CPU until ready and quiet', 's', restarted.cpuSeconds);
        await current.stop('SIGTERM');
        current = undefined;

        await core.deleteCollectionNamespacedService({ namespace: ns });
        await core.deleteCollectionNamespacedEvent({ namespace: ns });
        while ((await list()).items.length > 0) await sleep(200);
        // Figures so far, for a run cut short.
        if (process.env.BENCH_SAMPLES_FILE)
          fs.writeFileSync(process.env.BENCH_SAMPLES_FILE, JSON.stringify(samples));
      }
    }
    return samples;
  } finally {
    if (current !== undefined) await current.stop('SIGKILL');
    await stopTestEnv(stateFile);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export const peersControllerTitle = `Controller: Beacon vs MetalLB ${metallbVersion} on one API server`;
