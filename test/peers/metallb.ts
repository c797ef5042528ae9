// MetalLB itself (go.universe.tf/metallb, the version pinned in metallb/go.mod) as a peer for
// the side-by-side benchmarks and the migration test: its binaries, built once by
// build-metallb.sh and cached, and its controller run as a child process against the test
// control plane with Beacon's crds/ (MetalLB's own CRDs, the same API group and versions).
//
// The controller runs without its webhooks and without certificate rotation (no kubelet, no
// Service to reach it); it creates the memberlist Secret, which it owns through the Deployment
// named by --deployment, so a Deployment of that name must exist (it never runs: there is no
// kube-controller-manager here). Flags from MetalLB's controller/main.go.

import { execFile, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { beaconNamespace, freePort, repoRoot } from '../env/control-plane.js';
import { kubectl } from '../env/install.js';
import { spawnTied } from '../support/tied-spawn.js';

const run = promisify(execFile);

export const metallbVersion = (() => {
  const mod = fs.readFileSync(path.join(repoRoot, 'test/peers/metallb/go.mod'), 'utf8');
  return /go\.universe\.tf\/metallb (v\S+)/.exec(mod)?.[1] ?? 'unknown';
})();

/** Builds (first time) or finds MetalLB's controller and speaker; returns their directory. */
export async function metallbBinaries(): Promise<string> {
  const script = path.join(repoRoot, 'test/peers/build-metallb.sh');
  const { stdout } = await run(script, [], { maxBuffer: 1 << 20, timeout: 60 * 60 * 1000 });
  const dir = stdout.trim().split('\n').pop() ?? '';
  for (const bin of ['controller', 'speaker'])
    if (!fs.existsSync(path.join(dir, bin)))
      throw new Error(`MetalLB build did not produce ${bin} in ${dir}`);
  return dir;
}

/** The Deployment MetalLB's controller makes the owner of the memberlist Secret. */
export async function installMetalLBOwner(kubeconfig: string, namespace = beaconNamespace): Promise<void> {
  const deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'controller', namespace, labels: { app: 'metallb', component: 'controller' } },
    spec: {
      replicas: 0,
      selector: { matchLabels: { app: 'metallb', component: 'controller' } },
      template: {
        metadata: { labels: { app: 'metallb', component: 'controller' } },
        spec: { containers: [{ name: 'controller', image: `quay.io/metallb/controller:${metallbVersion}` }] },
      },
    },
  };
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'beacon-metallb-')), 'deployment.json');
  try {
    fs.writeFileSync(file, JSON.stringify(deployment));
    await kubectl(kubeconfig, ['apply', '-f', file], 'admin');
  } finally {
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  }
}

export interface MetalLBProcess {
  readonly child: ChildProcess;
  /** Every complete log line so far (MetalLB logs JSON to stdout and stderr). */
  readonly logs: string[];
  /** Where its Prometheus metrics are served. */
  readonly metricsPort: number;
}

const running = new Set<MetalLBProcess>();

/**
 * Starts MetalLB's controller against `kubeconfig` (its current context is used, as
 * controller-runtime does with KUBECONFIG). Metrics on a free port; --lb-class when given.
 */
export async function startMetalLBController(
  kubeconfig: string,
  opts: { lbClass?: string; namespace?: string; logLevel?: string } = {},
): Promise<MetalLBProcess> {
  const bin = path.join(await metallbBinaries(), 'controller');
  const metricsPort = await freePort();
  const args = [
    '--namespace',
    opts.namespace ?? beaconNamespace,
    '--webhook-mode',
    'disabled',
    '--disable-cert-rotation',
    '--ml-secret-name',
    'memberlist',
    '--deployment',
    'controller',
    '--port',
    String(metricsPort),
    '--log-level',
    opts.logLevel ?? 'info',
    ...(opts.lbClass ? ['--lb-class', opts.lbClass] : []),
  ];
  // Outside every lab namespace: tied to this process, so that a run ended by a signal does
  // not leave it writing to the next run's API server.
  const child = spawnTied(bin, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, KUBECONFIG: kubeconfig },
  });
  const p: MetalLBProcess = { child, logs: [], metricsPort };
  for (const stream of [child.stdout!, child.stderr!]) {
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (d: string) => {
      const lines = (partial + d).split('\n');
      partial = lines.pop() ?? '';
      p.logs.push(...lines);
      if (process.env.DEBUG_METALLB)
        for (const l of lines) process.stderr.write(`[metallb ${child.pid}] ${l}\n`);
    });
  }
  running.add(p);
  child.on('exit', () => running.delete(p));
  return p;
}

/** Sends `signal` to the process and waits for it to exit. */
export async function stopMetalLB(p: MetalLBProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  const exited = new Promise((r) => p.child.once('exit', r));
  p.child.kill(signal);
  const timer = setTimeout(() => p.child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** SIGKILLs every MetalLB process this module started that still runs. */
export async function stopAllMetalLB(): Promise<void> {
  for (const p of [...running]) await stopMetalLB(p, 'SIGKILL');
}

/** A counter or gauge from a Prometheus text page (no labels), or undefined. */
export function metricValue(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name}(?:\\{\\})? (\\S+)$`, 'm').exec(text);
  return m === null ? undefined : Number(m[1]);
}

/** The labels MetalLB's speakers find each other by (its manifests' `app=metallb,component=speaker`). */
export const speakerLabels = { app: 'metallb', component: 'speaker' } as const;

/**
 * A speaker Pod for `node` with `ip` as its pod IP, written straight into the API (there is no
 * kubelet): MetalLB's speakers list these to find the memberlist peers to join.
 */
export function speakerPod(node: string, namespace = beaconNamespace): object {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `speaker-${node}`, namespace, labels: { ...speakerLabels } },
    spec: {
      nodeName: node,
      serviceAccountName: 'speaker',
      automountServiceAccountToken: false,
      hostNetwork: true,
      containers: [{ name: 'speaker', image: `quay.io/metallb/speaker:${metallbVersion}` }],
    },
  };
}

/** MetalLB's speaker arguments (speaker/main.go) for a node of the lab. */
export function speakerArgs(o: {
  node: string;
  bindAddress: string;
  secretDir: string;
  metricsPort: number;
  namespace?: string;
}): string[] {
  return [
    '--node-name',
    o.node,
    // It reads its own Pod (the owner of the ServiceL2Status objects it writes).
    '--pod-name',
    `speaker-${o.node}`,
    '--namespace',
    o.namespace ?? beaconNamespace,
    '--ml-bindaddr',
    o.bindAddress,
    '--ml-labels',
    Object.entries(speakerLabels)
      .map(([k, v]) => `${k}=${v}`)
      .join(','),
    '--ml-secret-key-path',
    o.secretDir,
    '--host',
    '127.0.0.1',
    '--port',
    String(o.metricsPort),
  ];
}
