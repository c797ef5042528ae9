// Beacon on the real cluster with kube-proxy in IPVS mode and strictARP, as MetalLB requires it
// for layer 2 (https://metallb.universe.tf/installation/#preparation): IPVS binds every Service
// IP to the kube-ipvs0 dummy interface of every node, and only strictARP (arp_ignore=1,
// arp_announce=2 in the node's network namespace) keeps the nodes' kernels from answering ARP
// for the LoadBalancer IP beside the speaker. Root only, and only on a kernel with IPVS: the
// lab never loads a kernel module, so without ip_vs the scenario is skipped with the reason.

import { arpFromClient, curlFromClient } from '../demo/probes.js';
import { isRoot } from '../e2e/lab.js';
import {
  applySeed,
  beaconNs,
  helmInstall,
  ingressIp,
  myappPage,
  serviceIp,
  waitRolledOut,
} from './beacon.js';
import { Cluster, ipvsUnavailable } from './cluster.js';

const prefix = `${process.env.LAB_PREFIX ?? 'bcn-'}v`;
const unavailable = ipvsUnavailable();
const runnable = isRoot() && unavailable === undefined;
if (isRoot() && unavailable !== undefined)
  process.stdout.write(`kube-proxy IPVS scenario skipped: ${unavailable}\n`);

(runnable ? describe : describe.skip)(
  `kube-proxy in IPVS mode with strictARP${unavailable ? ` (skipped: ${unavailable})` : ''}`,
  () => {
    let cluster: Cluster | undefined;

    beforeAll(async () => {
      cluster = await Cluster.up({ prefix, guard: true, proxyMode: 'ipvs' });
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
    }, 3_600_000);

    afterAll(async () => {
      if (!cluster) return;
      await cluster.down();
      expect(cluster.leftovers()).toEqual([]);
    }, 120_000);

    it('serves the layer 2 example, exactly one node answering ARP for the Service IP', async () => {
      const c = cluster!;
      await c.waitFor('the page through the Service IP', 120_000, async () =>
        (await curlFromClient(c.lab, `http://${serviceIp}/`)).body.includes(myappPage),
      );
      expect(await ingressIp(c)).toBe(serviceIp);
      // Several rounds: a kernel answering from kube-ipvs0 would add a second MAC in any of them.
      const owners = new Set<string>();
      for (let round = 0; round < 5; round++) {
        const answers = await arpFromClient(c.lab, serviceIp, 10_000);
        expect(answers).toHaveLength(1);
        owners.add(answers[0]?.node ?? answers[0]?.mac ?? '');
      }
      expect(owners.size).toBe(1);
      const status = JSON.parse(
        await c.kubectl(['get', 'servicel2statuses.metallb.io', '-n', beaconNs, '-o', 'json']),
      ) as { items: { status?: { node?: string } }[] };
      expect(status.items.map((i) => i.status?.node)).toEqual([...owners]);
    });
  },
);
