// The network lab: one real L2 segment (a bridge inside its own network namespace) with three
// nodes, a router and a client plugged into it, each host in its own namespace. Everything the
// lab creates carries its prefix (default `bcn-`), so labs with different prefixes coexist.
// Its design and the traps found building it: docs/lab.md.
//
// Addressing (one segment, three subnets):
//   10.77.0.0/24     node1 .11, node2 .12, node3 .13, router .1, client .100 (primary)
//   fd00:77::/64     the same host ids (fd00:77::11 ...), added with nodad
//   192.168.10.0/24  the same host ids again, secondary: the layer 2 example's pool 192.168.10.200-250
//                    (Service IP 192.168.10.222) is on-link for the client, as L2 mode needs.
// L2 pools that are on-link: 10.77.0.200-10.77.0.250, 192.168.10.200-250, fd00:77::200:0/112.
// BGP service ranges, routed by the client via the router (10.77.0.1 / fd00:77::1):
//   10.77.100.0/24 and fd00:77::100:0/112.
// MACs: 02:77:00:00:00:<host id in hex> on each host's eth0.
//
// Processes started in the lab's namespaces are found with `ip netns pids` and ended by PID;
// processes the lab starts in the root namespace (the control-plane relay) are recorded in the
// lab's state directory, so `down()` from another process (the CLI) ends them as well.

import { execFile, execFileSync, spawn as spawnChild, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const nodeHosts = ['node1', 'node2', 'node3'] as const;
export const labHosts = ['node1', 'node2', 'node3', 'router', 'client'] as const;
export type NodeHost = (typeof nodeHosts)[number];
export type LabHost = (typeof labHosts)[number];
/** Every namespace of a lab: the hosts and `lan`, which holds the bridge. */
export type LabNamespace = LabHost | 'lan';

/** The last byte / group of each host's addresses (and of its MAC). */
export const hostIds: Record<LabHost, number> = { node1: 11, node2: 12, node3: 13, router: 1, client: 100 };

export const labNet = {
  v4Prefix: '10.77.0.0/24',
  v6Prefix: 'fd00:77::/64',
  /** The layer 2 example's subnet, on the same segment (secondary addresses). */
  seedPrefix: '192.168.10.0/24',
  /** Routed by the client via the router: Service IPs announced over BGP. */
  bgpRangeV4: '10.77.100.0/24',
  bgpRangeV6: 'fd00:77::100:0/112',
  /** On-link ranges free for L2 Service IPs. */
  l2RangesV4: ['10.77.0.200-10.77.0.250', '192.168.10.200-192.168.10.250'],
  l2RangeV6: 'fd00:77::200:0/112',
  routerAsn: 64500,
  nodeAsn: 64512,
} as const;

export function hostV4(host: LabHost): string {
  return `10.77.0.${hostIds[host]}`;
}
export function hostV6(host: LabHost): string {
  return `fd00:77::${hostIds[host]}`;
}
export function hostSeedV4(host: LabHost): string {
  return `192.168.10.${hostIds[host]}`;
}
export function hostMac(host: LabHost): string {
  return `02:77:00:00:00:${hostIds[host].toString(16).padStart(2, '0')}`;
}

export interface LabOptions {
  /** Prefix of every namespace name; default `bcn-` (or $LAB_PREFIX). */
  prefix?: string;
  /** Directory for configs, sockets, logs; default `$TMPDIR/beacon-lab-<prefix>`. */
  dir?: string;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** Throw when the command exits non-zero (default true). */
  check?: boolean;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

export interface SpawnOptions {
  /** `log` (default): stdout and stderr go to `logFile`; `pipe`: readable from `child`. */
  stdio?: 'log' | 'pipe';
  logFile?: string;
  env?: NodeJS.ProcessEnv;
}

/** A long-running process inside a lab namespace. */
export interface LabProcess {
  readonly host: LabNamespace;
  readonly pid: number;
  readonly child: ChildProcess;
  readonly logFile: string | undefined;
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
  /** Resolves with the first line of stdout/stderr matching `re` (stdio `pipe` only). */
  waitForOutput(re: RegExp, timeoutMs?: number): Promise<string>;
}

// The guardian: a detached root-namespace process that tears the lab down when its owner
// process is gone, however it went (SIGKILL, a Jest worker killed on Ctrl-C: Jest's sandboxed
// `process` cannot catch signals). Self-contained on purpose: it must not depend on a build.
const guardianSource = String.raw`
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
const cfg = JSON.parse(process.argv[process.argv.length - 1]);
const alive = (pid) => {
  try {
    const s = fs.readFileSync('/proc/' + pid + '/stat', 'utf8');
    const st = s.slice(s.lastIndexOf(')') + 2, s.lastIndexOf(')') + 3);
    return st !== 'Z' && st !== 'X';
  } catch { return false; }
};
const ip = (args) => {
  try { return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }); }
  catch { return ''; }
};
const cmdline = (pid) => { try { return fs.readFileSync('/proc/' + pid + '/cmdline', 'utf8'); } catch { return ''; } };
function teardown() {
  const listed = new Set(ip(['netns', 'list']).split('\n').map((l) => l.split(' ')[0]));
  const nss = cfg.namespaces.filter((n) => listed.has(n));
  let roots = [];
  try { roots = JSON.parse(fs.readFileSync(cfg.dir + '/root-procs.json', 'utf8')); } catch {}
  roots = roots.filter((r) => cmdline(r.pid) === r.cmdline);
  const pids = () => nss.flatMap((ns) => ip(['netns', 'pids', ns]).split('\n').map(Number).filter((n) => n > 0));
  const signal = (sig) => {
    for (const pid of pids()) { try { process.kill(pid, sig); } catch {} }
    for (const r of roots) { try { process.kill(-r.pid, sig); } catch {} }
  };
  const live = () => [...pids(), ...roots.map((r) => r.pid)].filter(alive);
  signal('SIGTERM');
  const deadline = Date.now() + 3000;
  while (live().length > 0 && Date.now() < deadline) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  signal('SIGKILL');
  for (const ns of nss) ip(['netns', 'del', ns]);
  fs.rmSync(cfg.dir, { recursive: true, force: true });
}
process.on('SIGTERM', () => process.exit(0));
const timer = setInterval(() => {
  if (alive(cfg.owner)) return;
  clearInterval(timer);
  teardown();
  process.exit(0);
}, 200);
`;

interface RootProcRecord {
  pid: number;
  cmdline: string;
}

const sleepSync = (ms: number): void => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
};

/** Whether `pid` is a live process (zombies count as gone: they only wait to be reaped). */
export function processAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The state letter follows the command, which is in parentheses and may contain spaces.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

function cmdlineOf(pid: number): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return undefined;
  }
}

function runIp(args: string[], check = true): ExecResult {
  try {
    const stdout = execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return { code: 0, stdout, stderr: '' };
  } catch (err) {
    const e = err as { status?: number; stdout?: string; stderr?: string };
    const res = { code: e.status ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    if (check)
      throw new Error(`ip ${args.join(' ')} failed (exit ${res.code}): ${res.stderr.trim()}`, { cause: err });
    return res;
  }
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

export class Lab {
  readonly prefix: string;
  readonly dir: string;
  private readonly procs: LabProcess[] = [];
  private spawnCount = 0;
  private guardianPid: number | undefined;

  constructor(opts: LabOptions = {}) {
    this.prefix = opts.prefix ?? process.env.LAB_PREFIX ?? 'bcn-';
    if (!/^[A-Za-z0-9_.-]{0,20}$/.test(this.prefix))
      throw new Error(`lab prefix "${this.prefix}": use at most 20 of [A-Za-z0-9_.-]`);
    this.dir = opts.dir ?? path.join(os.tmpdir(), `beacon-lab-${this.prefix || 'noprefix'}`);
  }

  /** The namespace name of a host (or of `lan`). */
  ns(host: LabNamespace): string {
    return `${this.prefix}${host}`;
  }

  /** All namespaces of this lab, `lan` last (it goes last on teardown). */
  namespaces(): string[] {
    return [...labHosts, 'lan' as const].map((h) => this.ns(h));
  }

  /**
   * Creates the lab; a previous lab with the same prefix is torn down first. With `guard`,
   * a detached guardian process tears the lab down once the process `ownerPid` (default this
   * one) is gone, even if it is killed with no chance to clean up (tests use it).
   */
  async up(opts: { guard?: boolean; ownerPid?: number } = {}): Promise<void> {
    if (this.leftovers().length > 0) await this.down();
    if (opts.guard) this.startGuardian(opts.ownerPid ?? process.pid);
    fs.mkdirSync(path.join(this.dir, 'logs'), { recursive: true, mode: 0o755 });
    fs.chmodSync(this.dir, 0o755); // FRR runs as user frr and needs to traverse it
    try {
      this.build();
    } catch (err) {
      await this.down();
      throw err;
    }
  }

  private build(): void {
    const lan = this.ns('lan');
    const batch: string[] = [];
    const sysctl = (ns: string, ...kv: string[]): void => {
      execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', ...kv], { stdio: 'pipe' });
    };
    runIp(['netns', 'add', lan]);
    // No STP, no multicast snooping: NS to solicited-node groups always flood (docs/lab.md).
    batch.push(`-n ${lan} link set lo up`);
    batch.push(`-n ${lan} link add br0 type bridge stp_state 0 mcast_snooping 0`);
    for (const host of labHosts) runIp(['netns', 'add', this.ns(host)]);
    this.ipBatch(batch.splice(0));
    sysctl(lan, 'net.ipv6.conf.br0.disable_ipv6=1');
    batch.push(`-n ${lan} link set br0 up`);
    for (const host of labHosts) {
      const n = this.ns(host);
      sysctl(
        n,
        'net.ipv6.conf.all.accept_dad=0',
        'net.ipv6.conf.default.accept_dad=0',
        'net.ipv6.conf.all.keep_addr_on_down=1',
        'net.ipv6.conf.default.keep_addr_on_down=1',
      );
      // The bridge-side port is named after its host; the host side is always eth0.
      batch.push(`-n ${lan} link add ${host} type veth peer name eth0 netns ${n}`);
      batch.push(`-n ${lan} link set ${host} master br0 up`);
      batch.push(`-n ${n} link set lo up`);
      batch.push(`-n ${n} link set eth0 address ${hostMac(host)} up`);
      batch.push(`-n ${n} addr add ${hostV4(host)}/24 dev eth0`);
      batch.push(`-n ${n} addr add ${hostSeedV4(host)}/24 dev eth0`);
      batch.push(`-n ${n} addr add ${hostV6(host)}/64 dev eth0 nodad`);
    }
    const client = this.ns('client');
    batch.push(`-n ${client} route add ${labNet.bgpRangeV4} via ${hostV4('router')}`);
    batch.push(`-n ${client} -6 route add ${labNet.bgpRangeV6} via ${hostV6('router')}`);
    this.ipBatch(batch);
    // The router forwards, spreads flows over ECMP next hops by L4 hash, and sends no
    // redirects (client and nodes share the segment).
    sysctl(
      this.ns('router'),
      'net.ipv4.ip_forward=1',
      'net.ipv6.conf.all.forwarding=1',
      'net.ipv4.fib_multipath_hash_policy=1',
      'net.ipv6.fib_multipath_hash_policy=1',
      'net.ipv4.conf.all.send_redirects=0',
      'net.ipv4.conf.default.send_redirects=0',
      'net.ipv4.conf.eth0.send_redirects=0',
    );
  }

  private ipBatch(lines: string[]): void {
    // `ip -batch` takes no per-line `-n`, so run them one by one (a few ms each).
    for (const line of lines) runIp(line.split(' '));
  }

  /** Ends every process of the lab by PID and deletes its namespaces. Idempotent. */
  async down(): Promise<void> {
    this.downSync();
    await Promise.all(this.procs.map((p) => p.exited));
    this.procs.length = 0;
  }

  private startGuardian(owner: number): void {
    const cfg = JSON.stringify({ owner, dir: this.dir, namespaces: this.namespaces() });
    const child = spawnChild(process.execPath, ['--input-type=module', '-e', guardianSource, cfg], {
      stdio: 'ignore',
      detached: true,
    });
    child.on('error', () => undefined);
    child.unref();
    this.guardianPid = child.pid;
  }

  /** The synchronous teardown, usable from an `exit` handler. */
  downSync(): void {
    // The guardian goes first: it must not race this teardown.
    if (this.guardianPid !== undefined && processAlive(this.guardianPid)) {
      try {
        process.kill(this.guardianPid, 'SIGTERM');
      } catch {
        /* gone */
      }
      for (let i = 0; i < 100 && processAlive(this.guardianPid); i++) sleepSync(10);
    }
    this.guardianPid = undefined;
    const existing = new Set(this.existingNamespaces());
    const targets = new Set<number>();
    for (const ns of existing) for (const pid of this.netnsPids(ns)) targets.add(pid);
    // Our own children: their PIDs cannot be reused before Node has reaped them.
    for (const p of this.procs)
      if (p.child.exitCode === null && p.child.signalCode === null) targets.add(p.pid);
    const rootGroups = this.rootProcs().filter((r) => cmdlineOf(r.pid) === r.cmdline);
    const signalAll = (sig: NodeJS.Signals): void => {
      for (const pid of targets) {
        try {
          process.kill(pid, sig);
        } catch {
          /* already gone */
        }
      }
      // Root-namespace helpers run in their own process group (socat forks per connection).
      for (const r of rootGroups) {
        try {
          process.kill(-r.pid, sig);
        } catch {
          /* already gone */
        }
      }
    };
    const live = (): number[] =>
      [...targets, ...rootGroups.map((r) => r.pid)].filter((pid) => processAlive(pid));
    signalAll('SIGTERM');
    const deadline = Date.now() + 3000;
    while (live().length > 0 && Date.now() < deadline) sleepSync(20);
    if (live().length > 0) {
      signalAll('SIGKILL');
      const killDeadline = Date.now() + 2000;
      while (live().length > 0 && Date.now() < killDeadline) sleepSync(20);
    }
    // Processes may have been forked meanwhile (socat per connection): sweep once more.
    for (const ns of existing)
      for (const pid of this.netnsPids(ns)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    for (const ns of this.namespaces()) if (existing.has(ns)) runIp(['netns', 'del', ns], false);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /** Everything of this lab still present: namespaces, processes, the state directory. */
  leftovers(): string[] {
    const found: string[] = [];
    for (const ns of this.existingNamespaces()) {
      found.push(`netns ${ns}`);
      for (const pid of this.netnsPids(ns))
        found.push(`process ${pid} in ${ns}: ${(cmdlineOf(pid) ?? '').replaceAll('\0', ' ').trim()}`);
    }
    for (const p of this.procs)
      if (p.child.exitCode === null && p.child.signalCode === null && processAlive(p.pid))
        found.push(`process ${p.pid} started in ${this.ns(p.host)} still alive`);
    for (const r of this.rootProcs())
      if (processAlive(r.pid) && cmdlineOf(r.pid) === r.cmdline)
        found.push(`root-namespace process ${r.pid}: ${r.cmdline.replaceAll('\0', ' ').trim()}`);
    if (this.guardianPid !== undefined && processAlive(this.guardianPid))
      found.push(`guardian process ${this.guardianPid}`);
    if (fs.existsSync(this.dir)) found.push(`directory ${this.dir}`);
    return found;
  }

  /** Throws, listing what is left, unless the lab is completely gone. */
  assertClean(): void {
    const left = this.leftovers();
    if (left.length > 0) throw new Error(`lab "${this.prefix}" left things behind:\n  ${left.join('\n  ')}`);
  }

  /** Runs a command inside a host namespace and collects its output. */
  exec(host: LabNamespace, cmd: string, args: string[] = [], opts: ExecOptions = {}): Promise<ExecResult> {
    const argv = ['netns', 'exec', this.ns(host), cmd, ...args];
    return new Promise((resolve, reject) => {
      execFile(
        'ip',
        argv,
        { encoding: 'utf8', timeout: opts.timeoutMs ?? 30_000, env: opts.env, maxBuffer: 16 << 20 },
        (err, stdout, stderr) => {
          const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
          const res = { code, stdout, stderr };
          if (err && (opts.check ?? true))
            reject(
              new Error(
                `[${this.ns(host)}] ${cmd} ${args.join(' ')} failed (exit ${code}${err.killed ? ', timed out' : ''}):\n${stderr}${stdout}`,
              ),
            );
          else resolve(res);
        },
      );
    });
  }

  /**
   * Starts a long-running process inside a host namespace. `ip netns exec` execs the command,
   * so the child's PID is the process's own (docs/lab.md). `down()` ends it in any case.
   */
  spawn(host: LabNamespace, cmd: string, args: string[] = [], opts: SpawnOptions = {}): LabProcess {
    const mode = opts.stdio ?? 'log';
    let logFile: string | undefined;
    let stdio: ['ignore', 'pipe' | number, 'pipe' | number];
    let fd: number | undefined;
    if (mode === 'log') {
      logFile =
        opts.logFile ?? path.join(this.dir, 'logs', `${host}-${path.basename(cmd)}-${++this.spawnCount}.log`);
      fs.mkdirSync(path.dirname(logFile), { recursive: true });
      fd = fs.openSync(logFile, 'a');
      stdio = ['ignore', fd, fd];
    } else stdio = ['ignore', 'pipe', 'pipe'];
    const child = spawnChild('ip', ['netns', 'exec', this.ns(host), cmd, ...args], {
      stdio,
      env: opts.env ?? process.env,
    });
    if (fd !== undefined) fs.closeSync(fd);
    if (child.pid === undefined) throw new Error(`could not start ${cmd} in ${this.ns(host)}`);
    const pid = child.pid;
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null)
        resolve({ code: child.exitCode, signal: child.signalCode });
      else child.once('exit', (code, signal) => resolve({ code, signal }));
    });
    child.on('error', () => undefined);
    let output = '';
    const waiters: Array<() => void> = [];
    if (mode === 'pipe') {
      const collect = (chunk: Buffer): void => {
        output += chunk.toString('utf8');
        for (const w of waiters.splice(0)) w();
      };
      child.stdout?.on('data', collect);
      child.stderr?.on('data', collect);
    }
    const proc: LabProcess = {
      host,
      pid,
      child,
      logFile,
      exited,
      stop: async (graceMs = 3000) => {
        if (!processAlive(pid)) return;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      },
      waitForOutput: (re, timeoutMs = 10_000) =>
        new Promise((resolve, reject) => {
          if (mode !== 'pipe') return reject(new Error('waitForOutput needs stdio "pipe"'));
          const started = Date.now();
          const check = (): void => {
            const line = output.split('\n').find((l) => re.test(l));
            if (line !== undefined) return resolve(line);
            if (child.exitCode !== null || child.signalCode !== null)
              return reject(new Error(`${cmd} in ${this.ns(host)} exited before ${re}:\n${output}`));
            if (Date.now() - started > timeoutMs)
              return reject(new Error(`${cmd} in ${this.ns(host)}: no ${re} in ${timeoutMs} ms:\n${output}`));
            waiters.push(check);
            setTimeout(check, 100).unref();
          };
          check();
        }),
    };
    void exited.then(() => {
      for (const w of waiters.splice(0)) w();
    });
    this.procs.push(proc);
    return proc;
  }

  /**
   * Starts a helper in the root namespace, in its own process group, and records it in the
   * lab's directory so that `down()` (from any process) ends it and `leftovers()` reports it.
   */
  spawnRoot(cmd: string, args: string[], logName: string): number {
    fs.mkdirSync(path.join(this.dir, 'logs'), { recursive: true });
    const fd = fs.openSync(path.join(this.dir, 'logs', logName), 'a');
    const child = spawnChild(cmd, args, { stdio: ['ignore', fd, fd], detached: true });
    fs.closeSync(fd);
    child.on('error', () => undefined);
    if (child.pid === undefined) throw new Error(`could not start ${cmd}`);
    child.unref();
    const pid = child.pid;
    // Record the command line as the kernel reports it, to never signal a recycled PID later.
    let cmdline = cmdlineOf(pid);
    for (let i = 0; i < 100 && cmdline !== undefined && !cmdline.includes(args[0] ?? cmd); i++) {
      sleepSync(5); // still the pre-exec copy of node
      cmdline = cmdlineOf(pid);
    }
    if (cmdline === undefined) throw new Error(`${cmd} exited at once; see ${logName}`);
    const file = path.join(this.dir, 'root-procs.json');
    fs.writeFileSync(file, JSON.stringify([...this.rootProcs(), { pid, cmdline }]));
    return pid;
  }

  private rootProcs(): RootProcRecord[] {
    try {
      return JSON.parse(fs.readFileSync(path.join(this.dir, 'root-procs.json'), 'utf8')) as RootProcRecord[];
    } catch {
      return [];
    }
  }

  /** Unplugs a host from the segment (its bridge port goes down); the host sees no carrier. */
  async unplug(host: LabHost): Promise<void> {
    await this.exec('lan', 'ip', ['link', 'set', host, 'down']);
  }

  async plug(host: LabHost): Promise<void> {
    await this.exec('lan', 'ip', ['link', 'set', host, 'up']);
  }

  /** The next hops of `prefix` in a host's FIB (default: the router's), handling multipath routes. */
  async routeNexthops(prefix: string, host: LabHost = 'router'): Promise<string[]> {
    const family = prefix.includes(':') ? '-6' : '-4';
    const res = await this.exec(host, 'ip', [family, 'route', 'show', prefix]);
    return parseNexthops(res.stdout);
  }

  /** Namespaces of this lab that exist now. */
  existingNamespaces(): string[] {
    const listed = new Set(
      runIp(['netns', 'list'], false)
        .stdout.split('\n')
        .map((l) => l.split(' ')[0] ?? '')
        .filter((n) => n !== ''),
    );
    return this.namespaces().filter((ns) => listed.has(ns));
  }

  private netnsPids(ns: string): number[] {
    return runIp(['netns', 'pids', ns], false)
      .stdout.split('\n')
      .map((l) => Number(l.trim()))
      .filter((n) => Number.isInteger(n) && n > 0 && n !== process.pid);
  }

  /** One line per host: its addresses, then the bridge ports. */
  async status(): Promise<string> {
    if (this.existingNamespaces().length === 0) return `lab "${this.prefix}" is down\n`;
    const lines: string[] = [];
    for (const host of labHosts) {
      const r = await this.exec(host, 'ip', ['-br', 'addr', 'show', 'eth0'], { check: false });
      lines.push(`${this.ns(host).padEnd(12)} ${r.code === 0 ? r.stdout.trim() : 'missing'}`);
    }
    const ports = await this.exec('lan', 'ip', ['-br', 'link', 'show', 'master', 'br0'], { check: false });
    lines.push(`${this.ns('lan')} br0 ports:`, ports.stdout.trimEnd());
    for (const ns of this.existingNamespaces())
      for (const pid of this.netnsPids(ns))
        lines.push(`  ${ns} pid ${pid}: ${(cmdlineOf(pid) ?? '').replaceAll('\0', ' ').trim()}`);
    return lines.join('\n') + '\n';
  }
}

/**
 * Parses `ip route show <prefix>` output into next-hop addresses:
 * `10.77.100.10 via 10.77.0.11 dev eth0 ...` or a multipath route followed by
 * `nexthop via 10.77.0.11 dev eth0 weight 1` lines (also `via inet6 fe80::1`).
 */
export function parseNexthops(output: string): string[] {
  const hops: string[] = [];
  for (const m of output.matchAll(/\bvia (?:inet6? )?([0-9A-Fa-f.:]+)/g)) if (m[1]) hops.push(m[1]);
  return [...new Set(hops)].sort();
}

/**
 * Tears the lab down on SIGINT/SIGTERM/exit (for scripts and the CLI). Returns a function
 * that removes the handlers again.
 */
export function installTeardownHandlers(lab: Lab): () => void {
  const onExit = (): void => lab.downSync();
  const onSignal = (sig: NodeJS.Signals): void => {
    process.stderr.write(`\n${sig}: tearing lab "${lab.prefix}" down\n`);
    lab.downSync();
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.on('exit', onExit);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return () => {
    process.off('exit', onExit);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}
