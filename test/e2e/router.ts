// Real routers for the lab: BIRD 2 and FRR (zebra + bgpd [+ bfdd]) in the router namespace,
// with per-test configs generated here. Each router instance gets its own directory (sockets,
// pid files, logs) under the lab's directory, so labs and routers never share a path.
// Verified shapes and traps: docs/lab.md (the router).

import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { hostV4, hostV6, labNet, type Lab, type LabHost, type LabProcess } from './lab.js';

export type AddressFamily = 'ipv4' | 'ipv6';

export interface RouterPeer {
  /** The speaker's address (v4 or v6). */
  address: string;
  asn: number;
  /** TCP-MD5 key (RFC 2385). */
  password?: string;
  /** Families on this session; default the family of `address`. */
  families?: AddressFamily[];
}

export interface BfdOptions {
  /** Min rx/tx interval in ms; default 100. */
  intervalMs?: number;
  /** Detect multiplier; default 3. */
  multiplier?: number;
}

export interface BfdPeer {
  address: string;
  /** The router's source address; default its own address of the peer's family. */
  local?: string;
}

export interface RouterConfig {
  asn?: number; // default labNet.routerAsn (64500)
  routerId?: string; // default the router's v4 address
  peers: RouterPeer[];
  /** The router waits for the speakers to connect (as MetalLB's peers usually do); default true. */
  passive?: boolean;
  holdTime?: number; // default 3
  keepalive?: number; // default 1
  /** Install equal-cost paths from several speakers as one multipath route; default 16, 1 = off. */
  maxPaths?: number;
  bfd?: BfdOptions;
  /**
   * Stand-alone BFD sessions (no BGP needed): BIRD `neighbor` lines in `protocol bfd`, FRR
   * `peer` blocks in bfdd with the `lab` profile. Implies `bfd` (defaults) when that is unset.
   */
  bfdPeers?: BfdPeer[];
  /** Which host runs the router (default `router`). */
  host?: LabHost;
  /** BIRD only: export BGP routes into the kernel FIB; default true. The BGP table benchmark
   * turns it off so that only BGP work is timed. */
  kernel?: boolean;
}

interface Resolved {
  asn: number;
  routerId: string;
  local4: string;
  local6: string;
  peers: Array<RouterPeer & { families: AddressFamily[]; name: string }>;
  passive: boolean;
  holdTime: number;
  keepalive: number;
  maxPaths: number;
  bfd: Required<BfdOptions> | undefined;
  bfdPeers: Array<Required<BfdPeer>>;
  families: AddressFamily[];
}

function resolve(cfg: RouterConfig): Resolved {
  const host = cfg.host ?? 'router';
  const peers = cfg.peers.map((p, i) => ({
    ...p,
    families: p.families ?? [p.address.includes(':') ? ('ipv6' as const) : ('ipv4' as const)],
    name: `peer${i + 1}_${p.address.replace(/[.:]/g, '_')}`,
  }));
  const families = (['ipv4', 'ipv6'] as const).filter((f) => peers.some((p) => p.families.includes(f)));
  return {
    asn: cfg.asn ?? labNet.routerAsn,
    routerId: cfg.routerId ?? hostV4(host),
    local4: hostV4(host),
    local6: hostV6(host),
    peers,
    passive: cfg.passive ?? true,
    holdTime: cfg.holdTime ?? 3,
    keepalive: cfg.keepalive ?? 1,
    maxPaths: cfg.maxPaths ?? 16,
    bfd: (cfg.bfd ?? (cfg.bfdPeers?.length ? {} : undefined)) && {
      intervalMs: cfg.bfd?.intervalMs ?? 100,
      multiplier: cfg.bfd?.multiplier ?? 3,
    },
    bfdPeers: (cfg.bfdPeers ?? []).map((b) => ({
      address: b.address,
      local: b.local ?? (b.address.includes(':') ? hostV6(host) : hostV4(host)),
    })),
    families: families.length > 0 ? families : ['ipv4'],
  };
}

/** BIRD 2 configuration: BGP routes go to the kernel, equal paths merged into one ECMP route. */
export function birdConfig(cfg: RouterConfig, logFile: string): string {
  const r = resolve(cfg);
  const out: string[] = [
    `router id ${r.routerId};`,
    `log "${logFile}" all;`,
    'protocol device { scan time 10; }',
  ];
  for (const f of cfg.kernel === false ? [] : r.families)
    out.push(
      'protocol kernel {',
      `  ${f} { import none; export all; };`,
      // ECMP: equal BGP paths become one multipath kernel route.
      r.maxPaths > 1 ? `  merge paths on limit ${r.maxPaths};` : '  merge paths off;',
      '  learn off;',
      '}',
    );
  if (r.bfd)
    out.push(
      'protocol bfd {',
      `  interface "*" { min rx interval ${r.bfd.intervalMs} ms; min tx interval ${r.bfd.intervalMs} ms; multiplier ${r.bfd.multiplier}; };`,
      ...r.bfdPeers.map((b) => `  neighbor ${b.address} local ${b.local};`),
      '}',
    );
  for (const p of r.peers) {
    const local = p.address.includes(':') ? r.local6 : r.local4;
    out.push(
      `protocol bgp ${p.name} {`,
      `  local ${local} as ${r.asn};`,
      `  neighbor ${p.address} as ${p.asn};`,
      `  passive ${r.passive ? 'on' : 'off'};`,
      `  hold time ${r.holdTime}; keepalive time ${r.keepalive};`,
      // Default 60, 300: after a hold-timer expiry BIRD would refuse the speaker for a minute.
      '  error wait time 1, 5;',
      '  connect delay time 1; connect retry time 1;',
    );
    if (r.bfd) out.push('  bfd on;');
    // BIRD treats iBGP neighbours as multihop with recursive next hops, which need an IGP
    // table the lab does not have: the speakers are on the segment, so say so.
    if (p.asn === r.asn) out.push('  direct;');
    if (p.password !== undefined) out.push(`  password "${p.password}";`);
    for (const f of p.families) out.push(`  ${f} { import all; export none; };`);
    out.push('}');
  }
  return out.join('\n') + '\n';
}

/** FRR per-daemon configuration files. */
export function frrConfigs(
  cfg: RouterConfig,
  logDir: string,
): { zebra: string; bgpd: string; bfdd?: string } {
  const r = resolve(cfg);
  const log = (d: string): string => `log file ${path.join(logDir, `${d}.log`)}\n`;
  const bgpd: string[] = [
    `router bgp ${r.asn}`,
    ` bgp router-id ${r.routerId}`,
    // Without it FRR accepts nothing from eBGP peers: summary shows "(Policy)" (docs/lab.md).
    ' no bgp ebgp-requires-policy',
    ' no bgp default ipv4-unicast',
    ' no bgp network import-check',
    // Speakers with different ASNs still count as equal paths.
    ' bgp bestpath as-path multipath-relax',
  ];
  for (const p of r.peers) {
    bgpd.push(` neighbor ${p.address} remote-as ${p.asn}`);
    if (r.passive) bgpd.push(` neighbor ${p.address} passive`);
    else bgpd.push(` neighbor ${p.address} timers connect 1`);
    bgpd.push(` neighbor ${p.address} timers ${r.keepalive} ${r.holdTime}`);
    if (p.password !== undefined) bgpd.push(` neighbor ${p.address} password ${p.password}`);
    if (r.bfd) bgpd.push(` neighbor ${p.address} bfd`, ` neighbor ${p.address} bfd profile lab`);
  }
  for (const f of r.families) {
    bgpd.push(` address-family ${f} unicast`, `  maximum-paths ${r.maxPaths}`);
    for (const p of r.peers) if (p.families.includes(f)) bgpd.push(`  neighbor ${p.address} activate`);
    bgpd.push(' exit-address-family');
  }
  const out: { zebra: string; bgpd: string; bfdd?: string } = {
    zebra: log('zebra'),
    bgpd: log('bgpd') + bgpd.join('\n') + '\n',
  };
  if (r.bfd)
    out.bfdd =
      log('bfdd') +
      [
        'bfd',
        ' profile lab',
        `  detect-multiplier ${r.bfd.multiplier}`,
        `  receive-interval ${r.bfd.intervalMs}`,
        `  transmit-interval ${r.bfd.intervalMs}`,
        ...r.bfdPeers.flatMap((b) => [` peer ${b.address} local-address ${b.local}`, '  profile lab']),
      ].join('\n') +
      '\n';
  return out;
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { encoding: 'utf8', timeout: 15_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${stderr}${stdout}`));
      else resolve(stdout);
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitFor(
  what: string,
  timeoutMs: number,
  check: () => Promise<boolean> | boolean,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}

/** Whether a unix socket accepts connections. */
export function socketAnswers(file: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createConnection(file);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

let instances = 0;

/** Common parts of both routers. */
abstract class LabRouter {
  readonly dir: string;
  readonly host: LabHost;
  protected readonly procs: LabProcess[] = [];

  constructor(
    protected readonly lab: Lab,
    readonly config: RouterConfig,
    kind: string,
  ) {
    this.host = config.host ?? 'router';
    this.dir = path.join(lab.dir, `${kind}-${this.host}-${++instances}`);
  }

  abstract start(): Promise<void>;

  /** Ends the daemons by PID and waits for them; idempotent. */
  async stop(): Promise<void> {
    for (const p of [...this.procs].reverse()) await p.stop(5000);
    this.procs.length = 0;
  }

  /** Next hops of `prefix` in the router's FIB (multipath-aware). */
  routeNexthops(prefix: string): Promise<string[]> {
    return this.lab.routeNexthops(prefix, this.host);
  }

  /** Waits until the FIB route for `prefix` has exactly these next hops (any order). */
  async waitForNexthops(prefix: string, expected: string[], timeoutMs = 10_000): Promise<void> {
    const want = [...expected].sort().join(',');
    let last: string[] = [];
    try {
      await waitFor(`${prefix} via ${want}`, timeoutMs, async () => {
        last = await this.routeNexthops(prefix);
        return last.join(',') === want;
      });
    } catch (err) {
      throw new Error(
        `${(err as Error).message}; last seen: [${last.join(', ')}]\n${await this.diagnostics()}`,
        { cause: err },
      );
    }
  }

  /** Daemon state for failure messages. */
  abstract diagnostics(): Promise<string>;

  protected checkRunning(): void {
    for (const p of this.procs)
      if (p.child.exitCode !== null || p.child.signalCode !== null)
        throw new Error(`router daemon exited (see ${p.logFile}):\n${readTail(p.logFile)}`);
  }
}

function readTail(file: string | undefined): string {
  if (!file) return '';
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-30).join('\n');
  } catch {
    return '';
  }
}

/** BIRD 2 in the router namespace, kept in the foreground (-f) as a tracked child. */
export class BirdRouter extends LabRouter {
  get socket(): string {
    return path.join(this.dir, 'bird.ctl');
  }
  get confFile(): string {
    return path.join(this.dir, 'bird.conf');
  }
  get logFile(): string {
    return path.join(this.dir, 'bird.log');
  }

  constructor(lab: Lab, config: RouterConfig) {
    super(lab, config, 'bird');
  }

  async start(): Promise<void> {
    fs.mkdirSync(this.dir, { recursive: true });
    fs.writeFileSync(this.confFile, birdConfig(this.config, this.logFile));
    await run('bird', ['-p', '-c', this.confFile]); // parse check: a clear error, not a dead daemon
    this.procs.push(
      this.lab.spawn(
        this.host,
        'bird',
        ['-f', '-c', this.confFile, '-s', this.socket, '-P', path.join(this.dir, 'bird.pid')],
        { logFile: path.join(this.dir, 'bird.out') },
      ),
    );
    await waitFor('bird control socket', 10_000, async () => {
      this.checkRunning();
      return socketAnswers(this.socket);
    });
  }

  /** Runs a birdc command (`show protocols`, `show route all 10.77.100.10/32`, ...). */
  birdc(...command: string[]): Promise<string> {
    return run('birdc', ['-s', this.socket, ...command.flatMap((c) => c.split(' '))]);
  }

  showProtocols(): Promise<string> {
    return this.birdc('show protocols');
  }

  showRouteAll(prefix: string): Promise<string> {
    return this.birdc(`show route all ${prefix}`);
  }

  /** Names of the BGP protocols in state Established. */
  async established(): Promise<string[]> {
    const out = await this.showProtocols();
    return out
      .split('\n')
      .filter((l) => /\bBGP\b/.test(l) && /Established/.test(l))
      .map((l) => l.split(/\s+/)[0] ?? '');
  }

  async diagnostics(): Promise<string> {
    const protocols = await this.showProtocols().catch((e: Error) => e.message);
    return `birdc show protocols:\n${protocols}\nbird.log:\n${readTail(this.logFile)}`;
  }
}

/** FRR: zebra (which programs the kernel), bgpd and optionally bfdd, each in the foreground. */
export class FrrRouter extends LabRouter {
  constructor(lab: Lab, config: RouterConfig) {
    super(lab, config, 'frr');
  }

  get vtySocketDir(): string {
    return this.dir;
  }

  async start(): Promise<void> {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o755 });
    const confs = frrConfigs(this.config, this.dir);
    const files: Record<string, string> = { zebra: confs.zebra, bgpd: confs.bgpd };
    if (confs.bfdd) files.bfdd = confs.bfdd;
    for (const [d, text] of Object.entries(files)) fs.writeFileSync(path.join(this.dir, `${d}.conf`), text);
    // The daemons drop privileges to user frr: the directory must be theirs (docs/lab.md).
    await run('chown', ['-R', 'frr:frr', this.dir]);
    const zserv = path.join(this.dir, 'zserv.api');
    const common = ['-z', zserv, '--vty_socket', this.dir, '-A', '127.0.0.1', '-P', '0'];
    const daemon = (name: string, extra: string[] = []): LabProcess =>
      this.lab.spawn(
        this.host,
        `/usr/lib/frr/${name}`,
        [
          ...common,
          '-f',
          path.join(this.dir, `${name}.conf`),
          '-i',
          path.join(this.dir, `${name}.pid`),
          ...extra,
        ],
        { logFile: path.join(this.dir, `${name}.out`) },
      );
    this.procs.push(daemon('zebra'));
    // bgpd reaches the kernel only through zebra: start it once zebra listens.
    await waitFor('zebra', 10_000, async () => {
      this.checkRunning();
      return socketAnswers(zserv);
    });
    if (files.bfdd) {
      this.procs.push(daemon('bfdd', ['--bfdctl', path.join(this.dir, 'bfdd.sock')]));
      await waitFor('bfdd', 10_000, async () => {
        this.checkRunning();
        return socketAnswers(path.join(this.dir, 'bfdd.vty'));
      });
    }
    this.procs.push(daemon('bgpd'));
    await waitFor('bgpd', 10_000, async () => {
      this.checkRunning();
      return socketAnswers(path.join(this.dir, 'bgpd.vty'));
    });
  }

  /** Runs vtysh commands against this instance (`show bgp ipv4 summary`, ...). */
  vtysh(...commands: string[]): Promise<string> {
    return run('vtysh', ['--vty_socket', this.dir, ...commands.flatMap((c) => ['-c', c])]);
  }

  /** Peers whose session is Established, from `show bgp neighbors json`. */
  async established(): Promise<string[]> {
    const out = await this.vtysh('show bgp neighbors json');
    const parsed = JSON.parse(out) as Record<string, { bgpState?: string }>;
    return Object.entries(parsed)
      .filter(([, v]) => v.bgpState === 'Established')
      .map(([k]) => k);
  }

  async diagnostics(): Promise<string> {
    const summary = await this.vtysh('show bgp summary', 'show ip route bgp').catch((e: Error) => e.message);
    return `vtysh:\n${summary}\nbgpd.log:\n${readTail(path.join(this.dir, 'bgpd.log'))}`;
  }
}
