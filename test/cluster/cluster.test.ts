// Beacon as Pods on a real three-node cluster (cluster.ts): installed with its Helm chart from
// the image image/build.sh builds, serving the layer 2 example's Service through the real kube-proxy, while
// what operators do to it happens: a rolling update of the speakers, a speaker Pod deleted, the
// leading controller Pod deleted, `helm upgrade` and `helm uninstall`. Root only.

import { arpFromClient, curlFromClient } from '../demo/probes.js';
import { hostMac, hostV4, isRoot, nodeHosts, type NodeHost } from '../e2e/lab.js';
import {
  type PodInfo,
  beaconNs,
  helmInstall,
  ingressIp,
  rollSpeakers,
  myappPage,
  pods,
  release,
  serviceIp,
  upServingSeed,
  waitSpeakersRolledOut,
  waitRolledOut,
} from './beacon.js';
import { proxyModeFromEnv, type Cluster } from './cluster.js';
import { BgpMode, NexthopWatch, RequestLoop, describeCounts, layer2RestartProblems } from './traffic.js';

const prefix = process.env.LAB_PREFIX ?? 'bcn-';
const describeRoot = isRoot() ? describe : describe.skip;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

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

/** The one-replica app behind the externalTrafficPolicy: Local Service. */
const localApp = 'myapp-local';
const localAppObjects = JSON.stringify({
  apiVersion: 'v1',
  kind: 'List',
  items: [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: localApp, namespace: 'default' },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: localApp } },
        template: {
          metadata: { labels: { app: localApp } },
          spec: {
            terminationGracePeriodSeconds: 5,
            containers: [{ name: 'myapp', image: 'ikubernetes/myapp:v1', ports: [{ containerPort: 80 }] }],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: localApp, namespace: 'default' },
      spec: {
        type: 'LoadBalancer',
        externalTrafficPolicy: 'Local',
        selector: { app: localApp },
        ports: [{ port: 80, targetPort: 80 }],
      },
    },
  ],
});

/** Applies the Local app (idempotent); resolves with its Service IP and its one ready Pod. */
async function localAppUp(cluster: Cluster): Promise<{ ip: string; pod: PodInfo }> {
  await cluster.kubectl(['apply', '-f', '-'], localAppObjects);
  let ip = '';
  await cluster.waitFor(`an IP for ${localApp}`, 60_000, async () => {
    ip = await ingressIp(cluster, localApp);
    return ip !== '';
  });
  let pod: PodInfo | undefined;
  await cluster.waitFor(`one ready ${localApp} Pod`, 180_000, async () => {
    const ready = (await pods(cluster, 'default', `app=${localApp}`)).filter((p) => p.ready);
    pod = ready.length === 1 ? ready[0] : undefined;
    return pod !== undefined;
  });
  return { ip, pod: pod! };
}

/**
 * Moves the Local app's only Pod to another node, as a drain does: the node is cordoned and
 * the Pod deleted, so the Deployment's replacement lands elsewhere. Resolves with the new
 * Pod once it is ready; the node stays cordoned until `uncordon`.
 */
async function rescheduleLocalPod(cluster: Cluster, from: PodInfo): Promise<PodInfo> {
  await cluster.kubectl(['cordon', from.node]);
  await cluster.kubectl(['delete', 'pod', from.name, '-n', 'default', '--wait=false']);
  let next: PodInfo | undefined;
  await cluster.waitFor(`the ${localApp} Pod ready on another node`, 180_000, async () => {
    next = (await pods(cluster, 'default', `app=${localApp}`)).find(
      (p) => p.ready && p.uid !== from.uid && p.node !== from.node,
    );
    return next !== undefined;
  });
  return next!;
}

/** Which Pod answered the client through `ip` (the app's /hostname.html), '' if none did. */
async function servedBy(cluster: Cluster, ip: string): Promise<string> {
  const res = await curlFromClient(cluster.lab, `http://${ip}/hostname.html`);
  return res.code === 0 ? res.body.trim() : '';
}

describeRoot(`Beacon installed with Helm on a real cluster (kube-proxy ${proxyModeFromEnv()})`, () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await upServingSeed({ prefix, guard: true });
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

  it('loses no request while the speaker DaemonSet rolls: each speaker restarts in place, the IP never moves', async () => {
    const loop = new RequestLoop(cluster, 'speaker-rollout');
    await cluster.waitFor('first answers', 30_000, async () => loop.counts().ok >= 5);
    const before = (await pods(cluster, beaconNs, 'app.kubernetes.io/component=speaker')).map((p) => p.uid);
    await rollSpeakers(cluster);
    await sleep(3000);
    const counts = await loop.stop();
    process.stdout.write(`speaker rolling update: ${describeCounts(counts)}\n`);
    const after = (await pods(cluster, beaconNs, 'app.kubernetes.io/component=speaker')).map((p) => p.uid);
    expect(after.filter((uid) => before.includes(uid))).toEqual([]); // every speaker was replaced
    expect(layer2RestartProblems(counts)).toEqual([]);
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
    await waitSpeakersRolledOut(cluster, 180);
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

  it('externalTrafficPolicy Local, layer 2: the announcing node follows the only Pod to another node', async () => {
    const { ip, pod } = await localAppUp(cluster);
    expect(ip).not.toBe(serviceIp);
    // Only the node with the ready local endpoint may answer (kube-proxy drops the Service's
    // traffic on the others), and the client's requests reach that very Pod.
    await cluster.waitFor(`ARP for ${ip} answered by ${pod.node}`, 60_000, async () => {
      const answers = await arpFromClient(cluster.lab, ip, 3000);
      return answers.length === 1 && answers[0]?.node === pod.node;
    });
    await cluster.waitFor(
      `${pod.name} serving ${ip}`,
      60_000,
      async () => (await servedBy(cluster, ip)) === pod.name,
    );
    try {
      const moved = await rescheduleLocalPod(cluster, pod);
      expect(moved.node).not.toBe(pod.node);
      await cluster.waitFor(`ARP for ${ip} answered by ${moved.node} alone`, 120_000, async () => {
        const answers = await arpFromClient(cluster.lab, ip, 3000);
        return answers.length === 1 && answers[0]?.node === moved.node;
      });
      const status = JSON.parse(
        await cluster.kubectl([
          'get',
          'servicel2statuses.metallb.io',
          '-n',
          beaconNs,
          '-l',
          `metallb.io/service-name=${localApp}`,
          '-o',
          'json',
        ]),
      ) as { items: { status?: { node?: string } }[] };
      expect(status.items.map((i) => i.status?.node)).toEqual([moved.node]);
      // The client follows the gratuitous ARP: its requests reach the new Pod.
      await cluster.waitFor(
        `${moved.name} serving ${ip}`,
        60_000,
        async () => (await servedBy(cluster, ip)) === moved.name,
      );
    } finally {
      await cluster.kubectl(['uncordon', pod.node]);
    }
  }, 600_000);

  describe('BGP mode (BIRD on the router, ECMP, graceful restart)', () => {
    let bgp: BgpMode | undefined;
    let localIp = '';

    beforeAll(async () => {
      localIp = (await localAppUp(cluster)).ip;
      bgp = await BgpMode.start(cluster, [serviceIp, localIp]);
      await cluster.waitFor('three ECMP next hops on the router', 120_000, async () => {
        return (await cluster.lab.routeNexthops(`${serviceIp}/32`)).length === nodeHosts.length;
      });
    }, 600_000);

    afterAll(async () => {
      await cluster.kubectl([
        'delete',
        'deployment,service',
        localApp,
        '-n',
        'default',
        '--ignore-not-found',
      ]);
      await bgp?.stop();
      await cluster.waitFor('the page over layer 2 again', 120_000, async () =>
        (await curlFromClient(cluster.lab, `http://${serviceIp}/`)).body.includes(myappPage),
      );
    }, 300_000);

    it('loses no request while the speaker DaemonSet rolls, and the router keeps every next hop', async () => {
      const loop = new RequestLoop(cluster, 'speaker-rollout-bgp');
      await cluster.waitFor('first answers', 30_000, async () => loop.counts().ok >= 5);
      // Each speaker closes its session without withdrawing (graceful restart): BIRD keeps the
      // node's route as stale until the new speaker's End-of-RIB, so the ECMP route never
      // changes. A route that changed would move the client's flow to another next hop in
      // mid-connection (the router's hash picks the next hop per packet), and that node's
      // kube-proxy has no connection-tracking entry for it: the request fails.
      const watch = new NexthopWatch(cluster, serviceIp);
      await rollSpeakers(cluster);
      await cluster.waitFor('three next hops again', 120_000, async () => {
        return (await cluster.lab.routeNexthops(`${serviceIp}/32`)).length === nodeHosts.length;
      });
      await sleep(3000); // the last speaker's End-of-RIB ends the stale period: nothing may go then
      const changes = await watch.stop();
      const counts = await loop.stop();
      process.stdout.write(
        `speaker rolling update, BGP mode: ${counts.ok} requests answered, ${counts.fail} failed, ` +
          `${changes.length} next-hop changes at the router\n`,
      );
      expect({
        failures: counts.failures,
        nexthopChanges: changes,
        birdLog: counts.fail + changes.length ? bgp!.birdLog() : [],
      }).toEqual({ failures: [], nexthopChanges: [], birdLog: [] });
      expect(counts.ok).toBeGreaterThan(10);
    }, 900_000);

    it('externalTrafficPolicy Local: only the node with the Pod announces, and it follows the Pod', async () => {
      const { pod } = await localAppUp(cluster);
      await cluster.waitFor(`${localIp} announced by ${pod.node} alone`, 60_000, async () => {
        return (await cluster.lab.routeNexthops(`${localIp}/32`)).join() === hostV4(pod.node as NodeHost);
      });
      await cluster.waitFor(
        `${pod.name} serving ${localIp}`,
        60_000,
        async () => (await servedBy(cluster, localIp)) === pod.name,
      );
      try {
        const moved = await rescheduleLocalPod(cluster, pod);
        await cluster.waitFor(`${localIp} announced by ${moved.node} alone`, 120_000, async () => {
          return (await cluster.lab.routeNexthops(`${localIp}/32`)).join() === hostV4(moved.node as NodeHost);
        });
        await cluster.waitFor(
          `${moved.name} serving ${localIp}`,
          60_000,
          async () => (await servedBy(cluster, localIp)) === moved.name,
        );
        // The Cluster-policy Service is still announced by every node.
        expect((await cluster.lab.routeNexthops(`${serviceIp}/32`)).length).toBe(nodeHosts.length);
      } finally {
        await cluster.kubectl(['uncordon', pod.node]);
      }
    }, 600_000);
  });

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
    process.stdout.write(`helm upgrade: ${describeCounts(counts)}\n`);
    expect(layer2RestartProblems(counts)).toEqual([]);

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
