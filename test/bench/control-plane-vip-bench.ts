// The control-plane VIP side by side: Beacon in layer 2 mode, Beacon in BGP mode (BFD 100 ms x
// 3 to BIRD, ECMP), and the baseline, keepalived + HAProxy with the seed's settings (HAProxy
// round robin with `check inter 10s downinter 5s`, keepalived VRRP with its default 1 s advert
// interval and `killall -0 haproxy` tracking), each on the same lab (e2e/control-plane-lab.ts):
// three control-plane nodes with a real kube-apiserver over one etcd, and a client sending an
// HTTPS request to VIP:6443 every 50 ms on a new connection (1 s timeout).
//
// Faults, on the VIP owner (layer 2: the node answering ARP; keepalived: the VRRP master;
// BGP: each node in turn): SIGKILL of its API server, its graceful stop (SIGTERM), SIGSTOP,
// and unplugging the node. Per fault: the client-visible outage, from the first failed request
// to the first successful one after the last failure (an intermittent failure — a round robin
// still sending to a dead server — counts until it stops), and the failed requests.
// CP_BENCH_TRIALS trials per fault (default 3); CP_BENCH_SETUPS selects setups (default all). Goals: Beacon p99 ≤ 1 s in L2 mode, ≤ 0.5 s in
// BGP mode, and fewer failed requests than keepalived + HAProxy for every fault.
// Note: in the lab, `killall -0 haproxy` sees every namespace's HAProxy (one PID namespace), so
// keepalived's track script never fails here; no fault below is to HAProxy itself.

import { nodeHosts, type NodeHost } from '../e2e/lab.js';
import { ControlPlaneLab, sleep, type RequestLoop } from '../e2e/control-plane-lab.js';
import { percentile } from '../e2e/l2-cluster.js';
import type { BenchResult } from './allocator-bench.js';

type Setup = 'beacon-l2' | 'beacon-bgp' | 'keepalived-haproxy';
type Fault = 'sigkill' | 'sigterm' | 'sigstop' | 'unplug';
const faults: readonly Fault[] = ['sigkill', 'sigterm', 'sigstop', 'unplug'];

interface Trial {
  outageMs: number;
  failed: number;
}

/** Waits until no request failed for `quietMs` (and at least `minMs` after `since`); returns when. */
async function settled(
  loop: RequestLoop,
  since: number,
  quietMs: number,
  minMs: number,
  timeoutMs: number,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const now = Date.now();
    const lastFail = loop.requests.filter((r) => r.at > since && !r.ok).pop()?.at ?? since;
    const lastOk = loop.requests.filter((r) => r.ok).pop()?.at ?? 0;
    if (now - since >= minMs && now - lastFail >= quietMs && lastOk > lastFail) return now;
    if (now > deadline) return now;
    await sleep(100);
  }
}

async function runSetup(
  setup: Setup,
  trials: number,
  log: (line: string) => void,
): Promise<Map<Fault, Trial[]>> {
  const mode = setup === 'beacon-l2' ? 'l2' : setup === 'beacon-bgp' ? 'bgp' : 'keepalived';
  const cpl = new ControlPlaneLab(process.env.LAB_PREFIX ?? 'cpbench-', { mode });
  const out = new Map<Fault, Trial[]>();
  try {
    await cpl.up();
    const loop = cpl.startRequestLoop(50, 1000);
    await settled(loop, Date.now(), 2000, 2000, 60_000);
    let turn = 0;
    for (const fault of faults) {
      const results: Trial[] = [];
      for (let i = 0; i < trials; i++) {
        const victim: NodeHost =
          mode === 'bgp'
            ? nodeHosts[turn++ % nodeHosts.length]!
            : await cpl.owner(60_000).catch(() => 'node1' as const);
        const api = cpl.apiservers.get(victim)!;
        const t0 = Date.now();
        if (fault === 'sigkill') process.kill(api.pid, 'SIGKILL');
        else if (fault === 'sigterm') await api.stop(30_000);
        else if (fault === 'sigstop') process.kill(api.pid, 'SIGSTOP');
        else await cpl.lab.unplug(victim);
        // Recovered: no failure for 3 s (a round robin fails every third request while it lasts).
        const end = await settled(loop, t0, 3000, 3000, 120_000);
        const o = loop.outage(t0, end);
        results.push({ outageMs: o.outageMs, failed: o.failed });
        log(
          `  ${setup} ${fault} #${i + 1} on ${victim}: outage ${Math.round(o.outageMs)} ms, ${o.failed} failed`,
        );
        // Heal, then let everything settle before the next trial.
        if (fault === 'sigkill') await api.exited.then(() => undefined);
        if (fault === 'sigkill' || fault === 'sigterm') {
          cpl.startApiServer(victim);
          await cpl.waitApiServer(victim, 180_000);
        } else if (fault === 'sigstop') {
          process.kill(api.pid, 'SIGCONT');
          await cpl.waitApiServer(victim, 180_000);
        } else await cpl.lab.plug(victim);
        if (mode === 'bgp') await cpl.nexthops(3, 60_000).catch(() => undefined);
        // HAProxy marks a server up again only after `rise` (2) good checks `inter` (10 s)
        // apart: wait for that, or the next fault would hit a server it is not using.
        if (mode === 'keepalived') await sleep(25_000);
        await settled(loop, Date.now(), 3000, 5000, 120_000);
      }
      out.set(fault, results);
    }
    await loop.stop();
  } finally {
    await cpl.down();
  }
  return out;
}

export async function benchControlPlaneVip(): Promise<BenchResult[]> {
  const trials = Number(process.env.CP_BENCH_TRIALS ?? 3);
  const log = (line: string): void => void process.stdout.write(`${line}\n`);
  const all: readonly Setup[] = ['beacon-l2', 'beacon-bgp', 'keepalived-haproxy'];
  // CP_BENCH_SETUPS=beacon-l2,keepalived-haproxy runs some of them.
  const only = process.env.CP_BENCH_SETUPS?.split(',').map((x) => x.trim());
  const setups = all.filter((x) => only === undefined || only.includes(x));
  const results = new Map<Setup, Map<Fault, Trial[]>>();
  for (const setup of setups) results.set(setup, await runSetup(setup, trials, log));
  const rows: BenchResult[] = [];
  for (const fault of faults)
    for (const setup of setups) {
      const t = results.get(setup)?.get(fault) ?? [];
      if (t.length === 0) continue;
      const outages = t.map((x) => x.outageMs);
      rows.push({
        name: `${fault} ${setup} outage p50`,
        value: Math.round(percentile(outages, 50)),
        unit: 'ms',
      });
      rows.push({
        name: `${fault} ${setup} outage p99`,
        value: Math.round(percentile(outages, 99)),
        unit: 'ms',
      });
      rows.push({
        name: `${fault} ${setup} failed requests`,
        value: t.reduce((a, x) => a + x.failed, 0) / t.length,
        unit: `per fault (${t.length} trials)`,
      });
    }
  return rows;
}
