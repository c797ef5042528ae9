// A layer 2 cluster on the network lab, for the failover e2e tests and benchmark: its own
// control plane (so it never shares Nodes or the layer 2 example's Service with another test), the lab,
// Node objects, the layer 2 example applied verbatim with its EndpointSlice and the kube-proxy stand-in,
// beacon-controller (a root-namespace helper of the lab, so the lab's guardian ends it too)
// and one beacon-speaker per node. Plus what the client sees: ARP answers, gratuitous ARPs on
// its wire (tcpdump), and a TCP connect loop. Needs root.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, repoRoot, writeKubeconfig } from '../env/control-plane.js';
import { kubectl } from '../env/install.js';
import { startTestEnv, stopTestEnv, type TestEnvState } from '../env/testenv.js';
import { endpointSliceObject, nodeObject, nodeStatusPatch } from '../demo/objects.js';
import { parseArping, parseGratuitousLine, type ArpAnswer, type GratuitousArp } from '../demo/probes.js';
import {
  installMetalLBOwner,
  metallbBinaries,
  speakerArgs,
  speakerPod,
  startMetalLBController,
  stopMetalLB,
  type MetalLBProcess,
} from '../peers/metallb.js';
import {
  Lab,
  hostMac,
  hostV4,
  nodeHosts,
  processAlive,
  type LabHost,
  type LabProcess,
  type NodeHost,
} from './lab.js';
import { KubeProxy } from './proxy.js';
import { relayRootEndpoint, targetFromUrl } from './relay.js';

/** The layer 2 example's Service IP (test/demo/seed-002-svc.yaml). */
export const seedVip = '192.168.10.222';
export const speakerMain = path.join(repoRoot, 'dist/speaker/main.js');
export const controllerMain = path.join(repoRoot, 'dist/controller/main.js');
const connectLoopMain = path.join(repoRoot, 'dist/test/e2e/fixtures/l2f-connect-loop.js');
export const speakerMetricsPort = 7472;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
  everyMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** A tcpdump on the client's eth0 keeping every gratuitous ARP it sees. */
export class GratuitousCapture {
  readonly seen: GratuitousArp[] = [];
  private readonly waiters = new Set<() => void>();
  private partial = '';

  private constructor(private readonly proc: LabProcess) {
    proc.child.stdout?.on('data', (chunk: Buffer) => {
      const lines = (this.partial + chunk.toString('utf8')).split('\n');
      this.partial = lines.pop() ?? '';
      for (const line of lines) {
        const g = parseGratuitousLine(line);
        if (g) this.seen.push(g);
      }
      for (const w of [...this.waiters]) w();
    });
  }

  static async start(lab: Lab): Promise<GratuitousCapture> {
    const proc = lab.spawn(
      'client',
      'tcpdump',
      ['--immediate-mode', '-l', '-tt', '-nei', 'eth0', 'arp and arp[14:4] = arp[24:4]'],
      { stdio: 'pipe' },
    );
    const capture = new GratuitousCapture(proc);
    await proc.waitForOutput(/listening on/);
    return capture;
  }

  /** The first gratuitous ARP for `ip` after `after` (epoch ms) from a node other than `not`. */
  next(ip: string, after: number, not: NodeHost | undefined, timeoutMs: number): Promise<GratuitousArp> {
    const find = (): GratuitousArp | undefined =>
      this.seen.find((g) => g.ip === ip && g.at >= after && g.node !== undefined && g.node !== not);
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const g = find();
        if (g === undefined) return;
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve(g);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`no gratuitous ARP for ${ip} from a node other than ${not} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  stop(): Promise<void> {
    return this.proc.stop();
  }
}

/** The l2f-connect-loop fixture in the client namespace: start times of its attempts. */
export class ConnectLoop {
  readonly connected: number[] = [];
  /** Attempts refused, reset or not connected within the fixture's timeout: start time, reason. */
  readonly failed: { at: number; reason: string }[] = [];
  private partial = '';

  private constructor(private readonly proc: LabProcess) {
    proc.child.stdout?.on('data', (chunk: Buffer) => {
      const lines = (this.partial + chunk.toString('utf8')).split('\n');
      this.partial = lines.pop() ?? '';
      for (const line of lines) {
        const m = /^(ok|fail) (\d+\.\d+)(?: (\S+))?/.exec(line);
        if (m?.[1] === 'ok') this.connected.push(Number(m[2]));
        else if (m?.[1] === 'fail') this.failed.push({ at: Number(m[2]), reason: m[3] ?? '' });
      }
    });
  }

  /** Attempts that started in [from, to] (epoch ms): how many connected, which failed. */
  attempts(from: number, to: number): { connected: number; failed: { at: number; reason: string }[] } {
    return {
      connected: this.connected.filter((t) => t >= from && t <= to).length,
      failed: this.failed.filter((f) => f.at >= from && f.at <= to),
    };
  }

  /** One attempt every `intervalMs`; an attempt not connected within `timeoutMs` failed. */
  static async start(
    lab: Lab,
    ip: string,
    port: number,
    intervalMs = 20,
    timeoutMs = 250,
  ): Promise<ConnectLoop> {
    const proc = lab.spawn(
      'client',
      process.execPath,
      [connectLoopMain, ip, String(port), String(intervalMs), String(timeoutMs)],
      {
        stdio: 'pipe',
      },
    );
    const loop = new ConnectLoop(proc);
    await proc.waitForOutput(/^started/);
    return loop;
  }

  /**
   * The longest time without a successful connect in [from, to] (epoch ms), measured between
   * the start times of connected attempts (the window's edges count as connected only when an
   * attempt there connected: otherwise the gap runs to the edge).
   */
  longestGap(from: number, to: number): number {
    const inside = this.connected.filter((t) => t >= from && t <= to).sort((a, b) => a - b);
    const before = this.connected.filter((t) => t < from).pop() ?? from;
    const points = [before, ...inside];
    let gap = 0;
    for (let i = 1; i < points.length; i++) gap = Math.max(gap, (points[i] ?? 0) - (points[i - 1] ?? 0));
    return Math.max(gap, to - (points[points.length - 1] ?? from));
  }

  stop(): Promise<void> {
    return this.proc.stop();
  }
}

export interface L2ClusterOptions {
  /** Lab prefix; $LAB_PREFIX goes in front, so concurrent runs keep apart. */
  prefix: string;
  /** Where kubeconfigs, objects and speaker logs go; default a fresh temporary directory. */
  dir?: string;
  /** Extra speaker arguments per node. */
  speakerArgs?: Partial<Record<NodeHost, string[]>>;
  /** Whose controller and speakers run: Beacon's (default) or MetalLB's (test/peers/). */
  impl?: 'beacon' | 'metallb';
}

export class L2Cluster {
  readonly lab: Lab;
  readonly proxy: KubeProxy;
  readonly dir: string;
  readonly speakers = new Map<NodeHost, LabProcess>();
  /** The controller's /metrics port on 127.0.0.1 of the root namespace (set by up()). */
  controllerMetricsPort = 0;
  private env: TestEnvState | undefined;
  private readonly stateFile: string;
  private readonly kubeconfig: string;
  private metallb: { bin: string; controller: MetalLBProcess; secretDir: string } | undefined;
  private beaconControllerPid: number | undefined;

  constructor(private readonly opts: L2ClusterOptions) {
    this.lab = new Lab({ prefix: `${process.env.LAB_PREFIX ?? ''}${opts.prefix}` });
    this.proxy = new KubeProxy(this.lab);
    this.dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), `beacon-${this.lab.prefix}`));
    this.stateFile = path.join(this.dir, 'testenv.json');
    this.kubeconfig = path.join(this.dir, 'kubeconfig');
  }

  /** The admin kubeconfig of this cluster's control plane. */
  get kubeconfigPath(): string {
    return this.kubeconfig;
  }

  admin(args: string[]): Promise<string> {
    return kubectl(this.kubeconfig, args, 'admin');
  }

  async applyObject(name: string, obj: object): Promise<void> {
    const file = path.join(this.dir, `${name}.json`);
    fs.writeFileSync(file, JSON.stringify(obj));
    await this.admin(['apply', '-f', file]);
  }

  /**
   * Control plane, lab, Nodes, the layer 2 example (pool, advertisement, Service, EndpointSlice), the
   * kube-proxy stand-in, the controller and the speakers; returns once the Service has its
   * EXTERNAL-IP and exactly one node answers ARP for it.
   */
  async up(): Promise<void> {
    this.env = await startTestEnv({
      stateFile: this.stateFile,
      kubeconfig: this.kubeconfig,
      owner: process.pid,
    });
    const env = this.env;
    await this.lab.up({ guard: true });
    await relayRootEndpoint(this.lab, targetFromUrl(env.server));
    writeKubeconfig(env, path.join(this.dir, 'speaker.kubeconfig'), 'speaker');
    writeKubeconfig(env, path.join(this.dir, 'controller.kubeconfig'), 'controller');
    for (const node of nodeHosts) {
      await this.applyObject(`node-${node}`, nodeObject(node));
      const patch = JSON.stringify(nodeStatusPatch(node, new Date()));
      await this.admin(['patch', 'node', node, '--subresource=status', '--type=merge', '-p', patch]);
    }
    await this.admin(['apply', '-f', path.join(repoRoot, 'manifests/samples/seed-002.yaml')]);
    await this.admin(['apply', '-n', 'default', '-f', path.join(repoRoot, 'test/demo/seed-002-svc.yaml')]);
    await this.applyObject(
      'slice-myapp',
      endpointSliceObject({
        service: 'myapp',
        namespace: 'default',
        port: { name: 'http', port: 80, protocol: 'TCP' },
      }),
    );
    await this.proxy.addServiceIP(seedVip, 80);
    this.controllerMetricsPort = await freePort();
    await this.startImplementation(this.opts.impl ?? 'beacon');
    await waitFor('the EXTERNAL-IP of default/myapp', 30_000, async () =>
      (await this.ingress('default', 'myapp')) === seedVip ? true : undefined,
    );
    await this.owner(seedVip, 60_000);
  }

  /** Whose controller and speakers run now. */
  get impl(): 'beacon' | 'metallb' {
    return this.metallb !== undefined ? 'metallb' : 'beacon';
  }

  /**
   * Starts `impl`'s controller and a speaker on every node. With MetalLB that is also the
   * Deployment owning its memberlist Secret and the speaker Pods its speakers find each other by
   * (idempotent: a switch back to MetalLB finds them in place).
   */
  async startImplementation(impl: 'beacon' | 'metallb'): Promise<void> {
    if (impl === 'metallb') await this.startMetalLB();
    else
      this.beaconControllerPid = this.lab.spawnRoot(
        process.execPath,
        [
          controllerMain,
          '--kubeconfig',
          path.join(this.dir, 'controller.kubeconfig'),
          '--metrics-host',
          '127.0.0.1',
          '--metrics-port',
          String(this.controllerMetricsPort),
        ],
        'controller.log',
      );
    for (const node of nodeHosts) this.startSpeaker(node);
  }

  /**
   * Stops the speakers and the controller that run now with SIGTERM, as deleting a DaemonSet
   * and scaling a Deployment to 0 would, and waits until they have exited. Objects stay.
   */
  async stopImplementation(): Promise<void> {
    await Promise.all([...this.speakers.values()].map((p) => p.stop(10_000).catch(() => undefined)));
    this.speakers.clear();
    if (this.metallb !== undefined) {
      await stopMetalLB(this.metallb.controller, 'SIGTERM');
      this.metallb = undefined;
    }
    const pid = this.beaconControllerPid;
    if (pid !== undefined) {
      process.kill(pid, 'SIGTERM');
      await waitFor('the controller to exit', 15_000, async () => (processAlive(pid) ? undefined : true), 50);
      this.beaconControllerPid = undefined;
    }
  }

  async ingress(ns: string, name: string): Promise<string | undefined> {
    const out = await this.admin([
      'get',
      'service',
      name,
      '-n',
      ns,
      '-o',
      'jsonpath={.status.loadBalancer.ingress[*].ip}',
    ]).catch(() => '');
    return out.trim() || undefined;
  }

  /**
   * MetalLB's controller (it creates the memberlist Secret, owned by a Deployment that never
   * runs), the key its speakers read from a file, and a speaker Pod per node whose pod IP is the
   * node's address: MetalLB's speakers list those to join each other's memberlist.
   */
  private async startMetalLB(): Promise<void> {
    const env = this.env!;
    const adminConfig = path.join(this.dir, 'admin.kubeconfig');
    writeKubeconfig(env, adminConfig, 'admin');
    await installMetalLBOwner(adminConfig);
    const bin = path.join(await metallbBinaries(), 'speaker');
    const controller = await startMetalLBController(adminConfig);
    const key = await waitFor('the memberlist Secret', 30_000, async () => {
      const out = await this.admin([
        'get',
        'secret',
        'memberlist',
        '-n',
        'metallb-system',
        '-o',
        'jsonpath={.data.secretkey}',
      ]).catch(() => '');
      return out.trim() || undefined;
    });
    const secretDir = path.join(this.dir, 'memberlist');
    fs.mkdirSync(secretDir, { recursive: true });
    fs.writeFileSync(path.join(secretDir, 'secretkey'), Buffer.from(key, 'base64'));
    for (const node of nodeHosts) {
      await this.applyObject(`pod-${node}`, speakerPod(node));
      const ip = hostV4(node);
      const patch = JSON.stringify({ status: { phase: 'Running', podIP: ip, podIPs: [{ ip }], hostIP: ip } });
      await this.admin([
        'patch',
        'pod',
        `speaker-${node}`,
        '-n',
        'metallb-system',
        '--subresource=status',
        '--type=merge',
        '-p',
        patch,
      ]);
    }
    this.metallb = { bin, controller, secretDir };
  }

  startSpeaker(
    node: NodeHost,
    extraArgs: readonly string[] = this.opts.speakerArgs?.[node] ?? [],
  ): LabProcess {
    if (this.metallb !== undefined) {
      const proc = this.lab.spawn(
        node,
        this.metallb.bin,
        [
          ...speakerArgs({
            node,
            bindAddress: hostV4(node),
            secretDir: this.metallb.secretDir,
            metricsPort: speakerMetricsPort,
          }),
          ...extraArgs,
        ],
        {
          logFile: path.join(this.dir, `speaker-${node}-${Date.now()}.log`),
          env: { ...process.env, KUBECONFIG: path.join(this.dir, 'admin.kubeconfig') },
        },
      );
      this.speakers.set(node, proc);
      return proc;
    }
    const proc = this.lab.spawn(
      node,
      process.execPath,
      [
        speakerMain,
        '--kubeconfig',
        path.join(this.dir, 'speaker.kubeconfig'),
        '--node-name',
        node,
        '--metrics-host',
        '127.0.0.1',
        '--metrics-port',
        String(speakerMetricsPort),
        ...extraArgs,
      ],
      { logFile: path.join(this.dir, `speaker-${node}-${Date.now()}.log`) },
    );
    this.speakers.set(node, proc);
    return proc;
  }

  /** Until the speaker has joined membership and passed its listen-only window (300 ms). */
  async speakerReady(node: NodeHost, timeoutMs = 20_000): Promise<void> {
    const proc = this.speakers.get(node);
    if (proc?.logFile === undefined) throw new Error(`no speaker runs on ${node}`);
    const log = proc.logFile;
    if (this.metallb !== undefined) {
      // MetalLB's speaker is ready once it has joined memberlist (or, after a restart under the
      // same name, once its manager runs: the join may then be logged only on a later
      // discovery round); either way give gossip a second to spread.
      await waitFor(
        `MetalLB's speaker on ${node} to start`,
        timeoutMs,
        async () =>
          /memberlist join successfully|partial join|Starting Manager/.test(fs.readFileSync(log, 'utf8'))
            ? true
            : undefined,
        50,
      );
      await sleep(1000);
      return;
    }
    await waitFor(
      `the speaker on ${node} to start membership`,
      timeoutMs,
      async () => (fs.readFileSync(log, 'utf8').includes('"membership started"') ? true : undefined),
      50,
    );
    await sleep(600);
  }

  /** Signals the speaker on `node` and waits until it has exited. */
  async killSpeaker(node: NodeHost, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const proc = this.speakers.get(node);
    if (proc === undefined) return;
    process.kill(proc.pid, signal);
    await proc.exited;
    this.speakers.delete(node);
  }

  /** ARP requests from the client for `ip`: the distinct MACs that answered. */
  async arpAnswers(ip: string, count = 3): Promise<ArpAnswer[]> {
    const res = await this.lab.exec(
      'client',
      'arping',
      ['-c', String(count), '-w', String(count + 1), '-I', 'eth0', ip],
      {
        check: false,
        timeoutMs: (count + 4) * 1000,
      },
    );
    return parseArping(res.stdout);
  }

  /** Waits until exactly one lab node answers ARP for `ip` and returns it. */
  owner(ip: string, timeoutMs: number): Promise<NodeHost> {
    return waitFor(`exactly one node answering ARP for ${ip}`, timeoutMs, async () => {
      const answers = await this.arpAnswers(ip, 2);
      return answers.length === 1 ? answers[0]?.node : undefined;
    });
  }

  /** The ServiceL2Status objects of a Service: which node says it announces it. */
  async statusNodes(service: string, namespace = 'default'): Promise<string[]> {
    const out = await this.admin([
      'get',
      'servicel2statuses.metallb.io',
      '-n',
      'metallb-system',
      '-l',
      `metallb.io/service-name=${service},metallb.io/service-namespace=${namespace}`,
      '-o',
      'jsonpath={.items[*].status.node}',
    ]);
    return out
      .trim()
      .split(/\s+/)
      .filter((s) => s !== '');
  }

  /** Unplugs a host from the segment: its bridge port (named after it, in `lan`) goes down. */
  unplug(host: LabHost): Promise<void> {
    return this.lab.unplug(host);
  }

  plug(host: LabHost): Promise<void> {
    return this.lab.plug(host);
  }

  macOf(node: NodeHost): string {
    return hostMac(node);
  }

  /** Stops everything: speakers, controller, the lab, the control plane, the directory. */
  async down(opts: { keepDir?: boolean } = {}): Promise<string[]> {
    for (const p of this.speakers.values()) await p.stop(3000).catch(() => undefined);
    this.speakers.clear();
    if (this.metallb !== undefined) await stopMetalLB(this.metallb.controller, 'SIGTERM');
    await this.proxy.stop().catch(() => undefined);
    await this.lab.down();
    await stopTestEnv(this.stateFile);
    const left = this.lab.leftovers();
    if (this.env)
      for (const pid of [this.env.supervisorPid, this.env.pids.apiserver, this.env.pids.etcd])
        if (processAlive(pid)) left.push(`control-plane pid ${pid}`);
    if (!opts.keepDir) fs.rmSync(this.dir, { recursive: true, force: true });
    return left;
  }
}

/** p-th percentile (nearest rank) of `values`; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] ?? Number.NaN;
}
