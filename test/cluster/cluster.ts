// A real Kubernetes cluster on one machine, for running Beacon as Pods: the network lab
// (test/e2e/lab.ts: a LAN segment, three nodes, a router and a client, each in its own network
// namespace), the test control plane (kube-apiserver + etcd) with kube-controller-manager and
// kube-scheduler, and on each node containerd, kubelet and kube-proxy (node.sh). Every binary
// comes from the pinned Go modules (test/env/build-control-plane.sh) or from Debian
// (containerd, runc, containernetworking-plugins); images are imported, never pulled.
//
// Addressing, on top of the lab's:
//   10.77.0.2        on the LAN bridge: a relay to the API server, which is the `kubernetes`
//                    Service's endpoint (Pods reach 10.96.0.1:443 through kube-proxy)
//   10.244.<n>.0/24  Pod subnet of node n (bridge cni0 + host-local), routed via node n's IP
//   10.96.0.0/16     Service ClusterIPs
// The root namespace only runs the control plane on 127.0.0.1; kubelets and kube-proxies reach
// it at 127.0.0.1 inside their namespace through the lab's relay (unix sockets).
//
// Nothing outside the lab changes: the per-node cgroups (/<prefix><node> in every cgroup v1
// hierarchy) are emptied and removed on teardown, every mount is made in a node's private mount
// namespace, and host sysctls are shadowed there, not written.

import { execFile, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { ControlPlane, repoRoot, writeKubeconfig } from '../env/control-plane.js';
import { Lab, hostV4, nodeHosts, processAlive, type LabProcess, type NodeHost } from '../e2e/lab.js';
import { relayRootEndpoint, targetFromUrl, type Relay } from '../e2e/relay.js';

const run = promisify(execFile);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export const clusterNet = {
  apiVip: '10.77.0.2',
  serviceCidr: '10.96.0.0/16',
  kubernetesServiceIp: '10.96.0.1',
  podCidr: '10.244.0.0/16',
} as const;
const cgroupControllers = [
  'cpu',
  'cpuacct',
  'cpuset',
  'memory',
  'devices',
  'freezer',
  'blkio',
  'pids',
  'systemd',
];
/** Where the node's cgroups appear: the v1 hierarchies, and the v2 one, where runc adds its own. */
const cgroupHierarchies = [...cgroupControllers, 'unified'];
const pauseImage = 'registry.k8s.io/pause:3.10';

export function podSubnet(node: NodeHost): string {
  return `10.244.${nodeHosts.indexOf(node) + 1}.0/24`;
}

/** The binaries: the control plane's and the node components', built from the pinned modules. */
export async function clusterBinaries(): Promise<string> {
  const script = path.join(repoRoot, 'test/env/build-control-plane.sh');
  const { stdout } = await run(script, ['--with-nodes'], { maxBuffer: 1 << 20, timeout: 2 * 60 * 60 * 1000 });
  const dir = stdout.trim().split('\n').pop() ?? '';
  for (const bin of ['kubelet', 'kube-proxy', 'kube-controller-manager', 'kube-scheduler'])
    if (!fs.existsSync(path.join(dir, bin))) throw new Error(`the build did not produce ${bin} in ${dir}`);
  return dir;
}

export async function helmBinary(): Promise<string> {
  const { stdout } = await run(path.join(repoRoot, 'test/env/build-helm.sh'), [], { maxBuffer: 1 << 20 });
  return stdout.trim().split('\n').pop() ?? '';
}

/** Beacon's image (image/build.sh) and the lab's pause and app images: OCI archives. */
export async function imageArchives(): Promise<string[]> {
  const opts = { maxBuffer: 1 << 20, timeout: 60 * 60 * 1000 };
  const beacon =
    (await run(path.join(repoRoot, 'image/build.sh'), [], opts)).stdout.trim().split('\n').pop() ?? '';
  const dir = (await run(path.join(repoRoot, 'test/cluster/build-images.sh'), [], opts)).stdout
    .trim()
    .split('\n')
    .pop();
  return [beacon, path.join(dir ?? '', 'pause.oci.tar'), path.join(dir ?? '', 'myapp.oci.tar')];
}

export interface ClusterOptions {
  /** Prefix of the lab's namespaces and of the node cgroups; default $LAB_PREFIX or `bcn-`. */
  prefix?: string;
  /** A guardian tears the lab's namespaces down if this process dies (tests). */
  guard?: boolean;
  log?: (line: string) => void;
  /** kube-proxy's mode; default $BEACON_KUBE_PROXY_MODE or iptables. */
  proxyMode?: ProxyMode;
}

export const proxyModes = ['iptables', 'nftables', 'ipvs'] as const;
export type ProxyMode = (typeof proxyModes)[number];

export function proxyModeFromEnv(): ProxyMode {
  const mode = process.env.BEACON_KUBE_PROXY_MODE ?? 'iptables';
  const known = proxyModes.find((m) => m === mode);
  if (known === undefined)
    throw new Error(`BEACON_KUBE_PROXY_MODE="${mode}": use one of ${proxyModes.join(', ')}`);
  return known;
}

/**
 * Why kube-proxy cannot run in IPVS mode on this machine, or undefined when it can. The kernel
 * creates /proc/net/ip_vs in every network namespace once IPVS is in it (built in, or the
 * ip_vs module loaded); loading a module would change the host's kernel, which the lab never
 * does, so a missing ip_vs is a reason to skip, not something to fix.
 */
export function ipvsUnavailable(): string | undefined {
  if (fs.existsSync('/proc/net/ip_vs')) return undefined;
  let config = '';
  try {
    config = zlib.gunzipSync(fs.readFileSync('/proc/config.gz')).toString('utf8');
  } catch {
    /* no kernel configuration exposed */
  }
  const setting = (name: string): string =>
    new RegExp(`^${name}=(\\w+)$`, 'm').exec(config)?.[1] ??
    (config.includes(`# ${name} is not set`) ? 'not set' : 'unknown');
  return (
    `the kernel has no IPVS: /proc/net/ip_vs does not exist` +
    (config
      ? ` (CONFIG_IP_VS ${setting('CONFIG_IP_VS')}, CONFIG_MODULES ${setting('CONFIG_MODULES')} in /proc/config.gz)`
      : '')
  );
}

interface NodeRun {
  node: NodeHost;
  dir: string;
  proc: LabProcess;
}

export class Cluster {
  readonly lab: Lab;
  readonly kubeconfig: string;
  private cp: ControlPlane | undefined;
  private relay: Relay | undefined;
  private readonly nodes: NodeRun[] = [];
  private readonly rootPids: number[] = [];
  private bins = '';
  private helmBin = '';
  private readonly log: (line: string) => void;
  readonly proxyMode: ProxyMode;

  private constructor(opts: ClusterOptions) {
    this.proxyMode = opts.proxyMode ?? proxyModeFromEnv();
    this.lab = new Lab(opts.prefix === undefined ? {} : { prefix: opts.prefix });
    this.kubeconfig = path.join(this.lab.dir, 'kubeconfig');
    this.log = opts.log ?? (() => undefined);
  }

  static async up(opts: ClusterOptions = {}): Promise<Cluster> {
    const c = new Cluster(opts);
    cleanCgroups(c.lab.prefix); // a previous run's, if it died
    try {
      await c.start(opts);
    } catch (err) {
      await c.down();
      throw err;
    }
    return c;
  }

  private async start(opts: ClusterOptions): Promise<void> {
    const [bins, helm, images] = await Promise.all([clusterBinaries(), helmBinary(), imageArchives()]);
    this.bins = bins;
    this.helmBin = helm;
    await this.lab.up(opts.guard ? { guard: true } : {});
    await this.lab.exec('lan', 'ip', ['addr', 'add', `${clusterNet.apiVip}/24`, 'dev', 'br0']);

    this.cp = await ControlPlane.start({
      advertiseAddress: clusterNet.apiVip,
      extraIPs: [clusterNet.kubernetesServiceIp, clusterNet.apiVip],
      serviceAccounts: true,
      logDir: path.join(this.lab.dir, 'logs'),
      extraArgs: ['--kubelet-preferred-address-types=InternalIP,Hostname'],
    });
    writeKubeconfig(this.cp.state, this.kubeconfig);
    this.log(`control plane at ${this.cp.state.server}`);
    const target = targetFromUrl(this.cp.state.server);
    this.relay = await relayRootEndpoint(this.lab, target);
    // Pods reach the API server through the `kubernetes` Service, whose endpoint is the
    // advertised address: a relay listening there, on the LAN bridge.
    this.lab.spawn('lan', 'socat', [
      `TCP4-LISTEN:${target.port},bind=${clusterNet.apiVip},reuseaddr,fork`,
      `UNIX-CONNECT:${this.relay.socket}`,
    ]);

    const logs = path.join(this.lab.dir, 'logs');
    this.rootPids.push(
      this.lab.spawnRoot(
        path.join(bins, 'kube-controller-manager'),
        [
          `--kubeconfig=${this.kubeconfig}`,
          '--leader-elect=false',
          '--secure-port=0',
          '--use-service-account-credentials=false',
          `--root-ca-file=${this.cp.state.caFile}`,
          `--service-account-private-key-file=${path.join(this.cp.state.dir, 'sa.key')}`,
          `--cluster-cidr=${clusterNet.podCidr}`,
          `--service-cluster-ip-range=${clusterNet.serviceCidr}`,
          '--controllers=*',
          '--node-monitor-grace-period=20s',
        ],
        'kube-controller-manager.log',
      ),
      this.lab.spawnRoot(
        path.join(bins, 'kube-scheduler'),
        [`--kubeconfig=${this.kubeconfig}`, '--leader-elect=false', '--secure-port=0'],
        'kube-scheduler.log',
      ),
    );
    void logs;

    await Promise.all(nodeHosts.map((n) => this.startNode(n, images)));
    await this.waitFor('three Ready nodes', 180_000, async () => {
      const out = await this.kubectl([
        'get',
        'nodes',
        '-o',
        'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}',
      ]);
      return out.split('\n').filter((s) => s === 'True').length === nodeHosts.length;
    });
    // Pods need their namespace's ServiceAccount (the serviceaccount controller makes it).
    await this.waitFor('ServiceAccount default/default', 60_000, async () => {
      await this.kubectl(['get', 'serviceaccount', 'default', '-n', 'default']);
      return true;
    });
  }

  private async startNode(node: NodeHost, images: string[]): Promise<void> {
    const dir = path.join(this.lab.dir, 'nodes', node);
    fs.mkdirSync(path.join(dir, 'images'), { recursive: true });
    for (const img of images) fs.symlinkSync(img, path.join(dir, 'images', path.basename(img)));
    const cgroup = `${this.lab.prefix}${node}`;
    makeCgroup(cgroup);
    const ip = hostV4(node);
    fs.writeFileSync(
      path.join(dir, 'env'),
      `NODE=${node}\nNODE_IP=${ip}\nBINS=${this.bins}\nCGROUP=${cgroup}\n`,
    );
    writeKubeconfig(this.cp!.state, path.join(dir, 'kubeconfig'));
    fs.writeFileSync(path.join(dir, 'containerd.toml'), containerdConfig(dir));
    fs.mkdirSync(path.join(dir, 'cni'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'cni', '10-beacon-lab.conflist'), cniConfig(dir, node));
    fs.writeFileSync(path.join(dir, 'kubelet.yaml'), kubeletConfig(dir, ip, cgroup));
    fs.writeFileSync(path.join(dir, 'kube-proxy.yaml'), kubeProxyConfig(dir, node, this.proxyMode));
    // Routes to the other nodes' Pod subnets, and one for Service IPs: a connection from the
    // node itself (a hostNetwork Pod: the speaker) needs a route before kube-proxy's OUTPUT
    // rules translate the address (the lab's nodes have no default route).
    for (const other of nodeHosts)
      if (other !== node)
        await this.lab.exec(node, 'ip', ['route', 'add', podSubnet(other), 'via', hostV4(other)]);
    await this.lab.exec(node, 'ip', ['route', 'add', clusterNet.serviceCidr, 'dev', 'eth0', 'src', ip]);
    const proc = this.lab.spawn(
      node,
      'unshare',
      ['--uts', path.join(repoRoot, 'test/cluster/node.sh'), dir],
      {
        logFile: path.join(dir, 'node.log'),
      },
    );
    this.nodes.push({ node, dir, proc });
    await this.waitFor(`${node}: images imported`, 300_000, async () => {
      if (proc.child.exitCode !== null)
        throw new Error(`${node} stopped: ${tail(path.join(dir, 'node.log'))}`);
      return fs.existsSync(path.join(dir, 'images-imported'));
    });
    this.log(`${node}: containerd up, images imported`);
  }

  /** Polls `check` every 500 ms until it returns true; rethrows nothing but the timeout. */
  async waitFor(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
    const start = Date.now();
    let last = '';
    for (;;) {
      try {
        if (await check()) return;
      } catch (err) {
        last = (err as Error).message;
        if (/stopped:/.test(last)) throw err;
      }
      if (Date.now() - start > timeoutMs) throw new Error(`${what}: not after ${timeoutMs} ms ${last}`);
      await sleep(500);
    }
  }

  async kubectl(args: string[], input?: string): Promise<string> {
    return runWithInput(path.join(this.bins, 'kubectl'), [`--kubeconfig=${this.kubeconfig}`, ...args], input);
  }

  async helm(args: string[]): Promise<string> {
    return runWithInput(this.helmBin, [`--kubeconfig=${this.kubeconfig}`, ...args]);
  }

  /** Resident memory of the cluster's processes (control plane, node daemons, Pods), in MiB. */
  memoryMiB(): number {
    let kb = 0;
    const pids = new Set<number>([...this.rootPids, ...(this.cp ? Object.values(this.cp.state.pids) : [])]);
    for (const n of this.nodes) for (const pid of cgroupPids(`${this.lab.prefix}${n.node}`)) pids.add(pid);
    for (const pid of pids) {
      try {
        const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
        kb += Number(m?.[1] ?? 0);
      } catch {
        /* gone */
      }
    }
    return Math.round(kb / 1024);
  }

  /** Tears everything down: nodes (and their Pods), control plane, lab. Safe to call twice. */
  async down(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.proc.stop(15_000)));
    this.nodes.length = 0;
    cleanCgroups(this.lab.prefix);
    await this.cp?.stop();
    this.cp = undefined;
    await this.lab.down();
  }

  /** What a teardown left behind (namespaces, processes, cgroups, mounts), for tests. */
  leftovers(): string[] {
    const found = this.lab.leftovers();
    for (const c of cgroupHierarchies)
      for (const node of nodeHosts)
        if (fs.existsSync(`/sys/fs/cgroup/${c}/${this.lab.prefix}${node}`))
          found.push(`cgroup ${c}/${this.lab.prefix}${node}`);
    const mounts = fs.readFileSync('/proc/self/mountinfo', 'utf8');
    if (mounts.includes(this.lab.dir)) found.push(`mounts under ${this.lab.dir}`);
    return found;
  }
}

async function runWithInput(bin: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = execFile(
      bin,
      args,
      { maxBuffer: 64 << 20, timeout: 600_000 },
      (err, stdout, stderr) => {
        if (err)
          reject(new Error(`${path.basename(bin)} ${args.slice(1).join(' ')}: ${stderr || err.message}`));
        else resolve(stdout);
      },
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

function tail(file: string, lines = 20): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

// --- cgroups ------------------------------------------------------------------------------

function makeCgroup(name: string): void {
  for (const c of cgroupControllers) {
    const dir = `/sys/fs/cgroup/${c}/${name}`;
    fs.mkdirSync(dir, { recursive: true });
    if (c === 'cpuset')
      for (const f of ['cpuset.cpus', 'cpuset.mems'])
        fs.writeFileSync(path.join(dir, f), fs.readFileSync(`/sys/fs/cgroup/cpuset/${f}`));
  }
}

function cgroupDirs(root: string): string[] {
  if (!fs.existsSync(root)) return [];
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }))
      if (e.isDirectory()) walk(path.join(d, e.name));
    out.push(d); // children first
  };
  walk(root);
  return out;
}

function cgroupPids(name: string): number[] {
  const pids: number[] = [];
  for (const d of cgroupDirs(`/sys/fs/cgroup/pids/${name}`)) {
    try {
      for (const l of fs.readFileSync(path.join(d, 'cgroup.procs'), 'utf8').split('\n'))
        if (l) pids.push(Number(l));
    } catch {
      /* removed meanwhile */
    }
  }
  return pids;
}

/** Kills every process left in the cgroups of this prefix's nodes, then removes the cgroups. */
export function cleanCgroups(prefix: string): void {
  const names = nodeHosts.map((n) => `${prefix}${n}`);
  for (let round = 0; round < 100; round++) {
    const pids = names.flatMap(cgroupPids).filter(processAlive);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
  }
  for (const c of cgroupHierarchies)
    for (const name of names)
      for (const d of cgroupDirs(`/sys/fs/cgroup/${c}/${name}`)) {
        for (let i = 0; i < 50; i++) {
          try {
            fs.rmdirSync(d);
            break;
          } catch {
            Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20); // zombies being reaped
          }
        }
      }
}

// --- Configuration files ------------------------------------------------------------------

function containerdConfig(dir: string): string {
  return `version = 2
root = "${dir}/containerd/root"
state = "${dir}/containerd/state"
[grpc]
  address = "${dir}/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${pauseImage}"
  # runc cannot write a negative oom_score_adj without CAP_SYS_RESOURCE.
  restrict_oom_score_adj = true
  disable_apparmor = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "${dir}/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${dir}/cni"
`;
}

function cniConfig(dir: string, node: NodeHost): string {
  return JSON.stringify(
    {
      cniVersion: '0.4.0',
      name: 'beacon-lab',
      plugins: [
        {
          type: 'bridge',
          bridge: 'cni0',
          isGateway: true,
          // Pod traffic to the LAN (the API server relay) leaves with the node's address.
          ipMasq: true,
          hairpinMode: true,
          ipam: {
            type: 'host-local',
            ranges: [[{ subnet: podSubnet(node) }]],
            routes: [{ dst: '0.0.0.0/0' }],
            dataDir: path.join(dir, 'cni-ipam'),
          },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  );
}

function kubeletConfig(dir: string, ip: string, cgroup: string): string {
  return JSON.stringify(
    {
      apiVersion: 'kubelet.config.k8s.io/v1beta1',
      kind: 'KubeletConfiguration',
      address: ip,
      readOnlyPort: 0,
      healthzBindAddress: '127.0.0.1',
      authentication: { anonymous: { enabled: true }, webhook: { enabled: false } },
      authorization: { mode: 'AlwaysAllow' },
      cgroupDriver: 'cgroupfs',
      cgroupRoot: `/${cgroup}`,
      failCgroupV1: false,
      failSwapOn: false,
      podLogsDir: path.join(dir, 'pod-logs'),
      evictionHard: {
        'memory.available': '1%',
        'nodefs.available': '1%',
        'imagefs.available': '1%',
        'nodefs.inodesFree': '1%',
      },
      // Image GC off: the images are imported, nothing could pull them back.
      imageGCHighThresholdPercent: 100,
      imageGCLowThresholdPercent: 99,
      serializeImagePulls: false,
      maxPods: 30,
      resolvConf: '/etc/resolv.conf',
      clusterDomain: 'cluster.local',
      protectKernelDefaults: false,
      nodeStatusUpdateFrequency: '4s',
      shutdownGracePeriod: '0s',
    },
    null,
    2,
  );
}

function kubeProxyConfig(dir: string, node: NodeHost, mode: ProxyMode): string {
  return JSON.stringify(
    {
      apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
      kind: 'KubeProxyConfiguration',
      clientConnection: { kubeconfig: path.join(dir, 'kubeconfig') },
      hostnameOverride: node,
      mode,
      // IPVS binds every Service IP to the kube-ipvs0 dummy interface, so without strictARP
      // (arp_ignore=1, arp_announce=2) each node's kernel would answer ARP for the LoadBalancer
      // IPs too: MetalLB requires it (https://metallb.universe.tf/installation/#preparation).
      ...(mode === 'ipvs' ? { ipvs: { strictARP: true } } : {}),
      clusterCIDR: clusterNet.podCidr,
      healthzBindAddress: '127.0.0.1:10256',
      metricsBindAddress: '127.0.0.1:10249',
      // Zeros: kube-proxy then writes no host-wide conntrack sysctl.
      conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
    },
    null,
    2,
  );
}
