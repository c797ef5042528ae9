// Layer 2 speakers, Beacon's next to MetalLB's (the pinned peer, test/peers/), on the same lab
// in one run: the cluster of l2-failover-bench.ts (the layer 2 example, three nodes, a client) brought up
// once with each implementation's controller and speakers, measured the same way, first with
// the example's one Service, then with BENCH_L2_SERVICES (default 1,000) more, each with its
// own IP and a ready endpoint on every node:
//  - idle: the owner's speaker (with one IP) or every speaker (with 1,000) over 10 s: RSS, CPU;
//  - ARP: 10 requests from the client for the example's IP, one a second (arping's round trip);
//  - SIGKILL of the owner's speaker, and unplugging the owner (its bridge port down): time to
//    the new owner's first gratuitous ARP for the example's IP on the client's wire, and the
//    client's outage (the longest gap of a TCP connect loop, one attempt every 20 ms).
//    BENCH_L2_TRIALS_1IP (default 5) trials of each with one IP, BENCH_L2_TRIALS (default 20)
//    with 1,000: p99 over 20 is the worst trial.
// MetalLB detects a dead speaker through memberlist (its LAN defaults), Beacon through its own
// heartbeats; each is run as shipped.
//
//   LAB_PREFIX=xyz- node dist/test/bench/peers.js l2

import fs from 'node:fs';
import { nodeHosts, type NodeHost } from '../e2e/lab.js';
import { ConnectLoop, GratuitousCapture, L2Cluster, seedVip, sleep } from '../e2e/l2-cluster.js';
import { createL2Services } from '../e2e/l2-scale.js';
import type { Impl, Sample } from './peers-controller-bench.js';
import { procStats } from './proc-stats.js';

export async function benchPeersL2(
  trials = Number(process.env.BENCH_L2_TRIALS ?? 20),
  services = Number(process.env.BENCH_L2_SERVICES ?? 1000),
  trialsOneIp = Number(process.env.BENCH_L2_TRIALS_1IP ?? 5),
): Promise<Sample[]> {
  const samples: Sample[] = [];
  const log = (line: string) => void process.stderr.write(`${line}\n`);
  const many = `${services.toLocaleString('en-US')} IPs`;
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

      const idle = async (label: string, nodes: readonly NodeHost[]): Promise<void> => {
        const pids = nodes.map((node) => cluster.speakers.get(node)!.pid);
        const before = pids.map(procStats);
        await sleep(10_000);
        pids.forEach((pid, i) => {
          const after = procStats(pid);
          add(`speaker idle, ${label}: RSS`, 'MB', after.rss / 1e6);
          add(
            `speaker idle, ${label}: CPU`,
            '% of a core',
            ((after.cpuSeconds - before[i]!.cpuSeconds) / 10) * 100,
          );
        });
      };
      const arp = async (label: string): Promise<void> => {
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
        for (const rtt of rtts) add(`ARP reply, ${label}: round trip at the client (arping)`, 'ms', rtt);
      };
      const failovers = async (label: string, n: number): Promise<void> => {
        for (let i = 0; i < n; i++) {
          const from: NodeHost = owner;
          const t0 = Date.now();
          try {
            await cluster.killSpeaker(from, 'SIGKILL');
            const g = await capture!.next(seedVip, t0, from, 30_000);
            await sleep(400);
            add(`${label}: SIGKILL of the owner → first gratuitous ARP`, 'ms', g.at - t0);
            add(`${label}: SIGKILL of the owner: client outage`, 'ms', loop!.longestGap(t0, g.at + 400));
            owner = g.node ?? owner;
          } catch (err) {
            log(`l2 ${impl}: ${label}: SIGKILL #${i + 1} of ${from}: ${(err as Error).message}`);
            owner = await cluster.owner(seedVip, 30_000).catch(() => owner);
          } finally {
            cluster.startSpeaker(from);
            // A loaded machine can take long to start a speaker: a slow start is logged, not fatal.
            await cluster
              .speakerReady(from, 90_000)
              .catch((err: Error) => log(`l2 ${impl}: ${label}: restart of ${from}: ${err.message}`));
          }
          // Let a returning node settle (MetalLB moves the IP back to it: no stickiness).
          await sleep(3000);
          owner = await cluster.owner(seedVip, 30_000).catch(() => owner);
        }
        for (let i = 0; i < n; i++) {
          const from: NodeHost = owner;
          const t0 = Date.now();
          try {
            await cluster.unplug(from);
            const g = await capture!.next(seedVip, t0, from, 30_000);
            await sleep(400);
            add(`${label}: unplug of the owner → first gratuitous ARP`, 'ms', g.at - t0);
            add(`${label}: unplug of the owner: client outage`, 'ms', loop!.longestGap(t0, g.at + 400));
            owner = g.node ?? owner;
          } catch (err) {
            log(`l2 ${impl}: ${label}: unplug #${i + 1} of ${from}: ${(err as Error).message}`);
          } finally {
            await cluster.plug(from);
            await sleep(3000);
          }
          owner = await cluster.owner(seedVip, 30_000).catch(() => owner);
        }
      };

      await sleep(3000);
      await idle('1 IP', [owner]);
      await arp('1 IP');
      await failovers('1 IP', trialsOneIp);

      if (services > 0) {
        const created = await createL2Services(cluster, {
          name: 'many',
          cidr: '10.80.0.0/20',
          count: services,
          timeoutMs: 900_000,
        });
        log(`l2 ${impl}: ${many} allocated in ${(created.ms / 1000).toFixed(0)} s`);
        // Let the announcements (a gratuitous ARP per IP) and status writes finish.
        await sleep(15_000);
        owner = await cluster.owner(seedVip, 30_000).catch(() => owner);
        await idle(many, nodeHosts);
        await arp(many);
        await failovers(many, trials);
      }
      if (process.env.BENCH_SAMPLES_FILE)
        fs.writeFileSync(process.env.BENCH_SAMPLES_FILE, JSON.stringify(samples));
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
