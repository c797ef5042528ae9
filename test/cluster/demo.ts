// make demo-cluster (root only): Beacon as Pods on a real three-node cluster.
//   node dist/test/cluster/demo.js          brings the cluster up, installs Beacon with Helm from
//                                           the image just built, applies the seed's objects
//                                           verbatim, checks what the client sees, tears down
//   node dist/test/cluster/demo.js --keep   the same, but keeps everything running until Ctrl-C
// Each step prints ✓ or ✗ (with the reason). LAB_PREFIX selects the namespace prefix (bcn-).
// Exit status: 0 when every step passed, 1 otherwise.

import { arpFromClient, curlFromClient } from '../demo/probes.js';
import { isRoot } from '../e2e/lab.js';
import {
  applySeed,
  beaconNs,
  helmInstall,
  ingressIp,
  myappPage,
  pods,
  serviceIp,
  waitRolledOut,
} from './beacon.js';
import { Cluster } from './cluster.js';

const say = (line: string): void => void process.stdout.write(`${line}\n`);
const seconds = (since: number): string => `${((Date.now() - since) / 1000).toFixed(1)} s`;

async function main(): Promise<number> {
  if (!isRoot()) {
    process.stderr.write('the cluster demo needs root (network namespaces, cgroups)\n');
    return 1;
  }
  const keep = process.argv.includes('--keep');
  let failed = 0;
  const step = (ok: boolean, line: string, why?: string): boolean => {
    if (!ok) failed++;
    say(`${ok ? '✓' : '✗'} ${line}${!ok && why ? `\n    ${why}` : ''}`);
    return ok;
  };

  let t = Date.now();
  say('building images and binaries (cached after the first run), starting the cluster ...');
  let cluster: Cluster;
  try {
    cluster = await Cluster.up({ guard: true });
  } catch (err) {
    step(false, 'cluster up', (err as Error).message);
    return 1;
  }
  let tearingDown = false;
  const teardown = async (): Promise<void> => {
    if (tearingDown) return;
    tearingDown = true;
    const d = Date.now();
    await cluster.down();
    const left = cluster.leftovers();
    step(left.length === 0, `cluster down in ${seconds(d)}`, `left behind: ${left.join(', ')}`);
  };
  process.on('SIGINT', () => void teardown().finally(() => process.exit(130)));
  process.on('SIGTERM', () => void teardown().finally(() => process.exit(143)));

  try {
    step(
      true,
      `cluster up in ${seconds(t)}: control plane, 3 nodes Ready (containerd, kubelet, kube-proxy ${cluster.proxyMode})`,
    );

    t = Date.now();
    await helmInstall(cluster);
    await waitRolledOut(cluster);
    const ctrl = await pods(cluster, beaconNs, 'app.kubernetes.io/component=controller');
    const spk = await pods(cluster, beaconNs, 'app.kubernetes.io/component=speaker');
    step(
      ctrl.filter((p) => p.ready).length === 2 && spk.filter((p) => p.ready).length === 3,
      `helm install beacon charts/beacon in ${seconds(t)}: controller ${ctrl.filter((p) => p.ready).length}/2, ` +
        `speaker ${spk.filter((p) => p.ready).length}/3 ready (${spk.map((p) => p.node).join(', ')})`,
    );

    t = Date.now();
    await applySeed(cluster);
    step(
      true,
      'the layer 2 example applied verbatim: IPAddressPool, L2Advertisement, Deployment myapp-deploy, Service myapp',
    );
    await cluster
      .kubectl(['rollout', 'status', 'deployment/myapp-deploy', '-n', 'default', '--timeout=180s'])
      .catch(() => '');
    const app = await pods(cluster, 'default', 'app=myapp');
    step(
      app.filter((p) => p.ready).length === 3,
      `${app.filter((p) => p.ready).length}/3 myapp Pods ready in ${seconds(t)} on ${[...new Set(app.map((p) => p.node))].join(', ')}`,
    );

    let ip = '';
    await cluster
      .waitFor('an ingress IP', 60_000, async () => (ip = await ingressIp(cluster)) !== '')
      .catch(() => undefined);
    step(
      ip === serviceIp,
      `Service myapp: status.loadBalancer.ingress ${ip || '(none)'}`,
      `expected ${serviceIp}`,
    );

    let body = '';
    await cluster
      .waitFor('an answer', 60_000, async () => {
        body = (await curlFromClient(cluster.lab, `http://${serviceIp}/`)).body;
        return body.includes(myappPage);
      })
      .catch(() => undefined);
    step(
      body.includes(myappPage),
      `client: curl http://${serviceIp}/ → ${body.trim() || '(no answer)'}`,
      'no page from the stand-in app through kube-proxy',
    );

    const arp = await arpFromClient(cluster.lab, serviceIp, 10_000);
    step(
      arp.length === 1,
      `client: ARP for ${serviceIp} answered by ${arp.length} MAC(s): ${arp.map((a) => `${a.mac} (${a.node ?? '?'})`).join(', ') || 'none'}`,
    );
    say(`  memory: ${cluster.memoryMiB()} MiB resident (control plane, node daemons, Pods)`);

    if (keep) {
      say(`kept running (kubectl --kubeconfig=${cluster.kubeconfig}); Ctrl-C tears it down`);
      // A timer keeps the event loop alive: a bare pending promise would let Node exit at once.
      await new Promise<never>(() => setInterval(() => undefined, 60_000));
    }
  } catch (err) {
    step(false, 'demo step failed', (err as Error).stack ?? String(err));
  } finally {
    if (!keep) await teardown();
  }
  return failed === 0 ? 0 : 1;
}

process.exitCode = await main();
