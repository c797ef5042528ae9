// The speaker under load, on the lab: `make demo-bgp`'s set-up (three speakers, BIRD on the
// router, hold time 3 s) with BFD 100 ms x 3 on every session, beside a CPU hog
// (`stress-ng --cpu 2`), while N Services with an EndpointSlice each (endpoints on all three
// nodes) are created and then deleted. What it watches:
// - session drops: every change of a BGP protocol's state or a BFD session's in BIRD
//   (`birdc show protocols`, `show bfd sessions`, polled every 200 ms) and every
//   `Hold timer expired` / BFD down line in BIRD's log; the goal is none;
// - how long after the last create until BIRD has every Service's /32 with 3 paths, and how
//   long after the last delete until they are all gone;
// In layer 2 mode (`mode: 'l2'`, the speaker-churn-l2 benchmark) it is `make demo`'s set-up instead, the
// Services' IPs advertised with an L2Advertisement, and the drops are membership flaps: a
// speaker logging a peer as anything but alive (or left) while nothing failed; convergence is
// every IP answered by exactly one node's MAC in an ARP scan from the client, and IPs answered
// by two MACs in any scan are counted (goal: none). The speakers' fenced ARP/NDP requests (the
// lease lapsed: the node's own membership thread was held too long) and rejoins are printed.
// Both modes watch:
// - each speaker's event-loop lag (prom-client's nodejs_eventloop_lag_p99/max_seconds, which
//   restart at every scrape: scraped every second, the worst interval is kept), and its BFD
//   worker thread's (beacon_bfd_worker_eventloop_lag_*, per second);
// - speaker and controller RSS when 1k, 5k and N Services exist, with the speakers' V8 heap.
// Shared by the benchmark (speaker-churn-bench.ts) and the e2e test, which runs it smaller.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { KubeClient } from '../../lib/kube/client.js';
import { loadKubeConfig } from '../../lib/kube/kubeconfig.js';
import { kubectl } from '../env/install.js';
import { demoDown, demoUp, readDemoState } from '../demo/demo.js';
import { birdFiles, startBird } from '../demo/bgp.js';
import { stopTracked, type TrackedProcess } from '../demo/processes.js';
import { Lab, type NodeHost, nodeHosts } from '../e2e/lab.js';
import { summarizeHeapSnapshot, type HeapHolder } from './heap-summary.js';
import { arpScan, flapLines, jsonLogLines } from '../e2e/l2-scale.js';

export type ChurnMode = 'bgp' | 'l2';

export interface ChurnOptions {
  /** BGP with BFD to BIRD (default), or layer 2. */
  mode?: ChurnMode;
  /** Services to create and delete (default 10,000; SPEAKER_CHURN_SERVICES). */
  services?: number;
  /** Lab prefix (default `chn-`, or LAB_PREFIX). */
  prefix?: string;
  /** Run `stress-ng --cpu <n>` beside it (0: none). Default 2. */
  cpuHogs?: number;
  /** API requests in flight while creating and deleting. Default 16. */
  concurrency?: number;
  /** How long to wait for the routes (each way), ms. Default 10 minutes. */
  routesTimeoutMs?: number;
  log?: (line: string) => void;
  /** At N Services, print the largest holders of a speaker's and the controller's heap. */
  heapHolders?: boolean;
  /**
   * Extra Node.js flags for the daemons, to measure one (e.g. a V8 heap setting) against the
   * default. Default: SPEAKER_CHURN_NODE_ARGS split on spaces, or none.
   */
  nodeArgs?: readonly string[];
}

export interface SpeakerLag {
  node: NodeHost;
  /** Worst per-second p99 and max over the run, seconds. */
  p99: number;
  max: number;
  /** The same for the speaker's BFD worker thread (beacon_bfd_worker_eventloop_lag_*). */
  bfdP99: number;
  bfdMax: number;
  /**
   * The main thread's gaps over 100 ms and what held it, seconds summed over the run
   * (beacon_thread_stall_*): its own work (ran) against a busy CPU (waitedForCpu) and the rest.
   */
  mainStalls: StallSplit;
  /** The same for the layer 2 membership worker's gaps over 200 ms (layer 2 mode). */
  membershipStalls: StallSplit;
}

export interface StallSplit {
  count: number;
  ran: number;
  waitedForCpu: number;
  stolen: number;
  gc: number;
  other: number;
}

export interface MemoryAt {
  services: number;
  speakerRssMB: number[];
  speakerHeapMB: number[];
  /**
   * Where the rest of a speaker's RSS is: V8's heap as reserved (used + free pages of every
   * space; the main thread's isolate only) and memory outside it (Buffers, native allocations
   * V8 knows of), as the speaker's own nodejs_heap_size_total_bytes and
   * nodejs_external_memory_bytes say.
   */
  speakerHeapTotalMB: number[];
  speakerExternalMB: number[];
  controllerRssMB: number;
}

/** The largest holders of a daemon's heap at a count of Services. */
export interface HeapTop {
  who: string;
  services: number;
  holders: HeapHolder[];
}

export interface ChurnResult {
  mode: ChurnMode;
  services: number;
  /**
   * BGP: BGP or BFD state changes in BIRD, and hold-timer / BFD-down lines in its log. Layer 2:
   * membership flaps, a speaker's log line of a peer becoming anything but alive or left.
   */
  sessionDrops: number;
  dropDetails: string[];
  /**
   * From the last create until every /32 had 3 paths (BGP) or every IP was answered by exactly
   * one node's MAC (layer 2); undefined if not within the timeout.
   */
  presentMs: number | undefined;
  /** From the last delete until every /32 was gone (BGP) or no IP was answered (layer 2). */
  withdrawnMs: number | undefined;
  /** Layer 2: IPs answered by two MACs, summed over every scan (goal 0). */
  doubleAnswers: number;
  /** Layer 2, per speaker: ARP/NDP requests not answered because its lease had lapsed. */
  fencedFrames: number[];
  /** Layer 2, per speaker: times it rejoined membership after being declared dead. */
  rejoins: number[];
  createMs: number;
  deleteMs: number;
  lag: SpeakerLag[];
  memory: MemoryAt[];
  heapTops: HeapTop[];
  /**
   * The speakers' own account: their log lines about BFD and BGP sessions going down and about
   * the BFD worker (which side saw a failure first, and why).
   */
  speakerEvents: string[];
}

const bfdMs = 100;
const multiplier = 3;
const namespace = 'churn';
const poolName = 'churn';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve) =>
    execFile(cmd, args, { encoding: 'utf8', timeout: 20_000, maxBuffer: 64 << 20 }, (_e, out) =>
      resolve(out ?? ''),
    ),
  );
}

/** `name state since info` of every BGP protocol and the state of every BFD session. */
async function birdStates(socket: string): Promise<Map<string, string>> {
  const states = new Map<string, string>();
  for (const line of (await run('birdc', ['-s', socket, 'show', 'protocols'])).split('\n')) {
    const f = line.trim().split(/\s+/);
    // Name Proto Table State Since Info: Since changes with every state change, so a flap
    // between two polls still shows.
    if (f[1] === 'BGP') states.set(`bgp ${f[0]}`, f.slice(3).join(' '));
  }
  for (const line of (await run('birdc', ['-s', socket, 'show', 'bfd', 'sessions'])).split('\n')) {
    const f = line.trim().split(/\s+/);
    // IP address, Interface, State, Since, Interval, Timeout.
    if (/^\d+\.\d+\.\d+\.\d+$/.test(f[0] ?? '')) states.set(`bfd ${f[0]}`, `${f[2]} ${f[3]}`);
  }
  return states;
}

/**
 * Whether two `state since info` readings of one protocol or BFD session show the same state
 * since the same moment. BIRD prints "since" as wall-clock time derived from the state's age, so
 * two reads of an unchanged session can differ by a millisecond: a change of up to one second is
 * jitter (a real flap in between also changes the state or shows in BIRD's log, read separately).
 */
export function sameState(a: string, b: string): boolean {
  const [stateA, sinceA, ...infoA] = a.split(' ');
  const [stateB, sinceB, ...infoB] = b.split(' ');
  if (stateA !== stateB || infoA.join(' ') !== infoB.join(' ')) return false;
  if (sinceA === sinceB) return true;
  const ms = (t: string | undefined): number => {
    const m = /^(\d+):(\d+):(\d+(?:\.\d+)?)$/.exec(t ?? '');
    return m ? (Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3])) * 1000 : Number.NaN;
  };
  const day = 86_400_000;
  const d = Math.abs(ms(sinceA) - ms(sinceB)) % day;
  return Math.min(d, day - d) <= 1000;
}

/** BIRD's count of networks and routes in its table (`show route count`). */
async function routeCount(socket: string): Promise<{ routes: number; networks: number }> {
  const out = await run('birdc', ['-s', socket, 'show', 'route', 'count']);
  const m = /(\d+) of (\d+) routes for (\d+) networks/.exec(out);
  return m ? { routes: Number(m[2]), networks: Number(m[3]) } : { routes: -1, networks: -1 };
}

function rssMB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/**
 * A value from a Prometheus text page: the series with exactly `labels` (as exported, e.g.
 * `thread="main"`), or without them the first series of `name`. NaN if there is none.
 */
function metricValue(text: string, name: string, labels?: string): number {
  const series =
    labels === undefined ? '(?:\\{[^}]*\\})?' : `\\{${labels.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\}`;
  const m = new RegExp(`^${name}${series} ([0-9.eE+-]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : Number.NaN;
}

/** Runs `work` on `items` with `concurrency` in flight; failures are retried a few times. */
async function inParallel<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++]!;
      for (let attempt = 0; ; attempt++) {
        try {
          await work(item);
          break;
        } catch (err) {
          if (attempt >= 5) throw err;
          await sleep(200 * (attempt + 1));
        }
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/** The IP a layer 2 run asks for Service `i` (10.200.0.1 upwards), so a scan knows them all. */
function churnIp(i: number): string {
  const n = i + 1;
  return `10.200.${n >> 8}.${n & 255}`;
}

const noStalls = (): StallSplit => ({ count: 0, ran: 0, waitedForCpu: 0, stolen: 0, gc: 0, other: 0 });

/** One thread's stall totals from a speaker's metrics page (beacon_thread_stall_*). */
function stallSplit(page: string, thread: string): StallSplit {
  const part = (p: string): number =>
    metricValue(page, 'beacon_thread_stall_seconds_total', `thread="${thread}",part="${p}"`) || 0;
  return {
    count: metricValue(page, 'beacon_thread_stalls_total', `thread="${thread}"`) || 0,
    ran: part('ran'),
    waitedForCpu: part('waited_for_cpu'),
    stolen: part('stolen'),
    gc: part('gc'),
    other: part('other'),
  };
}

export async function runSpeakerChurn(opts: ChurnOptions = {}): Promise<ChurnResult> {
  const mode: ChurnMode = opts.mode ?? 'bgp';
  const count = opts.services ?? Number(process.env.SPEAKER_CHURN_SERVICES ?? 10_000);
  const prefix = opts.prefix ?? process.env.LAB_PREFIX ?? 'chn-';
  const concurrency = opts.concurrency ?? 16;
  const routesTimeoutMs = opts.routesTimeoutMs ?? 600_000;
  const log = opts.log ?? ((line: string) => void process.stderr.write(`${line}\n`));
  if (mode === 'l2' && count > 65_000)
    throw new Error(
      `speaker-churn: ${count} Services: layer 2 mode asks for at most 65,000 IPs of 10.200.0.0/16`,
    );
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `beacon-${prefix}churn-`));
  const lab = new Lab({ prefix });
  const extra: TrackedProcess[] = [];
  let hog: ChildProcess | undefined;
  let stopWatch = false;
  const watchers: Promise<void>[] = [];
  const drops: string[] = [];
  const lagWorst = new Map<NodeHost, Omit<SpeakerLag, 'node'>>(
    nodeHosts.map((n) => [
      n,
      { p99: 0, max: 0, bfdP99: 0, bfdMax: 0, mainStalls: noStalls(), membershipStalls: noStalls() },
    ]),
  );
  const memory: MemoryAt[] = [];
  const heapTops: HeapTop[] = [];
  const speakerEvents: string[] = [];
  const result: Partial<ChurnResult> = {};
  let doubleAnswers = 0;
  let fencedFrames: number[] = [];
  let rejoins: number[] = [];
  try {
    // SIGUSR2 makes a daemon write a heap snapshot into `dir` (read at N Services, below).
    const report = await demoUp({
      mode,
      prefix,
      dir,
      out: () => undefined,
      nodeArgs: [
        ...(opts.nodeArgs ?? (process.env.SPEAKER_CHURN_NODE_ARGS ?? '').split(' ').filter((a) => a !== '')),
        ...(opts.heapHolders ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${dir}`] : []),
      ],
    });
    const failed = report.steps.filter((s) => !s.reached).map((s) => s.line);
    if (failed.length > 0) throw new Error(`the ${mode} demo did not come up:\n${failed.join('\n')}`);
    const state = readDemoState(dir);
    if (!state?.controller) throw new Error('the demo recorded no controller');
    if (mode === 'bgp' && !state.router) throw new Error('the BGP demo recorded no router');
    const kubeconfig = path.join(dir, 'kubeconfig');
    const admin = (args: string[]): Promise<string> => kubectl(kubeconfig, args);
    const api = new KubeClient(loadKubeConfig(kubeconfig));
    const metricsOf = async (node: NodeHost): Promise<string> =>
      (
        await lab.exec(node, 'curl', ['-s', '--max-time', '2', 'http://127.0.0.1:7472/metrics'], {
          check: false,
        })
      ).stdout;

    // A pool for the Services and its advertisement; in BGP mode BFD on the peer and on BIRD.
    const manifests = path.join(dir, 'churn.json');
    const pool = {
      apiVersion: 'metallb.io/v1beta1',
      kind: 'IPAddressPool',
      metadata: { name: poolName, namespace: 'metallb-system' },
      spec: { addresses: ['10.200.0.0/16'], autoAssign: false },
    };
    const advertisement = {
      apiVersion: 'metallb.io/v1beta1',
      kind: mode === 'bgp' ? 'BGPAdvertisement' : 'L2Advertisement',
      metadata: { name: poolName, namespace: 'metallb-system' },
      spec: { ipAddressPools: [poolName] },
    };
    const bfdProfile = {
      apiVersion: 'metallb.io/v1beta1',
      kind: 'BFDProfile',
      metadata: { name: 'churn-bfd', namespace: 'metallb-system' },
      spec: { receiveInterval: bfdMs, transmitInterval: bfdMs, detectMultiplier: multiplier },
    };
    fs.writeFileSync(
      manifests,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: [
          { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } },
          pool,
          advertisement,
          ...(mode === 'bgp' ? [bfdProfile] : []),
        ],
      }),
    );
    await admin(['apply', '-f', manifests]);

    // BGP: BIRD restarted with BFD, and the sessions up with it.
    const bird =
      mode === 'bgp'
        ? await (async () => {
            await admin([
              ...['patch', 'bgppeers.metallb.io', 'router', '-n', 'metallb-system', '--type', 'merge'],
              ...['-p', JSON.stringify({ spec: { bfdProfile: 'churn-bfd' } })],
            ]);
            await stopTracked([state.router!]);
            const files = birdFiles(path.join(dir, 'bird-bfd'));
            extra.push(await startBird(lab, files, { intervalMs: bfdMs, multiplier }));
            const t = Date.now();
            for (;;) {
              const s = await birdStates(files.socket);
              const bgpUp = [...s].filter(
                ([k, v]) => k.startsWith('bgp') && v.includes('Established'),
              ).length;
              const bfdUp = [...s].filter(([k, v]) => k.startsWith('bfd') && v.startsWith('Up ')).length;
              if (bgpUp === nodeHosts.length && bfdUp === nodeHosts.length)
                return { files, baseline: await routeCount(files.socket) };
              if (Date.now() - t > 60_000)
                throw new Error(`sessions not up with BFD: ${JSON.stringify([...s])}`);
              await sleep(200);
            }
          })()
        : undefined;
    log(
      bird
        ? `speaker-churn: lab up, BGP and BFD Established on 3 sessions; BIRD has ${bird.baseline.networks} networks`
        : 'speaker-churn: lab up in layer 2 mode, three speakers',
    );

    // Watchers: BIRD's states (BGP), the speakers' event-loop lag and thread stalls.
    if (bird)
      watchers.push(
        (async () => {
          let last = await birdStates(bird.files.socket);
          while (!stopWatch) {
            await sleep(200);
            const now = await birdStates(bird.files.socket);
            for (const [k, v] of now) {
              const before = last.get(k);
              if (before !== undefined && !sameState(before, v)) drops.push(`${k}: ${before} -> ${v}`);
            }
            last = now;
          }
        })(),
      );
    watchers.push(
      (async () => {
        while (!stopWatch) {
          await Promise.all(
            nodeHosts.map(async (node) => {
              const page = await metricsOf(node);
              const w = lagWorst.get(node)!;
              const p99 = metricValue(page, 'nodejs_eventloop_lag_p99_seconds');
              const max = metricValue(page, 'nodejs_eventloop_lag_max_seconds');
              if (p99 > w.p99) w.p99 = p99;
              if (max > w.max) w.max = max;
              const bfdP99 = metricValue(page, 'beacon_bfd_worker_eventloop_lag_p99_seconds');
              const bfdMax = metricValue(page, 'beacon_bfd_worker_eventloop_lag_max_seconds');
              if (bfdP99 > w.bfdP99) w.bfdP99 = bfdP99;
              if (bfdMax > w.bfdMax) w.bfdMax = bfdMax;
              if (page.includes('beacon_thread_stall')) {
                w.mainStalls = stallSplit(page, 'main');
                w.membershipStalls = stallSplit(page, 'membership-worker');
              }
            }),
          );
          await sleep(1000);
        }
      })(),
    );
    if ((opts.cpuHogs ?? 2) > 0) {
      hog = spawn('stress-ng', ['--cpu', String(opts.cpuHogs ?? 2), '--timeout', '3600s', '--quiet'], {
        stdio: 'ignore',
      });
      hog.on('error', (err) => log(`speaker-churn: stress-ng did not start (${err.message}); no CPU hog`));
    }

    const measureMemory = async (services: number): Promise<void> => {
      const pages = await Promise.all(nodeHosts.map(metricsOf));
      const mb = (name: string): number[] => pages.map((p) => metricValue(p, name) / 2 ** 20);
      const heaps = mb('nodejs_heap_size_used_bytes');
      const m: MemoryAt = {
        services,
        speakerRssMB: state.speakers.map((s) => rssMB(s.pid)),
        speakerHeapMB: heaps,
        speakerHeapTotalMB: mb('nodejs_heap_size_total_bytes'),
        speakerExternalMB: mb('nodejs_external_memory_bytes'),
        controllerRssMB: rssMB(state.controller!.pid),
      };
      memory.push(m);
      log(
        `speaker-churn: at ${services} Services: speaker RSS ${m.speakerRssMB.map((v) => v.toFixed(0)).join('/')} MB ` +
          `(heap used ${heaps.map((v) => v.toFixed(0)).join('/')} of ${m.speakerHeapTotalMB.map((v) => v.toFixed(0)).join('/')} MB, ` +
          `external ${m.speakerExternalMB.map((v) => v.toFixed(0)).join('/')} MB), controller RSS ${m.controllerRssMB.toFixed(0)} MB`,
      );
    };
    // Memory at 1k and 5k while creating, and at N once every route is in (below).
    const marks = new Set([1000, 5000].filter((n) => n < count));

    // Create: Service then its EndpointSlice (endpoints on all three nodes, ready). In layer 2
    // mode each Service asks for its IP, so the scans know every IP without listing Services.
    const names = Array.from({ length: count }, (_, i) => `svc-${i}`);
    const ips = Array.from({ length: count }, (_, i) => churnIp(i));
    const t0 = performance.now();
    let created = 0;
    for (let start = 0; start < count;) {
      const end = Math.min(count, ...[...marks].filter((m) => m > start));
      await inParallel(
        names.slice(start, end).map((name, k) => ({ name, ip: ips[start + k]! })),
        concurrency,
        async ({ name, ip }) => {
          await api.request('POST', `/api/v1/namespaces/${namespace}/services`, {
            metadata: {
              name,
              annotations: {
                'metallb.io/address-pool': poolName,
                ...(mode === 'l2' ? { 'metallb.io/loadBalancerIPs': ip } : {}),
              },
            },
            // No NodePorts: the default range (30000-32767) holds 2,768, fewer than the run's
            // Services, and an announced IP does not need them.
            spec: {
              type: 'LoadBalancer',
              allocateLoadBalancerNodePorts: false,
              ports: [{ port: 80, protocol: 'TCP' }],
            },
          });
          await api.request('POST', `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices`, {
            metadata: {
              name: `${name}-1`,
              labels: {
                'kubernetes.io/service-name': name,
                'endpointslice.kubernetes.io/managed-by': 'bench',
              },
            },
            addressType: 'IPv4',
            endpoints: nodeHosts.map((n, i) => ({
              addresses: [`10.244.${i}.1`],
              nodeName: n,
              conditions: { ready: true },
            })),
            ports: [{ port: 80, protocol: 'TCP' }],
          });
          created++;
        },
      );
      start = end;
      if (marks.has(end)) await measureMemory(end);
    }
    result.createMs = performance.now() - t0;
    const lastCreate = performance.now();
    log(`speaker-churn: ${created} Services created in ${(result.createMs / 1000).toFixed(1)} s`);

    /** Polls `ok` until it holds or the timeout passes; the time it took, or undefined. */
    const waitUntil = async (ok: () => Promise<boolean>, pauseMs: number): Promise<number | undefined> => {
      const from = performance.now();
      while (performance.now() - from < routesTimeoutMs) {
        if (await ok()) return performance.now() - from;
        await sleep(pauseMs);
      }
      return undefined;
    };
    // BGP: BIRD's table. Layer 2: an ARP scan of every IP from the client.
    const arp = async (want: 'one' | 'none'): Promise<boolean> => {
      const scan = await arpScan({ dir, lab }, ips);
      const answers = [...scan.values()];
      const twice = answers.filter((m) => m.length > 1).length;
      doubleAnswers += twice;
      const one = answers.filter((m) => m.length === 1).length;
      log(
        `speaker-churn: ARP scan: ${one} answered once, ${twice} by two MACs, ${count - one - twice} unanswered`,
      );
      return want === 'one' ? one === count : one + twice === 0;
    };
    const present = bird
      ? await waitUntil(async () => {
          const c = await routeCount(bird.files.socket);
          const want = bird.baseline.networks + count;
          return c.networks === want && c.routes === 3 * want;
        }, 250)
      : await waitUntil(() => arp('one'), 500);
    result.presentMs = present === undefined ? undefined : performance.now() - lastCreate;
    const what = bird ? `all ${count} /32s with 3 paths` : `all ${count} IPs answered by one MAC`;
    log(
      `speaker-churn: ${what} ${present === undefined ? 'NOT within the timeout' : `${(result.presentMs! / 1000).toFixed(1)} s after the last create`}`,
    );
    await measureMemory(count);
    // What fills the heaps at N: one speaker's and the controller's largest holders.
    const snapshotOf: ReadonlyArray<readonly [string, number]> = opts.heapHolders
      ? [
          ['speaker node1', state.speakers[0]!.pid],
          ['controller', state.controller.pid],
        ]
      : [];
    for (const [who, pid] of snapshotOf) {
      try {
        const holders = await heapHolders(dir, pid);
        heapTops.push({ who, services: count, holders });
        log(
          `speaker-churn: ${who} heap at ${count} Services, largest holders: ` +
            holders.map((h) => `${h.name} ${(h.selfBytes / 2 ** 20).toFixed(1)} MB`).join(', '),
        );
      } catch (err) {
        log(`speaker-churn: no heap snapshot of the ${who}: ${(err as Error).message}`);
      }
    }

    const t1 = performance.now();
    await inParallel(names, concurrency, async (name) => {
      await api
        .request('DELETE', `/api/v1/namespaces/${namespace}/services/${name}`)
        .catch((err: { status?: number }) => {
          if (err.status !== 404) throw err;
        });
      await api
        .request('DELETE', `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices/${name}-1`)
        .catch((err: { status?: number }) => {
          if (err.status !== 404) throw err;
        });
    });
    result.deleteMs = performance.now() - t1;
    const lastDelete = performance.now();
    const gone = bird
      ? await waitUntil(
          async () => (await routeCount(bird.files.socket)).networks === bird.baseline.networks,
          250,
        )
      : await waitUntil(() => arp('none'), 500);
    result.withdrawnMs = gone === undefined ? undefined : performance.now() - lastDelete;
    log(
      `speaker-churn: deleted in ${(result.deleteMs / 1000).toFixed(1)} s; all withdrawn ${gone === undefined ? 'NOT within the timeout' : `${(result.withdrawnMs! / 1000).toFixed(1)} s after the last delete`}`,
    );
    // Layer 2: each speaker's fenced requests and rejoins since its start.
    if (mode === 'l2') {
      const pages = await Promise.all(nodeHosts.map(metricsOf));
      fencedFrames = pages.map(
        (p) => metricValue(p, 'beacon_layer2_dropped_frames_total', 'reason="fenced"') || 0,
      );
      rejoins = pages.map((p) => metricValue(p, 'beacon_layer2_membership_rejoins_total') || 0);
    }
    // The speakers' own account of what went down and why; in layer 2 mode, their flaps.
    for (const s of state.speakers) {
      const lines = jsonLogLines(s.log);
      if (mode === 'l2')
        for (const l of flapLines(lines))
          drops.push(
            `${s.node}: peer ${String(l.peer)} ${String(l.from)} -> ${String(l.to)} at ${String(l.ts)}`,
          );
      for (const l of lines) {
        const text = JSON.stringify(l);
        if (
          /BFD down|BGP session down|BFD worker|BFD periodic sender|membership worker|hold timer/i.test(text)
        )
          speakerEvents.push(`${s.node}: ${text.slice(0, 400)}`);
      }
    }
    // BIRD's own account of expiries.
    if (bird) {
      const birdLog = fs.existsSync(bird.files.log) ? fs.readFileSync(bird.files.log, 'utf8') : '';
      for (const line of birdLog.split('\n'))
        if (/Hold timer expired|BFD session down|Received: Hold timer/.test(line))
          drops.push(`bird log: ${line.trim()}`);
    }
  } finally {
    stopWatch = true;
    await Promise.all(watchers).catch(() => undefined);
    if (hog?.pid !== undefined && hog.exitCode === null) hog.kill('SIGTERM');
    await stopTracked(extra).catch(() => undefined);
    const left = await demoDown({ dir, out: () => undefined });
    fs.rmSync(dir, { recursive: true, force: true });
    if (left.length > 0) log(`speaker-churn: left behind:\n  ${left.join('\n  ')}`);
  }
  return {
    mode,
    services: count,
    sessionDrops: drops.length,
    dropDetails: drops,
    presentMs: result.presentMs,
    withdrawnMs: result.withdrawnMs,
    doubleAnswers,
    fencedFrames,
    rejoins,
    createMs: result.createMs ?? Number.NaN,
    deleteMs: result.deleteMs ?? Number.NaN,
    lag: nodeHosts.map((node) => ({ node, ...lagWorst.get(node)! })),
    memory,
    heapTops,
    speakerEvents,
  };
}

/** Asks `pid` for a heap snapshot (SIGUSR2, see demoUp's nodeArgs) and sums what is in it. */
async function heapHolders(dir: string, pid: number): Promise<HeapHolder[]> {
  const mine = (): string[] =>
    fs.readdirSync(dir).filter((f) => f.endsWith('.heapsnapshot') && f.includes(`.${pid}.`));
  const before = new Set(mine());
  process.kill(pid, 'SIGUSR2');
  // Node writes the file in one go; it is complete once its size stops changing.
  let last = -1;
  for (let waited = 0; waited < 180_000; waited += 2000) {
    await sleep(2000);
    const file = mine().find((f) => !before.has(f));
    if (file === undefined) continue;
    const size = fs.statSync(path.join(dir, file)).size;
    if (size > 0 && size === last) {
      const holders = await summarizeHeapSnapshot(path.join(dir, file), 8);
      fs.rmSync(path.join(dir, file), { force: true });
      return holders;
    }
    last = size;
  }
  throw new Error(`pid ${pid} wrote no heap snapshot within 3 minutes`);
}
