// Layer 2 failover on the lab: the layer 2 example with the controller and three speakers,
// then repeated failures of the node owning 192.168.10.222, each measured on the client's
// wire (tcpdump in the client namespace): from the failure to the first gratuitous ARP of the
// new owner. The goal is 1 s. Two failures:
//   SIGKILL   the owner's speaker dies (restarted after each trial); its node stays up.
//   unplug    the owner's bridge port goes down (`ip link set <node> down` in the lan
//             namespace: the node sees no carrier); plugged back after each trial.
// A TCP connect loop from the client (one attempt every 20 ms) gives the outage the client
// sees: the longest time between two connected attempts around each failure. After a SIGKILL
// the node's kernel still serves the IP (kube-proxy stand-in) while the client's ARP entry
// points at it, so that outage is expected to be near the loop's period; after an unplug it
// lasts until the gratuitous ARP. One lab (prefix l2f-) and one control plane for all trials.
// Ownership follows the rendezvous order: a restarted or replugged node takes its IPs back
// (after the interim owner stopped), so the owner is read again after each trial.
// Timestamps: tcpdump's and Date.now() are both CLOCK_REALTIME, read within one trial.

import type { NodeHost } from '../e2e/lab.js';
import { ConnectLoop, GratuitousCapture, L2Cluster, percentile, seedVip, sleep } from '../e2e/l2-cluster.js';
import type { BenchResult } from './allocator-bench.js';

export interface L2FailoverBenchOptions {
  killTrials?: number;
  unplugTrials?: number;
  /** Progress lines (default stderr). */
  log?: (line: string) => void;
}

const goalMs = 1000;

interface Trial {
  from: NodeHost;
  to: NodeHost | undefined;
  garpMs: number | undefined;
  gapMs: number | undefined;
  error?: string;
}

export async function benchL2Failover(opts: L2FailoverBenchOptions = {}): Promise<BenchResult[]> {
  const killTrials = opts.killTrials ?? 20;
  const unplugTrials = opts.unplugTrials ?? 20;
  const log = opts.log ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const cluster = new L2Cluster({ prefix: 'l2f-' });
  const kills: Trial[] = [];
  const unplugs: Trial[] = [];
  let movedBack = 0;
  const started = performance.now();
  let capture: GratuitousCapture | undefined;
  let loop: ConnectLoop | undefined;
  try {
    await cluster.up();
    capture = await GratuitousCapture.start(cluster.lab);
    loop = await ConnectLoop.start(cluster.lab, seedVip, 80);
    let owner = await cluster.owner(seedVip, 10_000);
    log(
      `l2-failover: cluster up in ${((performance.now() - started) / 1000).toFixed(1)} s, ${seedVip} on ${owner}`,
    );

    for (let i = 0; i < killTrials; i++) {
      const from = owner;
      const trial: Trial = { from, to: undefined, garpMs: undefined, gapMs: undefined };
      const t0 = Date.now();
      try {
        await cluster.killSpeaker(from, 'SIGKILL');
        const g = await capture.next(seedVip, t0, from, 5000);
        trial.to = g.node;
        trial.garpMs = g.at - t0;
        await sleep(400);
        trial.gapMs = loop.longestGap(t0, g.at + 400);
        owner = g.node ?? owner;
      } catch (err) {
        trial.error = (err as Error).message;
        owner = await cluster.owner(seedVip, 10_000).catch(() => owner);
      } finally {
        cluster.startSpeaker(from);
        // A start on a machine loaded by the CPU hog can take far longer than on an idle one;
        // a slow start spoils no later trial (the owner is read again below).
        await cluster.speakerReady(from, 120_000).catch((err: Error) => {
          trial.error ??= err.message;
        });
        // Its join, then the hand-back if the order gives the IP to it again.
        await sleep(1500);
        owner = await cluster.owner(seedVip, 10_000).catch(() => owner);
      }
      kills.push(trial);
      log(describe('SIGKILL', i, trial));
    }

    for (let i = 0; i < unplugTrials; i++) {
      const from = owner;
      const trial: Trial = { from, to: undefined, garpMs: undefined, gapMs: undefined };
      const t0 = Date.now();
      let pluggedAt = Date.now();
      try {
        await cluster.unplug(from);
        const g = await capture.next(seedVip, t0, from, 5000);
        trial.to = g.node;
        trial.garpMs = g.at - t0;
        await sleep(400);
        trial.gapMs = loop.longestGap(t0, g.at + 400);
        owner = g.node ?? owner;
      } catch (err) {
        trial.error = (err as Error).message;
      } finally {
        pluggedAt = Date.now();
        await cluster.plug(from);
        // Link back: healthy again, it rejoins, then takes back what the order gives it.
        await sleep(1500);
      }
      if (capture.seen.some((g) => g.ip === seedVip && g.node === from && g.at >= pluggedAt)) movedBack++;
      owner = await cluster.owner(seedVip, 10_000).catch(() => owner);
      unplugs.push(trial);
      log(describe('unplug', i, trial));
    }
  } finally {
    await loop?.stop().catch(() => undefined);
    await capture?.stop().catch(() => undefined);
    const left = await cluster.down();
    if (left.length > 0) log(`l2-failover: left behind:\n  ${left.join('\n  ')}`);
  }
  log(`l2-failover: ${((performance.now() - started) / 1000).toFixed(1)} s in all`);

  const results: BenchResult[] = [];
  const push = (name: string, value: number, unit: string): void => {
    results.push({ name, value: Math.round(value * 10) / 10, unit });
  };
  for (const [label, trials] of [
    ['SIGKILL', kills],
    ['unplug', unplugs],
  ] as const) {
    const garp = trials.flatMap((t) => (t.garpMs === undefined ? [] : [t.garpMs]));
    const gaps = trials.flatMap((t) => (t.gapMs === undefined ? [] : [t.gapMs]));
    push(`${label}: trials measured / run`, garp.length, `of ${trials.length}`);
    push(`${label}: failure → new owner's first gratuitous ARP, p50`, percentile(garp, 50), 'ms');
    push(`${label}: failure → new owner's first gratuitous ARP, p99`, percentile(garp, 99), 'ms');
    push(`${label}: failure → new owner's first gratuitous ARP, max`, Math.max(...garp), 'ms');
    push(`${label}: max / goal (${goalMs} ms)`, Math.max(...garp) / goalMs, 'x');
    push(`${label}: client outage (longest gap between connects), p50`, percentile(gaps, 50), 'ms');
    push(`${label}: client outage (longest gap between connects), p99`, percentile(gaps, 99), 'ms');
  }
  push('unplug: IP handed back to the replugged node', movedBack, `of ${unplugs.length}`);
  push('connect loop period (the floor of a gap)', 20, 'ms');
  return results;
}

function describe(kind: string, i: number, t: Trial): string {
  if (t.error !== undefined) return `l2-failover: ${kind} #${i + 1} of ${t.from}: FAILED: ${t.error}`;
  return (
    `l2-failover: ${kind} #${i + 1}: ${t.from} → ${t.to}, gratuitous ARP after ${t.garpMs?.toFixed(1)} ms, ` +
    `client gap ${t.gapMs?.toFixed(1)} ms`
  );
}
