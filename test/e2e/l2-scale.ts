// What the layer 2 scale and hostile-segment tests (l2-scale.test.ts, l2-hostile.test.ts) and
// the full-size run (test/scale/l2-scale-run.ts) share, on top of L2Cluster: many L2 Services
// at once, an ARP prober in the client namespace that captures every reply with its MAC (two
// MACs answering one request is the failure they look for), a hostile station's floods, a CPU
// hog, and what each speaker says about itself (metrics, log lines, RSS and CPU). Needs root.

import fs from 'node:fs';
import path from 'node:path';
import { CoreV1Api, DiscoveryV1Api, KubeConfig, type V1Service } from '@kubernetes/client-node';
import { repoRoot } from '../env/control-plane.js';
import { endpointSliceObject } from '../demo/objects.js';
import {
  hostMac,
  hostSeedV4,
  hostV4,
  nodeHosts,
  type Lab,
  type LabHost,
  type LabProcess,
  type NodeHost,
} from './lab.js';
import { type L2Cluster, sleep, waitFor } from './l2-cluster.js';

const probeMain = path.join(repoRoot, 'dist/test/e2e/fixtures/l2-arp-probe.js');
const floodMain = path.join(repoRoot, 'dist/test/e2e/fixtures/l2-flood.js');
export const membershipPort = 7946;

/** Resolves when `p` settles or after `ms`, whichever is first, leaving no timer behind. */
async function within(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}

// --- Many Services ---------------------------------------------------------------------------

export interface ScaleServices {
  /** Service name → its IP. */
  ips: Map<string, string>;
  /** How long creating and allocating them took, ms. */
  ms: number;
}

/** Runs `fn` over `items` with at most `limit` in flight. */
async function pool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

async function retry<T>(what: string, fn: () => Promise<T>, attempts = 5): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      // 409: created by an earlier attempt whose answer was lost.
      if ((err as { code?: number }).code === 409) return undefined as T;
      if (i >= attempts) throw new Error(`${what}: ${String(err)}`, { cause: err });
      await sleep(200 * i);
    }
  }
}

/**
 * An IPAddressPool `name` over `cidr` (autoAssign off) with its L2Advertisement, and `count`
 * LoadBalancer Services asking for it, each with an EndpointSlice on every node (MetalLB
 * announces no Service without a ready endpoint). Resolves once every Service has its IP.
 */
export async function createL2Services(
  cluster: L2Cluster,
  opts: { name: string; cidr: string; count: number; timeoutMs: number; log?: (line: string) => void },
): Promise<ScaleServices> {
  const started = Date.now();
  await cluster.applyObject(`${opts.name}-pool`, {
    apiVersion: 'metallb.io/v1beta1',
    kind: 'IPAddressPool',
    metadata: { name: opts.name, namespace: 'metallb-system' },
    spec: { addresses: [opts.cidr], autoAssign: false },
  });
  await cluster.applyObject(`${opts.name}-advert`, {
    apiVersion: 'metallb.io/v1beta1',
    kind: 'L2Advertisement',
    metadata: { name: opts.name, namespace: 'metallb-system' },
    spec: { ipAddressPools: [opts.name] },
  });
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfigPath);
  const core = kc.makeApiClient(CoreV1Api);
  const discovery = kc.makeApiClient(DiscoveryV1Api);
  const names = Array.from({ length: opts.count }, (_, i) => `${opts.name}-${i}`);
  let created = 0;
  await pool(names, 16, async (name) => {
    const slice = endpointSliceObject({
      service: name,
      namespace: 'default',
      port: { name: 'http', port: 80, protocol: 'TCP' },
    });
    await retry(`EndpointSlice default/${name}-demo`, () =>
      discovery.createNamespacedEndpointSlice({ namespace: 'default', body: slice as never }),
    );
    await retry(`Service default/${name}`, () =>
      core.createNamespacedService({
        namespace: 'default',
        body: {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: {
            name,
            namespace: 'default',
            labels: { 'beacon.test/scale': opts.name },
            annotations: { 'metallb.io/address-pool': opts.name },
          },
          spec: {
            type: 'LoadBalancer',
            // No NodePorts: the API server has 2,768 (30000–32767 by default), so 10,000
            // LoadBalancer Services need them off, as they would in a cluster of that size.
            allocateLoadBalancerNodePorts: false,
            ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
          },
        },
      }),
    );
    if (++created % 1000 === 0) opts.log?.(`  ${created} Services created`);
  });
  const ips = await waitFor(
    `IPs for ${opts.count} Services of pool ${opts.name}`,
    opts.timeoutMs,
    async () => {
      const list = await core.listNamespacedService({
        namespace: 'default',
        labelSelector: `beacon.test/scale=${opts.name}`,
      });
      const out = new Map<string, string>();
      for (const svc of list.items as V1Service[]) {
        const ip = svc.status?.loadBalancer?.ingress?.[0]?.ip;
        if (ip && svc.metadata?.name) out.set(svc.metadata.name, ip);
      }
      opts.log?.(`  ${out.size} of ${opts.count} Services have an IP`);
      return out.size === opts.count ? out : undefined;
    },
    2000,
  );
  return { ips, ms: Date.now() - started };
}

/** `n` of `values` spread evenly over the list (all of them when n >= length). */
export function sample<T>(values: readonly T[], n: number): T[] {
  if (n >= values.length) return [...values];
  return Array.from({ length: n }, (_, i) => values[Math.floor((i * values.length) / n)] as T);
}

// --- The client's ARP prober ---------------------------------------------------------------

export interface ProbeTick {
  at: number;
  rounds: number;
  answered: number;
  /** Answered, but only after the next request went out (more than one interval late). */
  late: number;
  unanswered: string[];
  doubles: number;
  owners: Record<string, number>;
}

export interface ProbeDouble {
  ip: string;
  round: number;
  at: number;
  macs: string[];
}

export interface ProbeDone {
  rounds: number;
  answered: number;
  late: number;
  unanswered: number;
  doubles: number;
  stray: number;
  lastMac: Record<string, string | undefined>;
}

/** Parses the prober's JSON lines as they come. */
class JsonLines {
  readonly events: Record<string, unknown>[] = [];
  /**
   * Resolves when the child's stdout is closed: its last lines are read. A process's 'exit' can
   * come before that (Node documents that its stdio may still be open), and the fixture's last
   * line is its result: 400 KB of JSON for a scan of 10,000 IPs.
   */
  readonly ended: Promise<void>;
  private partial = '';
  constructor(proc: LabProcess) {
    const out = proc.child.stdout;
    this.ended = out && !out.destroyed ? new Promise((r) => out.once('close', () => r())) : Promise.resolve();
    out?.on('data', (chunk: Buffer) => {
      const lines = (this.partial + chunk.toString('utf8')).split('\n');
      this.partial = lines.pop() ?? '';
      for (const line of lines) {
        try {
          this.events.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          // not ours (a warning on stderr is collected apart)
        }
      }
    });
  }
  of<T>(event: string): T[] {
    return this.events.filter((e) => e.event === event) as T[];
  }
}

/** The l2-arp-probe fixture in the client namespace, probing `ips` every `intervalMs`. */
export class ArpProbe {
  private constructor(
    private readonly proc: LabProcess,
    private readonly lines: JsonLines,
    private readonly file: string,
  ) {}

  static async start(
    cluster: L2Cluster,
    ips: readonly string[],
    intervalMs: number,
    durationMs = 0,
  ): Promise<ArpProbe> {
    const file = path.join(cluster.dir, `probe-${Date.now()}-${Math.random().toString(36).slice(2)}.txt`);
    fs.writeFileSync(file, `${ips.join('\n')}\n`);
    const proc = cluster.lab.spawn(
      'client',
      process.execPath,
      // Two sender IPs, alternating by round: a late reply is told from a missing one.
      [
        probeMain,
        'eth0',
        `${hostV4('client')},${hostSeedV4('client')}`,
        file,
        String(intervalMs),
        String(durationMs),
      ],
      { stdio: 'pipe' },
    );
    const lines = new JsonLines(proc);
    await proc.waitForOutput(/"event":"started"/);
    return new ArpProbe(proc, lines, file);
  }

  get ticks(): ProbeTick[] {
    return this.lines.of<ProbeTick>('tick');
  }
  get doubles(): ProbeDouble[] {
    return this.lines.of<ProbeDouble>('double');
  }
  get errors(): unknown[] {
    return this.lines.of('error');
  }

  /** Stops probing (SIGTERM: the last round is finished first) and returns the totals. */
  async stop(): Promise<ProbeDone> {
    if (this.proc.child.exitCode === null) this.proc.child.kill('SIGTERM');
    await within(Promise.all([this.proc.exited, this.lines.ended]), 10_000);
    fs.rmSync(this.file, { force: true });
    const done = this.lines.of<ProbeDone>('done')[0];
    if (!done) throw new Error(`the ARP prober ended without totals: ${JSON.stringify(this.errors)}`);
    return done;
  }

  /** Ends it whatever state it is in (teardown). */
  async kill(): Promise<void> {
    await this.proc.stop(1000).catch(() => undefined);
    fs.rmSync(this.file, { force: true });
  }
}

/**
 * One ARP request per IP from the client (repeated up to three times for the unanswered),
 * and the MACs that answered each. Takes any lab with a scratch directory (an L2Cluster, or
 * the demo's lab in speaker-churn).
 */
export async function arpScan(
  cluster: { readonly dir: string; readonly lab: Lab },
  ips: readonly string[],
): Promise<Map<string, string[]>> {
  const file = path.join(cluster.dir, `scan-${Date.now()}-${Math.random().toString(36).slice(2)}.txt`);
  fs.writeFileSync(file, `${ips.join('\n')}\n`);
  try {
    const proc = cluster.lab.spawn(
      'client',
      process.execPath,
      [probeMain, 'eth0', hostV4('client'), file, '0', '0'],
      {
        stdio: 'pipe',
      },
    );
    const lines = new JsonLines(proc);
    await within(Promise.all([proc.exited, lines.ended]), 120_000);
    const scan = lines.of<{ answers: Record<string, string[]> }>('scan')[0];
    if (!scan) {
      const state =
        proc.child.exitCode === null && proc.child.signalCode === null
          ? 'still running after 120 s'
          : `exit ${proc.child.exitCode ?? proc.child.signalCode}`;
      await proc.stop(1000);
      throw new Error(
        `the ARP scan gave no result (${state}, ${lines.events.length} lines): ${JSON.stringify(lines.of('error'))}`,
      );
    }
    return new Map(Object.entries(scan.answers));
  } finally {
    fs.rmSync(file, { force: true });
  }
}

/** Scans until every IP is answered by exactly one MAC of `allowed`; returns the last scan. */
export function everyIpAnsweredOnce(
  cluster: L2Cluster,
  ips: readonly string[],
  allowed: readonly NodeHost[],
  timeoutMs: number,
): Promise<Map<string, string[]>> {
  const macs = new Set(allowed.map(hostMac));
  let last = '';
  let lastBad: string[] = [];
  return waitFor(
    `each of ${ips.length} IPs answered by exactly one of ${allowed.join(', ')}`,
    timeoutMs,
    async () => {
      const scan = await arpScan(cluster, ips);
      const bad = [...scan].filter(([, m]) => m.length !== 1 || !macs.has(m[0] ?? ''));
      // How many, then the first few: five IPs listed alone read as "five IPs", not "all of them".
      last =
        `${bad.length} of ${ips.length}, ` +
        `${bad.filter(([, m]) => m.length === 0).length} of them unanswered; first: ` +
        bad
          .slice(0, 5)
          .map(([ip, m]) => `${ip}: [${m.join(' ')}]`)
          .join(', ');
      lastBad = bad.map(([ip]) => ip);
      return bad.length === 0 ? scan : undefined;
    },
  ).catch((err: unknown) => {
    throw new NotAnsweredOnce(`${String(err)}; still wrong: ${last}`, lastBad);
  });
}

/** everyIpAnsweredOnce gave up: `ips` were still not answered by exactly one allowed MAC. */
export class NotAnsweredOnce extends Error {
  constructor(
    message: string,
    readonly ips: readonly string[],
  ) {
    super(message);
  }
}

/** Log messages that say what a speaker's layer 2 membership and ownership did. */
const layer2Messages = new Set([
  'speaker membership changed',
  'layer 2 answers nothing: membership does not let it',
  'membership worker error',
  'membership worker exited; starting a new one',
  'membership worker failed',
  'membership event handler failed',
  'membership started',
  'local data-plane health',
]);

/**
 * What a speaker says about its layer 2 state, for a failure message: its membership log lines
 * since `since` (the last `maxLines`), how many IPs it began and stopped announcing, and its
 * /metrics samples that matter for `ips` (unowned time per IP, announced count, fenced and
 * other dropped frames, membership drops).
 */
export async function layer2Diagnostics(
  cluster: L2Cluster,
  node: NodeHost,
  metricsPort: number,
  since: number,
  ips: readonly string[],
  maxLines = 60,
): Promise<string> {
  const lines = speakerLogLines(cluster, node).filter((l) => Date.parse(String(l.ts)) >= since);
  const relevant = lines.filter((l) => layer2Messages.has(String(l.msg)));
  const count = (msg: string): number => lines.filter((l) => l.msg === msg).length;
  const wanted = new Set(ips);
  let metrics: string[];
  try {
    const text = await speakerMetrics(cluster, node, metricsPort);
    const announced = metricSum(text, 'metallb_speaker_announced');
    metrics = [
      `metallb_speaker_announced (sum) ${announced}`,
      ...text
        .split('\n')
        .filter(
          (l) =>
            l.startsWith('beacon_layer2_dropped_frames_total') ||
            l.startsWith('beacon_layer2_membership_dropped_total') ||
            l.startsWith('beacon_layer2_responder_up') ||
            l.startsWith('beacon_layer2_memberlist_key_missing') ||
            (l.startsWith('beacon_layer2_unowned_seconds_total{') &&
              wanted.has(/ip="([^"]*)"/.exec(l)?.[1] ?? '')),
        ),
    ];
  } catch (err) {
    metrics = [`(no /metrics: ${String(err)})`];
  }
  return [
    `${node}: ${count('announcing')} "announcing" and ${count('no longer announcing')} "no longer announcing" lines since then`,
    `${node} log (layer 2 membership, last ${maxLines}):`,
    ...relevant.slice(-maxLines).map((l) => `  ${JSON.stringify(l)}`),
    `${node} /metrics:`,
    ...metrics.map((l) => `  ${l}`),
  ].join('\n');
}

/** How many IPs each node answers for, from a scan. */
export function spread(scan: ReadonlyMap<string, string[]>): Map<NodeHost, number> {
  const out = new Map<NodeHost, number>(nodeHosts.map((n) => [n, 0]));
  for (const macs of scan.values())
    for (const n of nodeHosts) if (macs.includes(hostMac(n))) out.set(n, (out.get(n) ?? 0) + 1);
  return out;
}

// --- A hostile station ---------------------------------------------------------------------

export interface FloodResult {
  sent: number;
  ms: number;
}

/** Runs the l2-flood fixture in `host` to the end. */
export async function flood(
  cluster: L2Cluster,
  host: LabHost,
  args: string[],
  timeoutMs = 120_000,
): Promise<FloodResult> {
  const res = await cluster.lab.exec(host, process.execPath, [floodMain, ...args], { timeoutMs });
  const done = res.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { event: string; sent: number; ms: number })
    .find((e) => e.event === 'done');
  if (!done) throw new Error(`l2-flood ${args.join(' ')} gave no result:\n${res.stdout}${res.stderr}`);
  return { sent: done.sent, ms: done.ms };
}

/** Every node's membership address and port, as the flood's udp mode takes them. */
export function membershipTargets(): string {
  return nodeHosts.map((n) => `${hostV4(n)}:${membershipPort}`).join(',');
}

// --- A CPU hog -----------------------------------------------------------------------------

/** stress-ng spinning `cpus` workers for `seconds` beside the speakers (in the router namespace). */
export function startCpuHog(cluster: L2Cluster, cpus: number, seconds: number): LabProcess {
  return cluster.lab.spawn('router', 'stress-ng', [
    '--cpu',
    String(cpus),
    '--timeout',
    `${seconds}s`,
    '--quiet',
  ]);
}

// --- What a speaker says about itself ------------------------------------------------------

/** The speaker's /metrics text (it listens on 127.0.0.1 in its node's namespace). */
export async function speakerMetrics(cluster: L2Cluster, node: NodeHost, port: number): Promise<string> {
  const res = await cluster.lab.exec(
    node,
    'curl',
    ['-sS', '--max-time', '5', `http://127.0.0.1:${port}/metrics`],
    {
      check: false,
    },
  );
  return res.stdout;
}

/** Why a speaker may not have answered, as its /metrics tell since its start. */
export interface AnswerFigures {
  /** Requests it would have answered, dropped because its lease had lapsed. */
  fenced: number;
  /** Requests beyond the answer thread's rate toward the loop, or its full queue. */
  overload: number;
  queueFull: number;
  /** Requests the kernel dropped before the answer thread read them (receive buffer full). */
  socketBuffer: number;
  /** Seconds its IPs had no live owner in its own view. */
  unownedSeconds: number;
  /** Its rejoins (its IPs unanswered until its peers confirm it). */
  rejoins: number;
}

/** `node`'s AnswerFigures, or undefined when its /metrics did not answer within 5 s. */
export async function answerFigures(
  cluster: L2Cluster,
  node: NodeHost,
  port: number,
): Promise<AnswerFigures | undefined> {
  const text = await speakerMetrics(cluster, node, port).catch(() => '');
  // A main thread seconds behind does not serve /metrics within curl's 5 s.
  if (!text.includes('beacon_layer2_')) return undefined;
  const drops = (reason: string): number =>
    metricSum(text, 'beacon_layer2_dropped_frames_total', new RegExp(`reason="${reason}"`));
  return {
    fenced: drops('fenced'),
    overload: drops('overload'),
    queueFull: drops('queue-full'),
    socketBuffer: drops('socket-buffer'),
    unownedSeconds: metricSum(text, 'beacon_layer2_unowned_seconds_total'),
    rejoins: metricSum(text, 'beacon_layer2_membership_rejoins_total'),
  };
}

/** AnswerFigures as one line: "fenced 5, overload 0, queue-full 0, socket-buffer 0, unowned 0.0 s, rejoins 0". */
export function describeAnswerFigures(f: AnswerFigures | undefined): string {
  if (!f) return '/metrics did not answer';
  return (
    `fenced ${f.fenced}, overload ${f.overload}, queue-full ${f.queueFull}, socket-buffer ${f.socketBuffer}, ` +
    `unowned ${f.unownedSeconds.toFixed(1)} s, rejoins ${f.rejoins}`
  );
}

/** Sum of every sample of metric `name` (all label sets) whose labels match `labels`. */
export function metricSum(text: string, name: string, labels: RegExp = /.*/): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z0-9_:]+)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name || !labels.test(m[2] ?? '')) continue;
    sum += Number(m[3]);
  }
  return sum;
}

/** The JSON log lines every run of `node`'s speaker wrote (all restarts), parsed. */
export function speakerLogLines(cluster: L2Cluster, node: NodeHost): Record<string, unknown>[] {
  return fs
    .readdirSync(cluster.dir)
    .filter((n) => n.startsWith(`speaker-${node}-`))
    .sort()
    .flatMap((f) => jsonLogLines(path.join(cluster.dir, f)));
}

/** A daemon's JSON log lines in `file`, parsed (none if it does not exist). */
export function jsonLogLines(file: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // a line cut by SIGKILL
    }
  }
  return out;
}

/**
 * Membership flaps in log lines: a peer leaving `alive` (membership/client.ts logs each change)
 * other than by stopping (`left`, or `restarting` with a hold).
 */
export function flapLines(lines: readonly Record<string, unknown>[]): Record<string, unknown>[] {
  return lines.filter(
    (l) => l.msg === 'speaker membership changed' && !['alive', 'left', 'restarting'].includes(String(l.to)),
  );
}

export interface ProcessFigures {
  rssMiB: number;
  /** User + system CPU seconds so far. */
  cpuSeconds: number;
}

/** RSS and CPU time of a process from /proc (undefined once it is gone). */
export function processFigures(pid: number): ProcessFigures | undefined {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime: fields 14 and 15 of proc(5), 12 and 13 after the command.
    const ticks = Number(fields[11] ?? 0) + Number(fields[12] ?? 0);
    return { rssMiB: rssKiB / 1024, cpuSeconds: ticks / 100 };
  } catch {
    return undefined;
  }
}

/** Pids of the speakers that are running now; a speaker that exited is missing. */
export function runningSpeakers(cluster: L2Cluster): Map<NodeHost, number> {
  const out = new Map<NodeHost, number>();
  for (const [node, proc] of cluster.speakers)
    if (proc.child.exitCode === null && proc.child.signalCode === null) out.set(node, proc.pid);
  return out;
}
