// Layer 2 speakers, Beacon's next to MetalLB's (the pinned peer, test/peers/), on the same lab
// in one run: the cluster of l2-failover-bench.ts (the layer 2 example, three nodes, a client) brought up
// once with each implementation's controller and speakers, measured the same way:
//  - idle: the owner's speaker over 10 s with one announced IP (RSS, CPU);
//  - ARP: 10 requests from the client, one a second (arping's round trip);
//  - SIGKILL of the owner's speaker, and unplugging the owner (its bridge port down): time to
//    the new owner's first gratuitous ARP on the client's wire, and the client's outage (the
//    longest gap of a TCP connect loop, one attempt every 20 ms).
// MetalLB detects a dead speaker through memberlist (its LAN defaults), Beacon through its own
// heartbeats; each is run as shipped.
//
//   LAB_PREFIX=xyz- node dist/test/bench/peers.js l2     (BENCH_L2_TRIALS, default 10)

import type { NodeHost } from '../e2e/lab.js';
import { ConnectLoop, GratuitousCapture, L2Cluster, seedVip, sleep } from '../e2e/l2-cluster.js';
import type { Impl, Sample } from './peers-controller-bench.js';
import { procStats } from './proc-stats.js';

export async function benchPeersL2(trials = Number(process.env.BENCH_L2_TRIALS ?? 10)): Promise<Sample[]> {
  const samples: Sample[] = [];
  const log = (line: string) => void process.stderr.write(`${line}\n`);
  for (const impl of ['metallb', 'beacon'] as Impl[]) {
    const add = (row: string, unit: string, value: number) => samples.push({ impl, row, unit, value });
    const cluster = new L2Cluster({ prefix: process.env.LAB_PREFIX ?? 'l2p-', impl });
    let capture: GratuitousCapture | undefined;
    let loop: ConnectLoop | undefined;
    try {
      await cluster.up();
      capture = await GratuitousCapture.start(cluster.lab);
      loop = await ConnectLoop.start(cluster.lab, seedVip, 80);
      let owner = await cluster.owner(seedVip, 30_000);
      log(`l2 ${impl}: up, ${seedVip} on ${owner}`);

      await sleep(3000);
      const pid = cluster.speakers.get(owner)!.pid;
      const before = procStats(pid);
      await sleep(10_000);
      const after = procStats(pid);
      add('speaker idle, 1 IP: RSS', 'MB', after.rss / 1e6);
      add('speaker idle, 1 IP: CPU', '% of a core', ((after.cpuSeconds - before.cpuSeconds) / 10) * 100);

      const arping = await cluster.lab.exec(
        'client',
        'arping',
        ['-c', '10', '-w', '12', '-I', 'eth0', seedVip],
        {
          check: false,
          timeoutMs: 15_000,
        },
      );
      const rtts = [...arping.stdout.matchAll(/ (\d+(?:\.\d+)?)ms/g)].map((m) => Number(m[1]));
      if (rtts.length === 0)
        log(`l2 ${impl}: no round trips in arping's output: ${arping.stdout} ${arping.stderr}`);
      for (const rtt of rtts) add('ARP reply, round trip at the client (arping)', 'ms', rtt);

      for (let i = 0; i < trials; i++) {
        const from: NodeHost = owner;
        const t0 = Date.now();
        try {
          await cluster.killSpeaker(from, 'SIGKILL');
          const g = await capture.next(seedVip, t0, from, 30_000);
          await sleep(400);
          add('SIGKILL of the owner → first gratuitous ARP', 'ms', g.at - t0);
          add('SIGKILL of the owner: client outage', 'ms', loop.longestGap(t0, g.at + 400));
          owner = g.node ?? owner;
        } catch (err) {
          log(`l2 ${impl}: SIGKILL #${i + 1} of ${from}: ${(err as Error).message}`);
          owner = await cluster.owner(seedVip, 30_000).catch(() => owner);
        } finally {
          cluster.startSpeaker(from);
          await cluster.speakerReady(from, 30_000);
        }
        // Let a returning node settle (MetalLB moves the IP back to it: no stickiness).
        await sleep(3000);
        owner = await cluster.owner(seedVip, 30_000).catch(() => owner);
      }

      for (let i = 0; i < trials; i++) {
        const from: NodeHost = owner;
        const t0 = Date.now();
        try {
          await cluster.unplug(from);
          const g = await capture.next(seedVip, t0, from, 30_000);
          await sleep(400);
          add('unplug of the owner → first gratuitous ARP', 'ms', g.at - t0);
          add('unplug of the owner: client outage', 'ms', loop.longestGap(t0, g.at + 400));
          owner = g.node ?? owner;
        } catch (err) {
          log(`l2 ${impl}: unplug #${i + 1} of ${from}: ${(err as Error).message}`);
        } finally {
          await cluster.plug(from);
          await sleep(3000);
        }
        owner = await cluster.owner(seedVip, 30_000).catch(() => owner);
      }
    } finally {
      await loop?.stop().catch(() => undefined);
      await capture?.stop().catch(() => undefined);
      const left = await cluster.down({ keepDir: process.env.BENCH_KEEP_DIR === '1' });
      if (process.env.BENCH_KEEP_DIR === '1') log(`l2 ${impl}: logs kept in ${cluster.dir}`);
      if (left.length > 0) log(`l2 ${impl}: left behind:\n  ${left.join('\n  ')}`);
    }
  }
  return samples;
}

export const peersL2Title =
  'Layer 2 speakers: Beacon vs MetalLB on the lab (the layer 2 example, three nodes)';
