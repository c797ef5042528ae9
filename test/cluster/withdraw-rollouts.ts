// Diagnosis, not a test: rolling updates of the speaker DaemonSet in BGP mode WITHOUT graceful
// restart (the seed's BGPPeer as it is, so every speaker withdraws on SIGTERM), each under the
// client's request loop, with the router's next hops watched. It prints, per rollout, the
// requests that failed and every change of the ECMP route with the next hop the client's flow
// takes after it, which is how the cause in docs/bgp.md ("Why a rolling update should use
// graceful restart") was found. Root only; LAB_PREFIX as for the cluster tests.
//
//   node dist/test/cluster/withdraw-rollouts.js [rollouts, default 4]

import { installWithSeed, rollSpeakers, serviceIp } from './beacon.js';
import { Cluster } from './cluster.js';
import { BgpMode, NexthopWatch, RequestLoop } from './traffic.js';
import { nodeHosts } from '../e2e/lab.js';

const rollouts = Number(process.argv[2] ?? '4');
if (!Number.isInteger(rollouts) || rollouts < 1)
  throw new Error(`rollouts "${process.argv[2]}": give a count`);
const out = (line: string): void => void process.stdout.write(`${line}\n`);

const cluster = await Cluster.up({ guard: true, log: out });
try {
  await installWithSeed(cluster);
  await BgpMode.start(cluster, [serviceIp], false);
  const threeHops = async (): Promise<boolean> =>
    (await cluster.lab.routeNexthops(`${serviceIp}/32`)).length === nodeHosts.length;
  await cluster.waitFor('three ECMP next hops on the router', 120_000, threeHops);
  let failed = 0;
  for (let i = 1; i <= rollouts; i++) {
    const loop = new RequestLoop(cluster, `withdraw-rollout-${i}`);
    await cluster.waitFor('first answers', 30_000, async () => loop.counts().ok >= 5);
    const watch = new NexthopWatch(cluster, serviceIp);
    await rollSpeakers(cluster);
    await cluster.waitFor('three next hops again', 120_000, threeHops);
    await new Promise((r) => setTimeout(r, 3000));
    const changes = await watch.stop();
    const counts = await loop.stop();
    failed += counts.fail;
    out(
      `rollout ${i}: ${counts.ok} requests answered, ${counts.fail} failed, ${changes.length} next-hop changes`,
    );
    for (const c of changes) out(`  route  ${c}`);
    for (const f of counts.failures) out(`  failed ${f}`);
  }
  out(`${rollouts} rollouts without graceful restart: ${failed} failed requests in all`);
} finally {
  await cluster.down();
}
