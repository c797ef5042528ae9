// A real Kubernetes control plane for tests: etcd and kube-apiserver built from pinned Go
// modules (see build-control-plane.sh), started on free loopback ports with TLS, RBAC and
// token users. Component users carry the identity of the component's ServiceAccount, so the
// RoleBindings in manifests/ decide what they may do: tests prove our RBAC, not admin rights.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));

/** The repository root, whether this file runs from the sources or from dist/. */
export const repoRoot = (() => {
  let dir = here;
  while (!fs.existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
  return dir;
})();

export const kubernetesVersion = 'v1.34.3';
export const beaconNamespace = 'metallb-system';

/** The token users: an admin, and one per Beacon component (its ServiceAccount's identity). */
export const testUsers = {
  admin: { user: 'beacon-admin', groups: ['system:masters'] },
  controller: {
    user: `system:serviceaccount:${beaconNamespace}:controller`,
    groups: ['system:serviceaccounts', `system:serviceaccounts:${beaconNamespace}`],
  },
  speaker: {
    user: `system:serviceaccount:${beaconNamespace}:speaker`,
    groups: ['system:serviceaccounts', `system:serviceaccounts:${beaconNamespace}`],
  },
} as const;
export type TestUser = keyof typeof testUsers;

export interface ControlPlaneOptions {
  /** Address the API server listens on (and advertises); default 127.0.0.1. */
  bindAddress?: string;
  /** Extra IP SANs for the serving certificate. */
  extraIPs?: string[];
  /** Where the API server's and etcd's output goes; default a log file in the data dir. */
  logDir?: string;
  onLog?: (line: string) => void;
  /** Address the API server advertises (the `kubernetes` Service's endpoint); default bindAddress. */
  advertiseAddress?: string;
  /** Run the ServiceAccount admission plugin (Pods get tokens), as a cluster with kubelets needs. */
  serviceAccounts?: boolean;
  /** More kube-apiserver flags. */
  extraArgs?: string[];
}

export interface ControlPlaneState {
  dir: string;
  server: string;
  caFile: string;
  tokens: Record<TestUser, string>;
  pids: { etcd: number; apiserver: number };
}

/** Builds (first time) or finds the cached control-plane binaries. */
export async function controlPlaneBinaries(): Promise<string> {
  const script = path.join(repoRoot, 'test/env/build-control-plane.sh');
  const { stdout } = await run(script, [], { maxBuffer: 1 << 20, timeout: 60 * 60 * 1000 });
  const dir = stdout.trim().split('\n').pop() ?? '';
  for (const bin of ['etcd', 'kube-apiserver', 'kubectl'])
    if (!fs.existsSync(path.join(dir, bin)))
      throw new Error(`control plane build did not produce ${bin} in ${dir}`);
  return dir;
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export async function makeCertificates(dir: string, ips: string[]): Promise<void> {
  const o = (args: string[]) => run('openssl', args, { cwd: dir });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await o([
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '30',
    '-subj',
    '/CN=beacon-test-ca',
  ]);
  await o(['req', ...ec, '-keyout', 'serving.key', '-out', 'serving.csr', '-subj', '/CN=kube-apiserver']);
  const san = ['DNS:localhost', 'DNS:kubernetes', 'DNS:kubernetes.default', ...ips.map((ip) => `IP:${ip}`)];
  fs.writeFileSync(path.join(dir, 'san.ext'), `subjectAltName=${san.join(',')}\n`);
  await o([
    'x509',
    '-req',
    '-in',
    'serving.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'serving.crt',
    '-days',
    '30',
    '-extfile',
    'san.ext',
  ]);
  await o(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'sa.key']);
  await o(['ec', '-in', 'sa.key', '-pubout', '-out', 'sa.pub']);
}

function httpsGet(url: string, ca: Buffer, token?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(
      url,
      { ca, headers: token ? { authorization: `Bearer ${token}` } : {}, timeout: 2000 },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
  });
}

async function waitFor(
  what: string,
  deadlineMs: number,
  check: () => Promise<boolean>,
  exited: () => string | undefined,
) {
  const start = Date.now();
  for (;;) {
    const gone = exited();
    if (gone) throw new Error(`${what}: ${gone}`);
    try {
      if (await check()) return;
    } catch {
      // not up yet
    }
    if (Date.now() - start > deadlineMs) throw new Error(`${what}: not ready after ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function tail(file: string, lines = 30): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** Writes a kubeconfig with one context per test user; `current` is the current context. */
export function writeKubeconfig(state: ControlPlaneState, file: string, current: TestUser = 'admin'): void {
  const ca = fs.readFileSync(state.caFile).toString('base64');
  const users = Object.keys(testUsers) as TestUser[];
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'beacon-test', cluster: { server: state.server, 'certificate-authority-data': ca } }],
    users: users.map((u) => ({ name: u, user: { token: state.tokens[u] } })),
    contexts: users.map((u) => ({ name: u, context: { cluster: 'beacon-test', user: u } })),
    'current-context': current,
  };
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(doc, null, 2), { mode: 0o600 });
}

export class ControlPlane {
  private readonly children: ChildProcess[] = [];
  private apiserver: { child: ChildProcess; bin: string; log: string; args: string[] } | undefined;
  private exitNotes = new Map<ChildProcess, string>();
  private stopped = false;

  private constructor(readonly state: ControlPlaneState) {}

  static async start(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
    const bins = await controlPlaneBinaries();
    const bind = opts.bindAddress ?? '127.0.0.1';
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'beacon-cp-'));
    const logDir = opts.logDir ?? dir;
    const tokens = Object.fromEntries(
      (Object.keys(testUsers) as TestUser[]).map((u) => [u, crypto.randomBytes(16).toString('hex')]),
    ) as Record<TestUser, string>;
    const cp = new ControlPlane({
      dir,
      server: '',
      caFile: path.join(dir, 'ca.crt'),
      tokens,
      pids: { etcd: 0, apiserver: 0 },
    });
    try {
      await makeCertificates(dir, [...new Set(['127.0.0.1', bind, ...(opts.extraIPs ?? [])])]);
      fs.writeFileSync(
        path.join(dir, 'tokens.csv'),
        (Object.keys(testUsers) as TestUser[])
          .map((u, i) => `${tokens[u]},${testUsers[u].user},${i + 1},"${testUsers[u].groups.join(',')}"`)
          .join('\n') + '\n',
      );
      const [etcdClient, etcdPeer, apiPort] = [await freePort(), await freePort(), await freePort(bind)];
      const etcdUrl = `http://127.0.0.1:${etcdClient}`;
      const etcd = cp.spawn('etcd', path.join(bins, 'etcd'), path.join(logDir, 'etcd.log'), [
        '--name=default',
        `--data-dir=${path.join(dir, 'etcd')}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-cluster=default=http://127.0.0.1:${etcdPeer}`,
        '--unsafe-no-fsync',
        '--log-level=warn',
      ]);
      cp.state.pids.etcd = etcd.pid!;
      await waitFor(
        'etcd',
        30_000,
        async () => (await fetch(`${etcdUrl}/health`)).ok,
        () => cp.exitNotes.get(etcd),
      );
      const host = bind.includes(':') ? `[${bind}]` : bind;
      cp.state.server = `https://${host}:${apiPort}`;
      const apiserver = cp.spawn(
        'kube-apiserver',
        path.join(bins, 'kube-apiserver'),
        path.join(logDir, 'kube-apiserver.log'),
        [
          `--etcd-servers=${etcdUrl}`,
          `--bind-address=${bind}`,
          `--advertise-address=${opts.advertiseAddress ?? bind}`,
          `--secure-port=${apiPort}`,
          `--cert-dir=${dir}`,
          `--tls-cert-file=${path.join(dir, 'serving.crt')}`,
          `--tls-private-key-file=${path.join(dir, 'serving.key')}`,
          `--token-auth-file=${path.join(dir, 'tokens.csv')}`,
          '--authorization-mode=RBAC',
          `--service-account-issuer=https://127.0.0.1:${apiPort}`,
          `--service-account-key-file=${path.join(dir, 'sa.pub')}`,
          `--service-account-signing-key-file=${path.join(dir, 'sa.key')}`,
          // Wide enough for the 10,000-Service benchmark, and dual-stack for IPv6 Services.
          '--service-cluster-ip-range=10.96.0.0/16,fd00:10:96::/108',
          ...(opts.serviceAccounts ? [] : ['--disable-admission-plugins=ServiceAccount']),
          '--allow-privileged=true',
          '--max-requests-inflight=1000',
          '--max-mutating-requests-inflight=500',
          '--v=0',
          ...(opts.extraArgs ?? []),
        ],
      );
      cp.state.pids.apiserver = apiserver.pid!;
      await cp.waitForApiServer();
      await waitFor(
        'namespace default',
        30_000,
        async () =>
          (
            await httpsGet(
              `${cp.state.server}/api/v1/namespaces/default`,
              fs.readFileSync(cp.state.caFile),
              tokens.admin,
            )
          ).status === 200,
        () => cp.exitNotes.get(apiserver),
      );
      return cp;
    } catch (err) {
      await cp.stop();
      throw err;
    }
  }

  private async waitForApiServer(): Promise<void> {
    const { child, log } = this.apiserver!;
    const ca = fs.readFileSync(this.state.caFile);
    await waitFor(
      'kube-apiserver',
      90_000,
      async () => (await httpsGet(`${this.state.server}/readyz`, ca)).status === 200,
      () => {
        const note = this.exitNotes.get(child);
        return note && `${note}\n${tail(log)}`;
      },
    );
  }

  /** Stops kube-apiserver and starts it again on the same port (etcd keeps the data). */
  async restartApiServer(downMs = 0): Promise<void> {
    const { child, bin, log, args } = this.apiserver!;
    await stopChild(child);
    this.children.splice(this.children.indexOf(child), 1);
    if (downMs) await new Promise((r) => setTimeout(r, downMs));
    const next = this.spawn('kube-apiserver', bin, log, args);
    this.state.pids.apiserver = next.pid!;
    await this.waitForApiServer();
  }

  private spawn(name: string, bin: string, logFile: string, args: string[]): ChildProcess {
    const log = fs.openSync(logFile, 'a');
    const child = spawn(bin, args, { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    child.on('exit', (code, signal) =>
      this.exitNotes.set(child, `${name} exited (code ${code}, signal ${signal})`),
    );
    child.on('error', (err) => this.exitNotes.set(child, `${name} failed to start: ${err.message}`));
    this.children.push(child);
    if (name === 'kube-apiserver') this.apiserver = { child, bin, log: logFile, args };
    return child;
  }

  /** Ends the processes by PID (SIGTERM, then SIGKILL after 10 s) and removes the data dir. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const child of [...this.children].reverse()) await stopChild(child);
    fs.rmSync(this.state.dir, { recursive: true, force: true });
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}
