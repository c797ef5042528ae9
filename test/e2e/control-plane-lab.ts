// The control-plane VIP lab: three control-plane nodes on one segment (lab.ts), each running a
// real kube-apiserver on :6443 over one shared etcd (in the router's namespace, reached over the
// segment like an external etcd cluster) and `beacon-speaker control-plane` serving the VIP;
// the client runs requests to https://VIP:6443 and kubectl. The serving certificate names the
// VIP, so clients verify it as they would in a kubeadm cluster with --control-plane-endpoint.
// Used by control-plane-vip.test.ts and `make demo-control-plane`.

import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { controlPlaneBinaries, makeCertificates, repoRoot } from '../env/control-plane.js';
import { hostV4, Lab, labNet, nodeHosts, type LabProcess, type NodeHost } from './lab.js';
import { birdFiles, startBird } from '../demo/bgp.js';
import { parseArping, type ArpAnswer } from '../demo/probes.js';
import { sleep, waitFor } from './l2-cluster.js';

export const cpVip = '10.77.0.50';
/** BGP mode's VIP: in the range the client routes via the router (lab.ts labNet.bgpRangeV4). */
export const cpBgpVip = '10.77.100.50';
export const cpPort = 6443;
const etcdUrl = `http://${hostV4('router')}:2379`;
const speakerMain = path.join(repoRoot, 'dist/speaker/main.js');
const requestLoopMain = path.join(repoRoot, 'dist/test/e2e/fixtures/cpv-request-loop.js');
export const adminToken = 'cpv-admin-token';

// The lab's waiting helpers are the layer 2 lab's (one copy); re-exported for the
// control-plane tests, demo and bench that import them from here.
export { sleep, waitFor };

/** One request of the client's loop. */
export interface Request {
  readonly at: number;
  readonly ok: boolean;
  readonly why?: string;
}

/** The client's request loop (fixtures/cpv-request-loop.ts). */
export class RequestLoop {
  readonly requests: Request[] = [];
  private partial = '';

  constructor(private readonly proc: LabProcess) {
    proc.child.stdout?.on('data', (chunk: Buffer) => {
      const lines = (this.partial + chunk.toString('utf8')).split('\n');
      this.partial = lines.pop() ?? '';
      for (const line of lines) {
        const m = /^(ok|fail) (\d+\.\d+)(?: (.*))?$/.exec(line);
        if (m?.[1] && m[2])
          this.requests.push({ at: Number(m[2]), ok: m[1] === 'ok', ...(m[3] ? { why: m[3] } : {}) });
      }
    });
  }

  /**
   * The client-visible outage in [from, to]: from the first failed request to the first
   * successful one after the last failure (by start time), and how many requests failed.
   */
  outage(from: number, to: number): { outageMs: number; failed: number; total: number } {
    const inside = this.requests.filter((r) => r.at >= from && r.at <= to).sort((a, b) => a.at - b.at);
    const failures = inside.filter((r) => !r.ok);
    if (failures.length === 0) return { outageMs: 0, failed: 0, total: inside.length };
    const first = failures[0]!.at;
    const last = failures[failures.length - 1]!.at;
    const recovered = inside.find((r) => r.ok && r.at > last)?.at ?? to;
    return { outageMs: recovered - first, failed: failures.length, total: inside.length };
  }

  stop(): Promise<void> {
    return this.proc.stop();
  }
}

/**
 * What the client's wire says about who answers the VIP: a capture of every ARP frame on the
 * client's eth0 (tcpdump, kernel timestamps), while an arping asks for the VIP every second.
 * Each reply is paired with the latest request for the VIP before it, so a request answered by
 * two MACs is seen as such whoever sent it (arping, the client kernel, the probes of owner()).
 */
export class ArpWatch {
  private readonly rounds: { at: number; macs: Set<string> }[] = [];
  private partial = '';
  /** Answers to requests for the VIP, and gratuitous ARP replies (take-overs announcing). */
  answers = 0;
  gratuitous = 0;
  /** Gratuitous replies (take-overs announcing) with when they were seen (epoch ms) and who sent them. */
  readonly takeOvers: { at: number; mac: string }[] = [];

  constructor(
    private readonly capture: LabProcess,
    private readonly asker: LabProcess,
  ) {
    capture.child.stdout?.on('data', (chunk: Buffer) => {
      const lines = (this.partial + chunk.toString('utf8')).split('\n');
      this.partial = lines.pop() ?? '';
      for (const line of lines) this.onLine(line);
    });
  }

  private onLine(line: string): void {
    const at = Number(/^(\d+\.\d+) /.exec(line)?.[1] ?? NaN) * 1000;
    if (line.includes(`Request who-has ${cpVip} `)) {
      this.rounds.push({ at, macs: new Set() });
      return;
    }
    const reply = new RegExp(`Reply ${cpVip.replaceAll('.', '\\.')} is-at ([0-9a-f:]{17})`).exec(line);
    if (!reply?.[1]) return;
    if (line.includes('> ff:ff:ff:ff:ff:ff')) {
      this.gratuitous++;
      this.takeOvers.push({ at, mac: reply[1] });
      return;
    }
    this.answers++;
    this.rounds[this.rounds.length - 1]?.macs.add(reply[1]);
  }

  /** Requests for the VIP that two different MACs answered (since `from`, epoch ms). */
  doubleAnswers(from = 0): { at: number; macs: string[] }[] {
    return this.rounds
      .filter((r) => r.at >= from && r.macs.size > 1)
      .map((r) => ({ at: r.at, macs: [...r.macs].sort() }));
  }

  /** Requests for the VIP seen on the wire. */
  get requests(): number {
    return this.rounds.length;
  }

  async stop(): Promise<void> {
    await this.asker.stop();
    await this.capture.stop();
  }
}

export class ControlPlaneLab {
  readonly lab: Lab;
  private bins = '';
  private certDir = '';
  readonly apiservers = new Map<NodeHost, LabProcess>();
  readonly speakers = new Map<NodeHost, LabProcess>();
  private etcd: LabProcess | undefined;
  kubeconfig = '';
  readonly mode: 'l2' | 'bgp' | 'keepalived';
  /** The VIP the speakers serve and the client uses. */
  readonly vip: string;

  /** bgp: BIRD on the router peers with the three nodes (iBGP, BFD 100 ms × 3), ECMP to the VIP. */
  /**
   * keepalived: the seed's keepalived + HAProxy instead of Beacon, on the control-plane nodes
   * themselves (HAProxy on VIP:6443, the API servers on their node address): the baseline.
   */
  constructor(prefix: string, opts: { mode?: 'l2' | 'bgp' | 'keepalived' } = {}) {
    this.lab = new Lab({ prefix });
    this.mode = opts.mode ?? 'l2';
    this.vip = this.mode === 'bgp' ? cpBgpVip : cpVip;
  }

  get caFile(): string {
    return path.join(this.certDir, 'ca.crt');
  }

  /** The lab, etcd, three API servers and three speakers; resolves once one node answers the VIP. */
  async up(opts: { guard?: boolean; speakerArgs?: readonly string[] } = {}): Promise<void> {
    this.bins = await controlPlaneBinaries();
    await this.lab.up({ guard: opts.guard ?? true });
    this.certDir = path.join(this.lab.dir, 'pki');
    fs.mkdirSync(this.certDir, { recursive: true });
    await makeCertificates(this.certDir, [cpVip, cpBgpVip, '127.0.0.1', ...nodeHosts.map(hostV4)]);
    fs.writeFileSync(path.join(this.certDir, 'tokens.csv'), `${adminToken},admin,1,"system:masters"\n`);
    fs.writeFileSync(path.join(this.certDir, 'membership.key'), crypto.randomBytes(32));
    this.kubeconfig = path.join(this.lab.dir, 'client.kubeconfig');
    fs.writeFileSync(this.kubeconfig, kubeconfig(this.caFile, this.vip));

    this.etcd = this.lab.spawn('router', path.join(this.bins, 'etcd'), [
      `--data-dir=${path.join(this.lab.dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      '--listen-peer-urls=http://127.0.0.1:2380',
      '--initial-advertise-peer-urls=http://127.0.0.1:2380',
      '--initial-cluster=default=http://127.0.0.1:2380',
      '--unsafe-no-fsync',
      '--log-level=warn',
    ]);
    await waitFor('etcd', 60_000, async () =>
      (
        await this.lab.exec('client', 'curl', ['-sf', '--max-time', '1', `${etcdUrl}/health`], {
          check: false,
        })
      ).code === 0
        ? true
        : undefined,
    );
    for (const node of nodeHosts) this.startApiServer(node);
    await Promise.all(nodeHosts.map((n) => this.waitApiServer(n, 180_000)));
    if (this.mode === 'bgp')
      await startBird(this.lab, birdFiles(this.lab.dir), { intervalMs: 100, multiplier: 3 });
    if (this.mode === 'keepalived') for (const node of nodeHosts) await this.startKeepalived(node);
    else for (const node of nodeHosts) this.startSpeaker(node, opts.speakerArgs ?? []);
    if (this.mode === 'bgp') await this.nexthops(3, 60_000);
    else await this.owner(60_000);
    // Node objects, so that `kubectl get nodes` through the VIP shows the three of them.
    const nodes = path.join(this.lab.dir, 'nodes.yaml');
    fs.writeFileSync(
      nodes,
      nodeHosts
        .map(
          (n) =>
            `apiVersion: v1\nkind: Node\nmetadata:\n  name: ${n}\n  labels: {node-role.kubernetes.io/control-plane: ""}\n`,
        )
        .join('---\n'),
    );
    await waitFor('Node objects created through the VIP', 60_000, async () =>
      (await this.kubectl(['apply', '-f', nodes])).code === 0 ? true : undefined,
    );
  }

  startApiServer(node: NodeHost): LabProcess {
    const d = this.certDir;
    const proc = this.lab.spawn(node, path.join(this.bins, 'kube-apiserver'), [
      `--etcd-servers=${etcdUrl}`,
      // keepalived + HAProxy: HAProxy holds VIP:6443, so the API server keeps to its node address.
      `--bind-address=${this.mode === 'keepalived' ? hostV4(node) : '0.0.0.0'}`,
      `--advertise-address=${hostV4(node)}`,
      `--secure-port=${cpPort}`,
      `--cert-dir=${path.join(this.lab.dir, `cert-${node}`)}`,
      `--tls-cert-file=${path.join(d, 'serving.crt')}`,
      `--tls-private-key-file=${path.join(d, 'serving.key')}`,
      `--token-auth-file=${path.join(d, 'tokens.csv')}`,
      '--authorization-mode=RBAC',
      `--service-account-issuer=https://${this.vip}:${cpPort}`,
      `--service-account-key-file=${path.join(d, 'sa.pub')}`,
      `--service-account-signing-key-file=${path.join(d, 'sa.key')}`,
      '--service-cluster-ip-range=10.96.0.0/16',
      '--disable-admission-plugins=ServiceAccount',
      '--allow-privileged=true',
      '--v=0',
    ]);
    this.apiservers.set(node, proc);
    return proc;
  }

  async waitApiServer(node: NodeHost, timeoutMs: number): Promise<void> {
    await waitFor(
      `kube-apiserver on ${node}`,
      timeoutMs,
      async () => {
        const r = await this.lab.exec(
          node,
          'curl',
          [
            '-s',
            '-o',
            '/dev/null',
            '-w',
            '%{http_code}',
            '--max-time',
            '2',
            '--cacert',
            this.caFile,
            // keepalived + HAProxy: the API server listens on its node address only.
            `https://${this.mode === 'keepalived' ? hostV4(node) : '127.0.0.1'}:${cpPort}/readyz`,
          ],
          { check: false },
        );
        return r.stdout.trim() === '200' ? true : undefined;
      },
      500,
    );
  }

  startSpeaker(node: NodeHost, extra: readonly string[] = []): LabProcess {
    const peers = nodeHosts.map((n) => `${n}=${hostV4(n)}`).join(',');
    const proc = this.lab.spawn(node, process.execPath, [
      speakerMain,
      'control-plane',
      `--vip=${this.vip}`,
      '--interface=eth0',
      ...(this.mode === 'bgp'
        ? [
            `--mode=bgp`,
            `--bgp-asn=${labNet.routerAsn}`,
            `--bgp-routers=${hostV4('router')}:${labNet.routerAsn}`,
            '--bgp-bfd=100msx3',
          ]
        : []),
      `--peers=${peers}`,
      `--key-file=${path.join(this.certDir, 'membership.key')}`,
      `--node-name=${node}`,
      ...extra,
    ]);
    this.speakers.set(node, proc);
    return proc;
  }

  /**
   * The seed's HAProxy (round robin over the three API servers, `check inter 10s downinter 5s`)
   * and keepalived (VRRP, priorities 200/150/100, track `killall -0 haproxy` every 2 s), with
   * lab addresses. HAProxy binds the VIP before keepalived gives it to the node: nonlocal bind.
   */
  async startKeepalived(node: NodeHost): Promise<void> {
    const dir = path.join(this.lab.dir, `lb-${node}`);
    fs.mkdirSync(dir, { recursive: true });
    await this.lab.exec(node, 'sysctl', ['-qw', 'net.ipv4.ip_nonlocal_bind=1']);
    const haproxy = path.join(dir, 'haproxy.cfg');
    fs.writeFileSync(
      haproxy,
      [
        'defaults',
        '    timeout connect 5s',
        '    timeout client 50s',
        '    timeout server 50s',
        'frontend k3s-frontend',
        `    bind ${this.vip}:${cpPort}`,
        '    mode tcp',
        '    option tcplog',
        '    default_backend k3s-backend',
        'backend k3s-backend',
        '    mode tcp',
        '    option tcp-check',
        '    balance roundrobin',
        '    default-server inter 10s downinter 5s',
        ...nodeHosts.map((n, i) => `    server server-${i + 1} ${hostV4(n)}:${cpPort} check`),
        '',
      ].join('\n'),
    );
    this.lab.spawn(node, 'haproxy', ['-db', '-f', haproxy]);
    const priority = { node1: 200, node2: 150, node3: 100 }[node];
    const keepalived = path.join(dir, 'keepalived.conf');
    fs.writeFileSync(
      keepalived,
      [
        'global_defs {',
        `    router_id ${node}`,
        '    script_user root',
        '    enable_script_security',
        '}',
        'vrrp_script chk_haproxy {',
        "    script '/usr/bin/killall -0 haproxy'",
        '    interval 2',
        '}',
        'vrrp_instance haproxy-vip {',
        '    interface eth0',
        `    state ${node === 'node1' ? 'MASTER' : 'BACKUP'}`,
        `    priority ${priority}`,
        '    virtual_router_id 51',
        '    virtual_ipaddress {',
        `        ${this.vip}/24`,
        '    }',
        '    track_script {',
        '        chk_haproxy',
        '    }',
        '}',
        '',
      ].join('\n'),
    );
    this.lab.spawn(node, 'keepalived', [
      '--dont-fork',
      '--log-console',
      '--vrrp',
      '-f',
      keepalived,
      '-p',
      path.join(dir, 'keepalived.pid'),
      '-r',
      path.join(dir, 'vrrp.pid'),
    ]);
  }

  /**
   * Cuts `node` off from the other control-plane nodes and the client, at the segment's bridge
   * (nftables in the lab's `lan` namespace): it keeps its carrier and still reaches the router,
   * where etcd runs, so its API server stays ready — a partition in which both sides stay up.
   */
  async isolate(node: NodeHost): Promise<void> {
    const others = ['client', ...nodeHosts.filter((n) => n !== node)].map((n) => `"${n}"`).join(', ');
    await this.lab.exec('lan', 'nft', ['add', 'table', 'bridge', 'cpvcut']);
    await this.lab.exec('lan', 'nft', [
      'add chain bridge cpvcut cut { type filter hook forward priority 0; policy accept; }',
    ]);
    await this.lab.exec('lan', 'nft', [
      `add rule bridge cpvcut cut iifname "${node}" oifname { ${others} } drop`,
    ]);
    await this.lab.exec('lan', 'nft', [
      `add rule bridge cpvcut cut oifname "${node}" iifname { ${others} } drop`,
    ]);
  }

  /** Undoes isolate(). */
  async heal(): Promise<void> {
    await this.lab.exec('lan', 'nft', ['delete', 'table', 'bridge', 'cpvcut'], { check: false });
  }

  /** Which nodes answer ARP for the VIP now (two probes). */
  async arpAnswers(count = 2): Promise<ArpAnswer[]> {
    const res = await this.lab.exec(
      'client',
      'arping',
      ['-c', String(count), '-w', String(count + 1), '-I', 'eth0', cpVip],
      {
        check: false,
        timeoutMs: (count + 4) * 1000,
      },
    );
    return parseArping(res.stdout);
  }

  /** Waits until exactly one node answers ARP for the VIP, optionally not `not`. */
  owner(timeoutMs: number, not?: NodeHost): Promise<NodeHost> {
    return waitFor(
      `exactly one node answering ARP for ${cpVip}${not ? ` other than ${not}` : ''}`,
      timeoutMs,
      async () => {
        const answers = await this.arpAnswers(2);
        const node = answers.length === 1 ? answers[0]?.node : undefined;
        return node !== undefined && node !== not ? node : undefined;
      },
    );
  }

  /** Waits until the router's FIB has exactly `count` next hops for the VIP; returns them. */
  nexthops(count: number, timeoutMs: number): Promise<string[]> {
    return waitFor(`${count} next hops for ${this.vip}/32 in the router's FIB`, timeoutMs, async () => {
      const hops = await this.lab.routeNexthops(`${this.vip}/32`);
      return hops.length === count ? hops : undefined;
    });
  }

  kubectl(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return this.lab.exec(
      'client',
      path.join(this.bins, 'kubectl'),
      ['--kubeconfig', this.kubeconfig, '--request-timeout=5s', ...args],
      {
        check: false,
        timeoutMs: 20_000,
      },
    );
  }

  startRequestLoop(intervalMs = 50, timeoutMs = 1000): RequestLoop {
    const proc = this.lab.spawn(
      'client',
      process.execPath,
      [requestLoopMain, this.vip, String(cpPort), this.caFile, String(intervalMs), String(timeoutMs)],
      { stdio: 'pipe' },
    );
    return new RequestLoop(proc);
  }

  /** Starts the client's capture of ARP and an arping for the VIP every second. */
  async startArpWatch(): Promise<ArpWatch> {
    const capture = this.lab.spawn(
      'client',
      'tcpdump',
      ['--immediate-mode', '-l', '-n', '-e', '-tt', '-i', 'eth0', 'arp'],
      {
        stdio: 'pipe',
      },
    );
    await capture.waitForOutput(/listening on/, 30_000);
    const asker = this.lab.spawn('client', 'arping', ['-I', 'eth0', cpVip]);
    return new ArpWatch(capture, asker);
  }

  async down(): Promise<void> {
    await this.lab.down();
  }
}

function kubeconfig(caFile: string, vip: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- name: vip`,
    `  cluster: {server: "https://${vip}:${cpPort}", certificate-authority: "${caFile}"}`,
    'users:',
    `- name: admin`,
    `  user: {token: "${adminToken}"}`,
    'contexts:',
    '- name: vip',
    '  context: {cluster: vip, user: admin}',
    'current-context: vip',
    '',
  ].join('\n');
}
