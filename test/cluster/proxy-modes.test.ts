// Beacon on the real cluster with kube-proxy in its other modes (cluster.test.ts runs iptables):
//
// - nftables (Kubernetes 1.31+): kube-proxy programs the LoadBalancer IP into its own nftables
//   table `ip kube-proxy` instead of iptables chains. The layer 2 example must be served through
//   it, and a rolling update of the speakers must lose no request, as in iptables mode.
// - IPVS with strictARP, as MetalLB requires it for layer 2
//   (https://metallb.universe.tf/installation/#preparation): IPVS binds every Service IP to the
//   kube-ipvs0 dummy interface of every node, and only strictARP (arp_ignore=1, arp_announce=2 in
//   the node's network namespace) keeps the nodes' kernels from answering ARP for the
//   LoadBalancer IP beside the speaker.
//
// Root only. The lab never loads a kernel module, so a mode whose kernel support is missing is
// skipped with the reason.

import { execFileSync } from 'node:child_process';
import { arpFromClient } from '../demo/probes.js';
import { isRoot, type NodeHost } from '../e2e/lab.js';
import { beaconNs, ingressIp, pods, rollSpeakers, serviceIp, upServingSeed } from './beacon.js';
import { ipvsUnavailable, type Cluster, type ProxyMode } from './cluster.js';
import { RequestLoop, describeCounts, layer2RestartProblems } from './traffic.js';

const labPrefix = process.env.LAB_PREFIX ?? 'bcn-';

/**
 * Why kube-proxy cannot run in nftables mode here, or undefined when it can: a table is created
 * in a throwaway network namespace (`unshare --net`), so the host's ruleset is never touched.
 */
function nftablesUnavailable(): string | undefined {
  try {
    execFileSync('unshare', ['--net', 'nft', 'add table inet beacon_probe'], { stdio: 'pipe' });
    return undefined;
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    return `nftables is not usable: ${e.stderr?.toString().trim() || e.message}`;
  }
}

const modes: { mode: ProxyMode; suffix: string; unavailable: string | undefined }[] = [
  { mode: 'nftables', suffix: 'n', unavailable: isRoot() ? nftablesUnavailable() : undefined },
  { mode: 'ipvs', suffix: 'v', unavailable: ipvsUnavailable() },
];

/** The nodes whose MACs answer ARP for the Service IP, over `rounds` rounds. */
async function arpOwners(cluster: Cluster, rounds: number): Promise<Set<NodeHost>> {
  const owners = new Set<NodeHost>();
  for (let round = 0; round < rounds; round++) {
    const answers = await arpFromClient(cluster.lab, serviceIp, 10_000);
    expect(answers).toHaveLength(1);
    const node = answers[0]?.node;
    if (!node) throw new Error(`ARP for ${serviceIp} answered by ${answers[0]?.mac}, no lab node`);
    owners.add(node);
  }
  return owners;
}

for (const { mode, suffix, unavailable } of modes) {
  const runnable = isRoot() && unavailable === undefined;
  if (isRoot() && unavailable !== undefined)
    process.stdout.write(`kube-proxy ${mode} scenario skipped: ${unavailable}\n`);

  (runnable ? describe : describe.skip)(
    `kube-proxy in ${mode} mode${mode === 'ipvs' ? ' with strictARP' : ''}${unavailable ? ` (skipped: ${unavailable})` : ''}`,
    () => {
      let cluster: Cluster | undefined;

      beforeAll(async () => {
        cluster = await upServingSeed({ prefix: `${labPrefix}${suffix}`, guard: true, proxyMode: mode });
      }, 3_600_000);

      afterAll(async () => {
        if (!cluster) return;
        await cluster.down();
        expect(cluster.leftovers()).toEqual([]);
      }, 120_000);

      it('serves the layer 2 example, exactly one node answering ARP for the Service IP', async () => {
        const c = cluster!;
        expect(await ingressIp(c)).toBe(serviceIp);
        // Several rounds: a kernel answering from kube-ipvs0 would add a second MAC in any of them.
        const owners = await arpOwners(c, 5);
        expect(owners.size).toBe(1);
        const status = JSON.parse(
          await c.kubectl(['get', 'servicel2statuses.metallb.io', '-n', beaconNs, '-o', 'json']),
        ) as { items: { status?: { node?: string } }[] };
        expect(status.items.map((i) => i.status?.node)).toEqual([...owners]);
      });

      if (mode === 'nftables')
        it('kube-proxy programs the Service IP in its nftables table, and no request is lost while the speakers roll but those in flight when the IP moves', async () => {
          const c = cluster!;
          // The request reaches the Pods through kube-proxy's nftables rules on the owning node,
          // not through iptables chains left over from another mode.
          const [owner] = [...(await arpOwners(c, 1))];
          const table = await c.lab.exec(owner!, 'nft', ['list', 'table', 'ip', 'kube-proxy']);
          expect(table.stdout).toContain(serviceIp);

          const loop = new RequestLoop(c, 'nftables-rollout');
          let replaced: string[] | undefined;
          let counts: Awaited<ReturnType<RequestLoop['stop']>>;
          try {
            await c.waitFor('first answers', 30_000, async () => loop.counts().ok >= 5);
            const before = (await pods(c, beaconNs, 'app.kubernetes.io/component=speaker')).map((p) => p.uid);
            await rollSpeakers(c);
            await new Promise((r) => setTimeout(r, 3000));
            const after = (await pods(c, beaconNs, 'app.kubernetes.io/component=speaker')).map((p) => p.uid);
            replaced = after.filter((uid) => !before.includes(uid));
          } finally {
            counts = await loop.stop();
          }
          process.stdout.write(`speaker rolling update, kube-proxy nftables: ${describeCounts(counts)}\n`);
          expect(replaced).toHaveLength(3); // every speaker was replaced
          expect(layer2RestartProblems(counts)).toEqual([]);
          expect(counts.ok).toBeGreaterThan(10);
        }, 600_000);
    },
  );
}
