// Beacon on the cluster lab, installed the way a user installs it: `helm install` of
// charts/beacon with the image image/build.sh made (imported into every node), and the seed's
// objects applied verbatim with kubectl.

import path from 'node:path';
import { curlFromClient } from '../demo/probes.js';
import { repoRoot } from '../env/control-plane.js';
import { Cluster, type ClusterOptions } from './cluster.js';

export const beaconNs = 'metallb-system';
export const release = 'beacon';
export const seedFiles = [
  'manifests/samples/seed-002.yaml',
  'test/demo/seed-002-deployment.yaml',
  'test/demo/seed-002-svc.yaml',
].map((f) => path.join(repoRoot, f));
export const serviceIp = '192.168.10.222';
export const myappPage = 'Hello MyApp | Version: v1 | <a href="hostname.html">Pod Name</a>';

/** `helm install` (or `upgrade --install`) of the chart; `values` as --set pairs. */
export async function helmInstall(cluster: Cluster, values: string[] = []): Promise<void> {
  await cluster.helm([
    'upgrade',
    '--install',
    release,
    path.join(repoRoot, 'charts/beacon'),
    '--namespace',
    beaconNs,
    '--create-namespace',
    ...values.flatMap((v) => ['--set', v]),
  ]);
}

/** Waits until the controller Deployment and the speaker DaemonSet are rolled out and ready. */
export async function waitRolledOut(cluster: Cluster, timeoutS = 240): Promise<void> {
  await cluster.kubectl([
    'rollout',
    'status',
    '-n',
    beaconNs,
    `deployment/${release}-controller`,
    `--timeout=${timeoutS}s`,
  ]);
  await waitSpeakersRolledOut(cluster, timeoutS);
}

/** Waits until every speaker Pod of the DaemonSet is the current revision and ready. */
export async function waitSpeakersRolledOut(cluster: Cluster, timeoutS = 300): Promise<void> {
  await cluster.kubectl([
    'rollout',
    'status',
    '-n',
    beaconNs,
    `daemonset/${release}-speaker`,
    `--timeout=${timeoutS}s`,
  ]);
}

export async function applySeed(cluster: Cluster): Promise<void> {
  for (const f of seedFiles) await cluster.kubectl(['apply', '-f', f]);
}

/**
 * What every scenario starts from: Beacon installed with the chart and rolled out, the seed's
 * objects applied and its three app Pods rolled out. `values` as for `helmInstall`.
 */
export async function installWithSeed(cluster: Cluster, values: string[] = []): Promise<void> {
  await helmInstall(cluster, values);
  await waitRolledOut(cluster);
  await applySeed(cluster);
  await cluster.kubectl(['rollout', 'status', 'deployment/myapp-deploy', '-n', 'default', '--timeout=240s']);
}

/**
 * A cluster where every scenario starts: up, Beacon and the seed installed (installWithSeed),
 * and the seed's page served through the Service IP. The cluster is torn down if that fails.
 */
export async function upServingSeed(opts: ClusterOptions): Promise<Cluster> {
  const cluster = await Cluster.up(opts);
  try {
    await installWithSeed(cluster);
    await cluster.waitFor('the page through the Service IP', 120_000, async () =>
      (await curlFromClient(cluster.lab, `http://${serviceIp}/`)).body.includes(myappPage),
    );
    return cluster;
  } catch (err) {
    await cluster.down();
    throw err;
  }
}

/** `kubectl rollout restart` of the speaker DaemonSet, waiting until every speaker was replaced. */
export async function rollSpeakers(cluster: Cluster): Promise<void> {
  await cluster.kubectl(['rollout', 'restart', `daemonset/${release}-speaker`, '-n', beaconNs]);
  await waitSpeakersRolledOut(cluster);
}

/** The Service's first ingress IP ('' while it has none). */
export async function ingressIp(cluster: Cluster, name = 'myapp', ns = 'default'): Promise<string> {
  return cluster.kubectl([
    'get',
    'service',
    name,
    '-n',
    ns,
    '-o',
    'jsonpath={.status.loadBalancer.ingress[0].ip}',
  ]);
}

export interface PodInfo {
  name: string;
  node: string;
  phase: string;
  ready: boolean;
  uid: string;
}

export async function pods(cluster: Cluster, ns: string, selector: string): Promise<PodInfo[]> {
  const out = await cluster.kubectl(['get', 'pods', '-n', ns, '-l', selector, '-o', 'json']);
  const list = JSON.parse(out) as {
    items: {
      metadata: { name: string; uid: string; deletionTimestamp?: string };
      spec: { nodeName?: string };
      status: { phase?: string; conditions?: { type: string; status: string }[] };
    }[];
  };
  return list.items
    .filter((p) => !p.metadata.deletionTimestamp)
    .map((p) => ({
      name: p.metadata.name,
      uid: p.metadata.uid,
      node: p.spec.nodeName ?? '',
      phase: p.status.phase ?? '',
      ready: (p.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
    }));
}
