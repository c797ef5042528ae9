// BGP failover with BFD on the lab: `make demo-bgp`'s set-up (the layer 2 example's Service announced by
// three speakers to BIRD on the router) with a BFDProfile of 100 ms x 3 on the BGPPeer and the
// same on BIRD. Each trial fails node1 and times, on the router, how long until its kernel
// FIB no longer lists node1 as a next hop of 192.168.10.222/32 (`ip route show`, polled every
// ~5 ms): the time traffic still goes to a dead node. Goal 500 ms. Three failures:
//   SIGKILL   node1's speaker dies (restarted after each trial): the kernel resets its TCP
//             sessions and its BFD packets stop.
//   SIGSTOP   node1's speaker freezes (SIGCONT after each trial): only BFD can tell, in
//             3 x 100 ms, where the BGP hold time alone would take 3 s.
//   unplug    node1's bridge port goes down (`ip link set node1 down` in the lan namespace).
// After each trial the next hop must come back; the time it takes is reported too. One lab
// (prefix bff-) and one control plane for all trials; everything is torn down at the end.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { kubectl } from '../env/install.js';
import { demoDown, demoUp, readDemoState, seedService } from '../demo/demo.js';
import { birdFiles, startBird } from '../demo/bgp.js';
import { startTracked, stopTracked, trackedAlive, type TrackedProcess } from '../demo/processes.js';
import { Lab, hostV4, nodeHosts, parseNexthops } from '../e2e/lab.js';
import { percentile } from '../e2e/l2-cluster.js';
import type { BenchResult } from './allocator-bench.js';

export interface BgpBfdBenchOptions {
  trials?: number;
  /** Progress lines (default stderr). */
  log?: (line: string) => void;
}

const goalMs = 500;
const prefix = 'bff-';
const bfdMs = 100;
const multiplier = 3;
const failures = ['SIGKILL', 'SIGSTOP', 'unplug'] as const;
type Failure = (typeof failures)[number];

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The router's next hops for the Service IP (`ip -n <router> route show <ip>`). */
function routerHops(ns: string): Promise<string[]> {
  return new Promise((resolve) => {
    execFile('ip', ['-n', ns, 'route', 'show', seedService.ip], { encoding: 'utf8' }, (err, stdout) =>
      resolve(err ? [] : parseNexthops(stdout)),
    );
  });
}

/** Polls every ~5 ms until `want(hops)`; the time from `t0` (performance.now) or undefined. */
async function until(
  ns: string,
  t0: number,
  timeoutMs: number,
  want: (hops: string[]) => boolean,
): Promise<number | undefined> {
  for (;;) {
    const hops = await routerHops(ns);
    const now = performance.now();
    if (want(hops)) return now - t0;
    if (now - t0 > timeoutMs) return undefined;
    await sleep(5);
  }
}

export async function benchBgpBfd(opts: BgpBfdBenchOptions = {}): Promise<BenchResult[]> {
  const trials = opts.trials ?? 20;
  const log = opts.log ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'beacon-bgp-bfd-bench-'));
  const lab = new Lab({ prefix });
  const routerNs = lab.ns('router');
  const node1 = hostV4('node1');
  const all = nodeHosts.map(hostV4).sort().join(',');
  const started = performance.now();
  const extra: TrackedProcess[] = []; // BIRD with BFD, node1's restarted speakers
  const detect = new Map<Failure, number[]>(failures.map((f) => [f, []]));
  const back = new Map<Failure, number[]>(failures.map((f) => [f, []]));
  const missed = new Map<Failure, number>(failures.map((f) => [f, 0]));
  try {
    const report = await demoUp({ mode: 'bgp', prefix, dir, out: () => undefined });
    const failed = report.steps.filter((s) => !s.reached).map((s) => s.line);
    if (failed.length > 0) throw new Error(`the BGP demo did not come up:\n${failed.join('\n')}`);
    const state = readDemoState(dir);
    if (!state?.router) throw new Error('the BGP demo recorded no router');
    const admin = (args: string[]): Promise<string> => kubectl(path.join(dir, 'kubeconfig'), args);

    // BFD on both ends: the profile on the BGPPeer, and BIRD restarted with `bfd on`.
    const profile = path.join(dir, 'bfd-profile.json');
    fs.writeFileSync(
      profile,
      JSON.stringify({
        apiVersion: 'metallb.io/v1beta1',
        kind: 'BFDProfile',
        metadata: { name: 'bench-bfd', namespace: 'metallb-system' },
        spec: { receiveInterval: bfdMs, transmitInterval: bfdMs, detectMultiplier: multiplier },
      }),
    );
    await admin(['apply', '-f', profile]);
    await admin([
      ...['patch', 'bgppeers.metallb.io', 'router', '-n', 'metallb-system', '--type', 'merge'],
      ...['-p', JSON.stringify({ spec: { bfdProfile: 'bench-bfd' } })],
    ]);
    await stopTracked([state.router]);
    const files = birdFiles(path.join(dir, 'bird-bfd'));
    extra.push(await startBird(lab, files, { intervalMs: bfdMs, multiplier }));
    const bfdUp = async (): Promise<number> => {
      const out = await new Promise<string>((resolve) =>
        execFile('birdc', ['-s', files.socket, 'show', 'bfd', 'sessions'], { encoding: 'utf8' }, (_e, o) =>
          resolve(o ?? ''),
        ),
      );
      return out.split('\n').filter((l) => /\sUp\s/.test(l)).length;
    };
    const ready = async (timeoutMs: number): Promise<boolean> => {
      const t = performance.now();
      while (performance.now() - t < timeoutMs) {
        if ((await bfdUp()) === nodeHosts.length && (await routerHops(routerNs)).sort().join(',') === all)
          return true;
        await sleep(50);
      }
      return false;
    };
    if (!(await ready(30_000)))
      throw new Error(`BFD sessions or the 3-next-hop route did not come up with BIRD's BFD`);
    log(
      `bgp-bfd: lab up with BFD ${bfdMs} ms x ${multiplier} in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );

    let speaker: TrackedProcess | undefined = state.speakers.find((s) => s.node === 'node1');
    if (!speaker) throw new Error('no speaker recorded for node1');
    const restartSpeaker = async (): Promise<void> => {
      const argv = (speaker?.cmdline ?? '').split('\0').filter((a) => a !== '');
      speaker = await startTracked(
        ['ip', 'netns', 'exec', lab.ns('node1'), ...argv],
        path.join(dir, 'speaker-node1.log'),
        argv.slice(0, 2),
      );
      extra.push(speaker);
    };

    for (const failure of failures)
      for (let i = 0; i < trials; i++) {
        const t0 = performance.now();
        if (failure === 'unplug') await lab.unplug('node1');
        else process.kill(speaker.pid, failure);
        const gone = await until(routerNs, t0, 10_000, (h) => !h.includes(node1));
        const t1 = performance.now();
        if (failure === 'unplug') await lab.plug('node1');
        else if (failure === 'SIGSTOP') process.kill(speaker.pid, 'SIGCONT');
        else {
          while (trackedAlive(speaker)) await sleep(5);
          await restartSpeaker();
        }
        const returned = await until(routerNs, t1, 30_000, (h) => h.sort().join(',') === all);
        if (gone === undefined) missed.set(failure, (missed.get(failure) ?? 0) + 1);
        else detect.get(failure)?.push(gone);
        if (returned !== undefined) back.get(failure)?.push(returned);
        log(
          `bgp-bfd: ${failure} #${i + 1}: node1's next hop gone after ` +
            `${gone === undefined ? 'never (10 s)' : `${gone.toFixed(0)} ms`}, back after ` +
            `${returned === undefined ? 'never (30 s)' : `${returned.toFixed(0)} ms`}`,
        );
        if (returned === undefined) throw new Error(`node1's next hop did not come back after ${failure}`);
        // BFD Up again before the next failure, so each trial starts from the same state.
        if (!(await ready(15_000))) throw new Error(`BFD did not come back up after ${failure}`);
      }
  } finally {
    await stopTracked(extra).catch(() => undefined);
    const left = await demoDown({ dir, out: () => undefined });
    fs.rmSync(dir, { recursive: true, force: true });
    if (left.length > 0) log(`bgp-bfd: left behind:\n  ${left.join('\n  ')}`);
  }

  const results: BenchResult[] = [];
  const push = (name: string, value: number, unit: string): void => {
    results.push({ name, value: Math.round(value * 10) / 10, unit });
  };
  push('goal: node1 out of the FIB within', goalMs, 'ms');
  for (const f of failures) {
    const d = detect.get(f) ?? [];
    const b = back.get(f) ?? [];
    push(`${f}: trials`, d.length + (missed.get(f) ?? 0), '');
    push(`${f}: next hop gone p50`, percentile(d, 50), 'ms');
    push(`${f}: next hop gone p99`, percentile(d, 99), 'ms');
    push(`${f}: next hop gone max`, Math.max(...d), 'ms');
    push(`${f}: within goal`, d.filter((v) => v <= goalMs).length, `of ${d.length + (missed.get(f) ?? 0)}`);
    push(`${f}: next hop back p50`, percentile(b, 50), 'ms');
    push(`${f}: next hop back (of trials)`, b.length, '');
  }
  return results;
}
