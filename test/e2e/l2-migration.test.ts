// Switching a layer 2 cluster from MetalLB to Beacon and back while a client keeps connecting to
// the Service's IP, as the README's migration section says to do it: stop one implementation's
// controller and speakers (SIGTERM, as deleting the DaemonSet and scaling the Deployment to 0
// would), then start the other's. Its own control plane and lab (prefix l2m-,
// test/e2e/l2-cluster.ts) with the layer 2 example, first served by MetalLB v0.15.2 (the pinned
// peer, test/peers/); the client, a real Linux kernel, opens a TCP connection to the Service's
// IP every 50 ms throughout (test/e2e/fixtures/l2f-connect-loop.ts).
//
// The bound: no attempt fails. Every node serves the Service's IP (the kube-proxy stand-in), so
// the client keeps reaching the node whose MAC it has cached while no speaker runs; a neighbour
// entry it can no longer confirm is re-resolved by a broadcast request (RFC 826; Linux's
// neighbour states, ip-neighbour(8)), which the new owner answers as soon as it runs. An attempt
// fails only when it is not connected within 2 s: on a loaded machine a connect can take far
// longer than on an idle one, and a loaded machine must not fail this test.

import { isRoot } from './lab.js';
import { ConnectLoop, L2Cluster, seedVip, sleep } from './l2-cluster.js';

const root = isRoot();
if (!root) process.stderr.write('test/e2e/l2-migration.test.ts: SKIPPED, the network lab needs root\n');
const describeRoot = root ? describe : describe.skip;

describeRoot('migration between MetalLB and Beacon in layer 2 mode, under traffic', () => {
  const cluster = new L2Cluster({ prefix: 'l2m-', impl: 'metallb' });
  const report: string[] = [];
  let loop: ConnectLoop | undefined;

  beforeAll(async () => {
    await cluster.up();
    loop = await ConnectLoop.start(cluster.lab, seedVip, 80, 50, 2000);
  }, 300_000);

  afterAll(async () => {
    await loop?.stop().catch(() => undefined);
    const left = await cluster.down();
    process.stderr.write(`\nlayer 2 migration under traffic:\n  ${report.join('\n  ')}\n`);
    expect(left).toEqual([]);
  }, 120_000);

  it.each([
    ['metallb', 'beacon'],
    ['beacon', 'metallb'],
  ] as const)(
    'from %s to %s: the address stays and no client connection attempt fails',
    async (from, to) => {
      expect(cluster.impl).toBe(from);
      const owner = await cluster.owner(seedVip, 60_000);
      await sleep(2000);
      const t0 = Date.now();
      await cluster.stopImplementation();
      const stopped = Date.now();
      await cluster.startImplementation(to);
      const newOwner = await cluster.owner(seedVip, 120_000);
      const served = Date.now();
      // Traffic on after the switch, then a margin for the last attempts to settle.
      await sleep(3000);
      const t1 = Date.now();
      await sleep(2500);
      const { connected, failed } = loop!.attempts(t0, t1);
      report.push(
        `${from} → ${to}: ${from} stopped in ${stopped - t0} ms, ${to} answering ARP (${owner} → ${newOwner}) ` +
          `${served - stopped} ms later; ${connected} attempts connected, ${failed.length} failed, ` +
          `longest gap between connects ${Math.round(loop!.longestGap(t0, t1))} ms`,
      );
      expect(cluster.impl).toBe(to);
      expect(await cluster.ingress('default', 'myapp')).toBe(seedVip);
      expect(connected).toBeGreaterThan(0);
      expect(failed).toEqual([]);
    },
    300_000,
  );
});
