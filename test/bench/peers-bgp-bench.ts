// BGP speakers, Beacon's next to MetalLB's native BGP mode (the pinned peer, test/peers/), on
// one lab and one control plane in one run. BIRD on the router peers over iBGP (AS 64500) with
// the three nodes, hold time 3 s (the shortest MetalLB accepts: a hold time is 0 or at least
// 3 s, RFC 4271 section 4.2), routes kept in BIRD's table (no kernel export, so only BGP work is
// timed). N Services (BENCH_BGP_PREFIXES, default 10,000) with an address each and an
// EndpointSlice with a ready endpoint on every node are created once and shared by both.
//
// Each trial, for each implementation:
//  - the three speakers are spawned: time until BIRD holds all N prefixes from all three
//    (3N routes), the UPDATE messages each speaker sent for them (its own
//    metallb_bgp_updates_total, the same counter name in both), its RSS and CPU seconds then;
//  - node1 is unplugged (its bridge port down: its speaker keeps running but nothing reaches
//    the router): time until BIRD has dropped node1's N paths. MetalLB's native mode has no
//    BFD (MetalLB refuses a bfdProfile there), so it is its hold timer; Beacon's peer has a
//    BFDProfile of BENCH_BGP_BFD_MS (default 300, FRR's default
//    that MetalLB's BFDProfile documents) x 3 and BIRD runs BFD with it (RFC 5880,
//    RFC 5882 section 4.3: BFD down takes the BGP session down);
//  - node1 is plugged back, and the speakers are stopped.
//
//   LAB_PREFIX=xyz- node dist/test/bench/peers.js bgp   (BENCH_BGP_TRIALS, default 3)

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KubeClient } from '../../lib/kube/client.js';
import { loadKubeConfig } from '../../lib/kube/kubeconfig.js';
import { beaconNamespace, repoRoot, writeKubeconfig } from '../env/control-plane.js';
import { kubectl } from '../env/install.js';
import { startTestEnv, stopTestEnv } from '../env/testenv.js';
import { endpointSliceObject, nodeObject, nodeStatusPatch } from '../demo/objects.js';
import { Lab, hostV4, labNet, nodeHosts, type LabProcess, type NodeHost } from '../e2e/lab.js';
import { relayRootEndpoint, targetFromUrl } from '../e2e/relay.js';
import { BirdRouter } from '../e2e/router.js';
import { metallbBinaries, metallbVersion, speakerPod } from '../peers/metallb.js';
import {
  startController as startBeaconController,
  stopController as stopBeaconController,
} from '../support/controller-process.js';
import type { Impl, Sample } from './peers-controller-bench.js';
import { procStats } from './proc-stats.js';

const ns = 'bench';
const pool = 'bench';
const metricsPort = 7472;
const holdTime = 3;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Runs `fn` over `items` with `width` in flight, retrying each a few times (a busy API server). */
async function inParallel<T>(items: readonly T[], width: number, fn: (item: T) => Promise<unknown>) {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++]!;
      for (let attempt = 1; ; attempt++) {
        try {
          await fn(item);
          break;
        } catch (err) {
          // 409: an earlier attempt whose answer was lost created it.
          if ((err as { status?: number }).status === 409) break;
          if (attempt >= 5) throw err;
          await sleep(300 * attempt);
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
}

/** BIRD's route count: `Y of Y routes for Z networks` (`show route count`). */
export function parseRouteCount(out: string): { routes: number; networks: number } | undefined {
  const m = /(\d+) of (\d+) routes for (\d+) networks/.exec(out);
  return m ? { routes: Number(m[2]), networks: Number(m[3]) } : undefined;
}

/** The sum of a counter over all its label sets on a Prometheus text page (NaN if absent). */
export function counterSum(page: string, name: string): number {
  const values = [...page.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))].map((m) =>
    Number(m[1]),
  );
  return values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0);
}

interface SvcList {
  items: { status?: { loadBalancer?: { ingress?: unknown[] } } }[];
}

export async function benchPeersBgp(
  trials = Number(process.env.BENCH_BGP_TRIALS ?? 3),
  count = Number(process.env.BENCH_BGP_PREFIXES ?? 10_000),
  bfdMs = Number(process.env.BENCH_BGP_BFD_MS ?? 300),
): Promise<Sample[]> {
  const samples: Sample[] = [];
  const log = (line: string) => void process.stderr.write(`${line}\n`);
  const n = count.toLocaleString('en-US');
  const lab = new Lab({ prefix: `${process.env.LAB_PREFIX ?? ''}bgpp-` });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `beacon-${lab.prefix}`));
  const stateFile = path.join(dir, 'testenv.json');
  const adminConfig = path.join(dir, 'kubeconfig');
  const speakerConfig = path.join(dir, 'speaker.kubeconfig');
  const controllerConfig = path.join(dir, 'controller.kubeconfig');
  const speakers = new Map<NodeHost, LabProcess>();
  let bird: BirdRouter | undefined;
  const admin = (args: string[]): Promise<string> => kubectl(adminConfig, args, 'admin');
  const apply = async (name: string, obj: object): Promise<void> => {
    const file = path.join(dir, `${name}.json`);
    fs.writeFileSync(file, JSON.stringify(obj));
    await admin(['apply', '-f', file]);
  };
  const stopSpeakers = async (): Promise<void> => {
    for (const p of speakers.values()) await p.stop(3000).catch(() => undefined);
    speakers.clear();
  };
  try {
    const env = await startTestEnv({ stateFile, kubeconfig: adminConfig, owner: process.pid });
    writeKubeconfig(env, adminConfig, 'admin');
    writeKubeconfig(env, speakerConfig, 'speaker');
    writeKubeconfig(env, controllerConfig, 'controller');
    await lab.up({ guard: true });
    await relayRootEndpoint(lab, targetFromUrl(env.server));
    const api = new KubeClient(loadKubeConfig(adminConfig));
    for (const node of nodeHosts) {
      await apply(`node-${node}`, nodeObject(node));
      const patch = JSON.stringify(nodeStatusPatch(node, new Date()));
      await admin(['patch', 'node', node, '--subresource=status', '--type=merge', '-p', patch]);
      // MetalLB's speaker reads its own Pod (the owner of its ServiceBGPStatus objects).
      await apply(`pod-${node}`, speakerPod(node));
    }
    await apply('bench', {
      apiVersion: 'v1',
      kind: 'List',
      items: [
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } },
        {
          apiVersion: 'metallb.io/v1beta1',
          kind: 'IPAddressPool',
          metadata: { name: pool, namespace: beaconNamespace },
          spec: { addresses: ['10.200.0.0/16'], autoAssign: false },
        },
        {
          apiVersion: 'metallb.io/v1beta1',
          kind: 'BGPAdvertisement',
          metadata: { name: pool, namespace: beaconNamespace },
          spec: { ipAddressPools: [pool] },
        },
      ],
    });

    // The Services and their EndpointSlices, then addresses from Beacon's controller (not
    // timed here: the controller rows are peers-controller-bench.ts), which is then stopped.
    const names = Array.from({ length: count }, (_, i) => `svc-${String(i).padStart(5, '0')}`);
    let t = performance.now();
    let done = 0;
    await inParallel(names, 16, async (name) => {
      await api.request('POST', `/api/v1/namespaces/${ns}/services`, {
        metadata: { name, annotations: { 'metallb.io/address-pool': pool } },
        spec: {
          type: 'LoadBalancer',
          allocateLoadBalancerNodePorts: false,
          ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
        },
      });
      await api.request(
        'POST',
        `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`,
        endpointSliceObject({
          service: name,
          namespace: ns,
          port: { name: 'http', port: 80, protocol: 'TCP' },
        }),
      );
      if (++done % 1000 === 0) log(`bgp: ${done} Services created`);
    });
    log(`bgp: ${n} Services and EndpointSlices created in ${((performance.now() - t) / 1000).toFixed(0)} s`);
    t = performance.now();
    const controller = startBeaconController(['--kubeconfig', controllerConfig, '--metrics-port', '0']);
    try {
      for (;;) {
        const list = (await api.request('GET', `/api/v1/namespaces/${ns}/services`)) as SvcList;
        const allocated = list.items.filter((s) => (s.status?.loadBalancer?.ingress ?? []).length > 0).length;
        if (allocated === count) break;
        if (controller.child.exitCode !== null)
          throw new Error(`Beacon's controller exited:\n${controller.logs.slice(-20).join('\n')}`);
        await sleep(2000);
      }
    } finally {
      await stopBeaconController(controller, 'SIGTERM');
    }
    log(`bgp: all ${n} allocated in ${((performance.now() - t) / 1000).toFixed(0)} s`);

    const metallbSpeaker = path.join(await metallbBinaries(), 'speaker');
    const spawnSpeaker = (impl: Impl, node: NodeHost): LabProcess => {
      const logFile = path.join(dir, `${impl}-speaker-${node}-${Date.now()}.log`);
      const p =
        impl === 'metallb'
          ? lab.spawn(
              node,
              metallbSpeaker,
              [
                ...['--node-name', node, '--pod-name', `speaker-${node}`, '--namespace', beaconNamespace],
                ...['--host', '127.0.0.1', '--port', String(metricsPort), '--log-level', 'warn'],
              ],
              // Native BGP, memberlist off (no --ml-bindaddr): BGP mode announces from every
              // eligible node and needs no election.
              { logFile, env: { ...process.env, KUBECONFIG: adminConfig, METALLB_BGP_TYPE: 'native' } },
            )
          : lab.spawn(
              node,
              process.execPath,
              [
                path.join(repoRoot, 'dist/speaker/main.js'),
                ...['--kubeconfig', speakerConfig, '--node-name', node],
                ...['--metrics-host', '127.0.0.1', '--metrics-port', String(metricsPort)],
              ],
              { logFile },
            );
      speakers.set(node, p);
      return p;
    };
    const routes = async (): Promise<number> =>
      parseRouteCount(await bird!.birdc('show route count').catch(() => ''))?.routes ?? -1;
    const waitRoutes = async (
      what: string,
      ok: (r: number) => boolean,
      timeoutMs: number,
    ): Promise<number> => {
      const t0 = performance.now();
      let said = t0;
      for (;;) {
        const r = await routes();
        if (performance.now() - said > 30_000) {
          said = performance.now();
          log(`bgp: ${what}: BIRD has ${r} routes after ${((said - t0) / 1000).toFixed(0)} s`);
        }
        if (ok(r)) return performance.now();
        for (const [node, p] of speakers)
          if (p.child.exitCode !== null)
            throw new Error(`${what}: the speaker on ${node} exited (see ${p.logFile})`);
        if (performance.now() - t0 > timeoutMs)
          throw new Error(
            `${what}: not within ${timeoutMs / 1000} s (BIRD has ${r} routes)\n${await bird!.diagnostics()}`,
          );
        await sleep(10);
      }
    };

    for (const impl of ['metallb', 'beacon'] as Impl[]) {
      const add = (row: string, unit: string, value: number) => samples.push({ impl, row, unit, value });
      // Each implementation's peer: MetalLB's native mode refuses a bfdProfile (and any
      // BFDProfile object), so only Beacon's has one.
      const peer = {
        apiVersion: 'metallb.io/v1beta2',
        kind: 'BGPPeer',
        metadata: { name: 'router', namespace: beaconNamespace },
        spec: {
          myASN: labNet.routerAsn,
          peerASN: labNet.routerAsn,
          peerAddress: hostV4('router'),
          holdTime: `${holdTime}s`,
          ...(impl === 'beacon' ? { bfdProfile: 'bench' } : {}),
        },
      };
      if (impl === 'beacon')
        await apply('bfd', {
          apiVersion: 'metallb.io/v1beta1',
          kind: 'BFDProfile',
          metadata: { name: 'bench', namespace: beaconNamespace },
          spec: { receiveInterval: bfdMs, transmitInterval: bfdMs, detectMultiplier: 3 },
        });
      await apply(`peer-${impl}`, peer);
      bird = new BirdRouter(lab, {
        peers: nodeHosts.map((node) => ({ address: hostV4(node), asn: labNet.routerAsn })),
        holdTime,
        keepalive: 1,
        kernel: false,
        ...(impl === 'beacon' ? { bfd: { intervalMs: bfdMs, multiplier: 3 } } : {}),
      });
      await bird.start();
      try {
        for (let trial = 0; trial < trials; trial++) {
          log(`bgp ${impl}: trial ${trial + 1}/${trials}`);
          const t0 = performance.now();
          for (const node of nodeHosts) spawnSpeaker(impl, node);
          let all: number;
          try {
            all = await waitRoutes(`${impl}: ${n} prefixes from 3 speakers`, (r) => r >= 3 * count, 900_000);
          } catch (err) {
            // A trial that never gets there is reported (its sessions in the message) and
            // leaves no figure; the next one starts from stopped speakers again.
            log(`bgp ${impl}: trial ${trial + 1}: ${(err as Error).message}`);
            await stopSpeakers();
            continue;
          }
          add(`${n} prefixes: spawn → all at the router from 3 speakers`, 's', (all - t0) / 1000);
          // Let the last UPDATEs be counted before reading the counters.
          await sleep(1000);
          for (const node of nodeHosts) {
            const page = await lab.exec(
              node,
              'curl',
              ['-s', '--max-time', '5', `http://127.0.0.1:${metricsPort}/metrics`],
              {
                check: false,
              },
            );
            add(
              `${n} prefixes: UPDATE messages sent per session`,
              '',
              counterSum(page.stdout, 'metallb_bgp_updates_total'),
            );
            const stats = procStats(speakers.get(node)!.pid);
            add(`${n} prefixes: speaker RSS`, 'MB', stats.rss / 1e6);
            add(`${n} prefixes: speaker CPU from spawn`, 's', stats.cpuSeconds);
          }

          const t1 = performance.now();
          await lab.unplug('node1');
          try {
            const dropped = await waitRoutes(
              `${impl}: node1's paths dropped`,
              (r) => r >= 0 && r <= 2 * count,
              120_000,
            );
            add(
              `unplug of a node → the router drops its ${n} paths (MetalLB: hold ${holdTime} s; Beacon: BFD ${bfdMs} ms x 3)`,
              'ms',
              dropped - t1,
            );
          } finally {
            await lab.plug('node1');
          }
          await waitRoutes(`${impl}: node1's paths back`, (r) => r >= 3 * count, 300_000).catch(
            (err: Error) => log(`bgp ${impl}: ${err.message}`),
          );
          await stopSpeakers();
          await waitRoutes(`${impl}: routes withdrawn`, (r) => r === 0, 120_000).catch((err: Error) =>
            log(`bgp ${impl}: ${err.message}`),
          );
        }
      } finally {
        await stopSpeakers();
        await bird.stop();
        bird = undefined;
        await admin(['delete', 'bgppeers.metallb.io', 'router', '-n', beaconNamespace, '--ignore-not-found']);
        await admin([
          'delete',
          'bfdprofiles.metallb.io',
          '--all',
          '-n',
          beaconNamespace,
          '--ignore-not-found',
        ]);
        // Each writes a ServiceBGPStatus per Service and node: the next one starts without them
        // (one DELETE of the collection: kubectl would wait on each object in turn).
        await api
          .request('DELETE', `/apis/metallb.io/v1beta1/namespaces/${beaconNamespace}/servicebgpstatuses`)
          .catch((err: Error) => log(`bgp ${impl}: ${err.message}`));
      }
      if (process.env.BENCH_SAMPLES_FILE)
        fs.writeFileSync(process.env.BENCH_SAMPLES_FILE, JSON.stringify(samples));
    }
    return samples;
  } finally {
    await stopSpeakers();
    await bird?.stop().catch(() => undefined);
    await lab.down().catch(() => undefined);
    await stopTestEnv(stateFile);
    const left = lab.leftovers();
    if (left.length > 0) log(`bgp: left behind:\n  ${left.join('\n  ')}`);
    if (process.env.BENCH_KEEP_DIR === '1') log(`bgp: logs kept in ${dir}`);
    else fs.rmSync(dir, { recursive: true, force: true });
  }
}

export const peersBgpTitle = `BGP speakers: Beacon vs MetalLB ${metallbVersion} native mode, to BIRD on the lab (three nodes)`;
