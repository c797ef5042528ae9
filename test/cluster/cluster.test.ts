// Beacon as Pods on a real three-node cluster (cluster.ts): installed with its Helm chart from
// the image image/build.sh builds, serving the layer 2 example's Service through the real kube-proxy, while
// what operators do to it happens: a rolling update of the speakers, a speaker Pod deleted, the
// leading controller Pod deleted, `helm upgrade` and `helm uninstall`. Root only.

import fs from 'node:fs';
import path from 'node:path';
import { arpFromClient, curlFromClient } from '../demo/probes.js';
import { routeClientViaRouter } from '../demo/bgp.js';
import { repoRoot } from '../env/control-plane.js';
import { hostMac, hostV4, isRoot, labNet, nodeHosts, type LabProcess, type NodeHost } from '../e2e/lab.js';
import { birdConfig } from '../e2e/router.js';
import {
  applySeed,
  beaconNs,
  helmInstall,
  ingressIp,
  myappPage,
  pods,
  release,
  serviceIp,
  waitRolledOut,
} from './beacon.js';
import { Cluster, proxyModeFromEnv } from './cluster.js';

const prefix = process.env.LAB_PREFIX ?? 'bcn-';
const describeRoot = isRoot() ? describe : describe.skip;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A client that requests the Service IP in a loop; each request is one line: `ok <time>` or
 * `fail <time> curl=<exit code> http=<status>` (time: seconds since the epoch, for matching
 * a failure with the logs).
 */
class RequestLoop {
  private readonly proc: LabProcess;
  private readonly file: string;

  constructor(cluster: Cluster, name: string) {
    this.file = path.join(cluster.lab.dir, 'logs', `requests-${name}.log`);
    const script =
      `while :; do t=$(date +%s.%N); ` +
      `code=$(curl -s -o /dev/null -m 3 -w '%{http_code}' http://${serviceIp}/); rc=$?; ` +
      `if [ "$code" = 200 ]; then echo "ok $t"; else echo "fail $t curl=$rc http=$code"; fi; ` +
      `sleep 0.05; done`;
    this.proc = cluster.lab.spawn('client', 'sh', ['-c', script], { logFile: this.file });
  }

  lines(): string[] {
    return fs.existsSync(this.file) ? fs.readFileSync(this.file, 'utf8').split('\n') : [];
  }

  counts(): { ok: number; fail: number; failures: string[] } {
    const lines = this.lines();
    const failures = lines.filter((l) => l.startsWith('fail '));
    return { ok: lines.filter((l) => l.startsWith('ok ')).length, fail: failures.length, failures };
  }

  async stop(): Promise<{ ok: number; fail: number; failures: string[] }> {
    await this.proc.stop(1000);
    return this.counts();
  }
}

/** The node whose MAC the client's ARP requests for the Service IP get (exactly one). */
async function arpOwner(cluster: Cluster): Promise<NodeHost> {
  const answers = await arpFromClient(cluster.lab, serviceIp, 20_000);
  expect(answers).toHaveLength(1);
  const node = answers[0]?.node;
  if (!node) throw new Error(`ARP answered by ${answers[0]?.mac}, no lab node`);
  return node;
}

async function l2StatusOwners(cluster: Cluster): Promise<{ node: string; podUid: string }[]> {
  const out = await cluster.kubectl(['get', 'servicel2statuses.metallb.io', '-n', beaconNs, '-o', 'json']);
  const list = JSON.parse(out) as {
    items: { status?: { node?: string }; metadata: { ownerReferences?: { uid: string }[] } }[];
  };
  return list.items.map((i) => ({
    node: i.status?.node ?? '',
    podUid: i.metadata.ownerReferences?.[0]?.uid ?? '',
  }));
}

async function leaseHolder(cluster: Cluster): Promise<string> {
  return cluster.kubectl([
    'get',
    'lease',
    'beacon-controller',
    '-n',
    beaconNs,
    '-o',
    'jsonpath={.spec.holderIdentity}',
  ]);
}

describeRoot(`Beacon installed with Helm on a real cluster (kube-proxy ${proxyModeFromEnv()})`, () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await Cluster.up({ prefix, guard: true });
    await helmInstall(cluster);
    await waitRolledOut(cluster);
    await applySeed(cluster);
    await cluster.kubectl([
      'rollout',
      'status',
      'deployment/myapp-deploy',
      '-n',
      'default',
      '--timeout=240s',
    ]);
    await cluster.waitFor('the page through the Service IP', 120_000, async () =>
      (await curlFromClient(cluster.lab, `http://${serviceIp}/`)).body.includes(myappPage),
    );
  }, 3_600_000);

  afterAll(async () => {
    if (!cluster) return;
    await cluster.down();
    expect(cluster.leftovers()).toEqual([]);
  }, 120_000);

  it('serves the layer 2 example from three Pods through kube-proxy, one MAC answering ARP', async () => {
    expect(await ingressIp(cluster)).toBe(serviceIp);
    const app = await pods(cluster, 'default', 'app=myapp');
    expect(app.filter((p) => p.ready)).toHaveLength(3);
    const owner = await arpOwner(cluster);
    const status = await l2StatusOwners(cluster);
    expect(status.map((s) => s.node)).toEqual([owner]);
  });

  it('loses no request while the speaker DaemonSet rolls', async () => {
    const loop = new RequestLoop(cluster, 'speaker-rollout');
    await cluster.waitFor('first answers', 30_000, async () => loop.counts().ok >= 5);
    const before = (await pods(cluster, beaconNs, 'app.kubernetes.io/component=speaker')).map((p) => p.uid);
    await cluster.kubectl(['rollout', 'restart', `daemonset/${release}-speaker`, '-n', beaconNs]);
    await cluster.kubectl([
      'rollout',
      'status',
      `daemonset/${release}-speaker`,
      '-n',
      beaconNs,
      '--timeout=300s',
    ]);
    await sleep(3000);
    const counts = await loop.stop();
    process.stdout.write(`speaker rolling update: ${counts.ok} requests answered, ${counts.fail} failed\n`);
    const after = (await pods(cluster, beaconNs, 'app.kubernetes.io/component=speaker')).map((p) => p.uid);
    expect(after.filter((uid) => before.includes(uid))).toEqual([]); // every speaker was replaced
    expect(counts.failures).toEqual([]);
    expect(counts.ok).toBeGreaterThan(10);
  }, 600_000);

  it('fails over when the owning speaker Pod is deleted, and the GC removes its status objects', async () => {
    const owner = await arpOwner(cluster);
    const speaker = (await pods(cluster, beaconNs, 'app.kubernetes.io/component=speaker')).find(
      (p) => p.node === owner,
    );
    if (!speaker) throw new Error(`no speaker Pod on ${owner}`);
    expect((await l2StatusOwners(cluster)).map((s) => s.podUid)).toEqual([speaker.uid]);
    // The taint keeps the DaemonSet from putting a speaker back on that node meanwhile; the
    // forced deletion gives the speaker no chance to delete its own objects: the garbage
    // collector must, since they are owned by the Pod.
    await cluster.kubectl(['taint', 'node', owner, 'beacon-test=failover:NoSchedule']);
    try {
      await cluster.kubectl(['delete', 'pod', speaker.name, '-n', beaconNs, '--grace-period=0', '--force']);
      let next: NodeHost | undefined;
      await cluster.waitFor('another node answering ARP', 60_000, async () => {
        const answers = await arpFromClient(cluster.lab, serviceIp, 3000);
        next = answers.length === 1 ? answers[0]?.node : undefined;
        return next !== undefined && next !== owner;
      });
      expect(hostMac(next!)).not.toBe(hostMac(owner));
      await cluster.waitFor('the deleted Pod’s status objects gone', 120_000, async () =>
        (await l2StatusOwners(cluster)).every((s) => s.podUid !== speaker.uid),
      );
      const status = await l2StatusOwners(cluster);
      expect(status.map((s) => s.node)).toEqual([next]);
      expect((await curlFromClient(cluster.lab, `http://${serviceIp}/`)).body).toContain(myappPage);
    } finally {
      await cluster.kubectl(['taint', 'node', owner, 'beacon-test=failover:NoSchedule-']);
    }
    await cluster.kubectl([
      'rollout',
      'status',
      `daemonset/${release}-speaker`,
      '-n',
      beaconNs,
      '--timeout=180s',
    ]);
  }, 600_000);

  it('keeps every IP when the leading controller Pod is deleted: the standby takes over', async () => {
    const leader = await leaseHolder(cluster);
    const controllers = await pods(cluster, beaconNs, 'app.kubernetes.io/component=controller');
    expect(controllers.map((p) => p.name)).toContain(leader);
    const standby = controllers.find((p) => p.name !== leader)!.name;
    await cluster.kubectl(['delete', 'pod', leader, '-n', beaconNs, '--wait=false']);
    await cluster.waitFor(
      'the standby holding the Lease',
      60_000,
      async () => (await leaseHolder(cluster)) === standby,
    );
    expect(await ingressIp(cluster)).toBe(serviceIp);
    // The new leader allocates: a second Service gets the next free address of the pool.
    await cluster.kubectl(
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'after-failover', namespace: 'default' },
        spec: { type: 'LoadBalancer', selector: { app: 'myapp' }, ports: [{ port: 8080, targetPort: 80 }] },
      }),
    );
    let second = '';
    await cluster.waitFor('an IP for the second Service', 60_000, async () => {
      second = await ingressIp(cluster, 'after-failover');
      return second !== '';
    });
    expect(second).toMatch(/^192\.168\.10\.(2[0-4]\d|250)$/);
    expect(second).not.toBe(serviceIp);
    expect(await ingressIp(cluster)).toBe(serviceIp);
    await cluster.kubectl(['delete', 'service', 'after-failover', '-n', 'default']);
  }, 300_000);

  it('BGP mode: loses no request while the speaker DaemonSet rolls (BIRD on the router, ECMP)', async () => {
    // The layer 2 example's pool announced over BGP instead (test/demo/seed-002-bgp.yaml): BIRD
    // in the router namespace peers with the three nodes; the client reaches the Service IP via
    // the router, which spreads flows over the nodes that announce it.
    const dir = path.join(cluster.lab.dir, 'bird');
    fs.mkdirSync(dir, { recursive: true });
    const conf = path.join(dir, 'bird.conf');
    const socket = path.join(dir, 'bird.ctl');
    const peers = nodeHosts.map((n) => ({ address: hostV4(n), asn: labNet.routerAsn }));
    fs.writeFileSync(conf, birdConfig({ asn: labNet.routerAsn, peers }, path.join(dir, 'bird.log')));
    const bird = cluster.lab.spawn('router', 'bird', ['-f', '-c', conf, '-s', socket]);
    const bgpFile = path.join(repoRoot, 'test/demo/seed-002-bgp.yaml');
    try {
      await cluster.kubectl(['delete', 'l2advertisement', 'example', '-n', beaconNs]);
      await cluster.kubectl(['apply', '-f', bgpFile]);
      await routeClientViaRouter(cluster.lab, serviceIp);
      await cluster.waitFor('three ECMP next hops on the router', 120_000, async () => {
        return (await cluster.lab.routeNexthops(`${serviceIp}/32`)).length === nodeHosts.length;
      });
      const loop = new RequestLoop(cluster, 'speaker-rollout-bgp');
      await cluster.waitFor('first answers', 30_000, async () => loop.counts().ok >= 5);
      await cluster.kubectl(['rollout', 'restart', `daemonset/${release}-speaker`, '-n', beaconNs]);
      await cluster.kubectl([
        'rollout',
        'status',
        `daemonset/${release}-speaker`,
        '-n',
        beaconNs,
        '--timeout=300s',
      ]);
      await cluster.waitFor('three next hops again', 120_000, async () => {
        return (await cluster.lab.routeNexthops(`${serviceIp}/32`)).length === nodeHosts.length;
      });
      const counts = await loop.stop();
      process.stdout.write(
        `speaker rolling update, BGP mode: ${counts.ok} requests answered, ${counts.fail} failed\n`,
      );
      const birdLog = fs.readFileSync(path.join(dir, 'bird.log'), 'utf8').split('\n').slice(-40);
      expect({ failures: counts.failures, birdLog: counts.fail ? birdLog : [] }).toEqual({
        failures: [],
        birdLog: [],
      });
      expect(counts.ok).toBeGreaterThan(10);
    } finally {
      // Back to layer 2 for the next test.
      await cluster.kubectl(['delete', '-f', bgpFile, '--ignore-not-found']).catch(() => '');
      await cluster.kubectl(['apply', '-f', path.join(repoRoot, 'manifests/samples/seed-002.yaml')]);
      await cluster.lab.exec('client', 'ip', ['route', 'del', `${serviceIp}/32`], { check: false });
      await bird.stop();
    }
    await cluster.waitFor('the page over layer 2 again', 120_000, async () =>
      (await curlFromClient(cluster.lab, `http://${serviceIp}/`)).body.includes(myappPage),
    );
  }, 900_000);

  it('helm upgrade rolls the new values out and keeps serving; helm uninstall removes Beacon', async () => {
    const loop = new RequestLoop(cluster, 'helm-upgrade');
    await helmInstall(cluster, ['speaker.logLevel=debug', 'controller.logLevel=debug']);
    await waitRolledOut(cluster);
    const ds = JSON.parse(
      await cluster.kubectl(['get', 'daemonset', `${release}-speaker`, '-n', beaconNs, '-o', 'json']),
    ) as { spec: { template: { spec: { containers: { env: { name: string; value?: string }[] }[] } } } };
    const env = ds.spec.template.spec.containers[0]?.env ?? [];
    expect(env.find((e) => e.name === 'METALLB_LOG_LEVEL')?.value).toBe('debug');
    await sleep(2000);
    const counts = await loop.stop();
    process.stdout.write(`helm upgrade: ${counts.ok} requests answered, ${counts.fail} failed\n`);
    expect(counts.failures).toEqual([]);

    await cluster.helm(['uninstall', release, '--namespace', beaconNs, '--wait', '--timeout=120s']);
    const left = async (): Promise<string[]> => {
      const namespaced = await cluster.kubectl([
        'get',
        'deployments,daemonsets,pods,serviceaccounts,roles,rolebindings,services,servicel2statuses.metallb.io',
        '-n',
        beaconNs,
        '-l',
        'app.kubernetes.io/name=beacon',
        '-o',
        'name',
      ]);
      const pods = await cluster.kubectl(['get', 'pods', '-n', beaconNs, '-o', 'name']);
      const cluster_ = await cluster.kubectl(['get', 'clusterroles,clusterrolebindings', '-o', 'name']);
      return [
        ...namespaced.split('\n'),
        ...pods.split('\n'),
        ...cluster_.split('\n').filter((n) => n.includes(`/${release}:`)),
      ].filter((l) => l.trim() !== '');
    };
    await cluster.waitFor('nothing of Beacon left', 120_000, async () => (await left()).length === 0);
    expect(await left()).toEqual([]);
    expect(await cluster.kubectl(['get', 'servicel2statuses.metallb.io', '-n', beaconNs, '-o', 'name'])).toBe(
      '',
    );
    // Helm never deletes what a chart's crds/ directory installed (helm.sh/docs/chart_best_practices/custom_resource_definitions).
    expect(await cluster.kubectl(['get', 'crd', 'ipaddresspools.metallb.io', '-o', 'name'])).toContain(
      'ipaddresspools',
    );
    // What the controller created at run time, as MetalLB's does, stays with the namespace: the
    // speakers' membership key and the leader Lease.
    const runtime = await cluster.kubectl(['get', 'secrets,leases', '-n', beaconNs, '-o', 'name']);
    expect(runtime.split('\n').filter((l) => l !== '')).toEqual([
      'secret/memberlist',
      'lease.coordination.k8s.io/beacon-controller',
    ]);
    // Nobody answers for the Service IP any more.
    expect(await arpFromClient(cluster.lab, serviceIp, 3000)).toEqual([]);
  }, 600_000);
});
