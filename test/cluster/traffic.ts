// What a client sees while the cluster changes, and the BGP set-up of the scenarios: a request
// loop from the client namespace, the router's next hops sampled over time, and BgpMode (BIRD on
// the lab's router peering with the three nodes).

import fs from 'node:fs';
import path from 'node:path';
import { routeClientViaRouter } from '../demo/bgp.js';
import { repoRoot } from '../env/control-plane.js';
import { hostV4, labNet, nodeHosts, type LabProcess } from '../e2e/lab.js';
import { birdConfig } from '../e2e/router.js';
import { beaconNs, serviceIp } from './beacon.js';
import type { Cluster } from './cluster.js';
import { classifyFailures, parseCapture } from './request-failures.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface RequestCounts {
  ok: number;
  fail: number;
  /** Every failed request's line, with the client's frames from 4 s before to its end. */
  failures: string[];
  /** The failed requests reset because the Service IP moved while they were in flight. */
  resetByMove: string[];
  /** The other failures, with their frames: defects. */
  unexplained: string[];
  /** How many times the Service IP's announced MAC changed during the loop. */
  moves: number;
}

/**
 * A client that requests the Service IP in a loop; each request is one line: `ok <time>` or
 * `fail <time> curl=<exit code> http=<status>` (time: seconds since the epoch, for matching
 * a failure with the logs). Beside it, tcpdump keeps the client's ARP, ICMP and TCP resets
 * (same clock), and each failure is reported with those frames from 4 s before it to the end of
 * its 3 s timeout: who answered ARP for the IP, and whether a reset or an unreachable came back,
 * tell a gap in layer 2 answering from a node that refused the connection.
 */
export class RequestLoop {
  private readonly proc: LabProcess;
  private readonly frames: LabProcess;
  private readonly file: string;
  private readonly framesFile: string;

  constructor(cluster: Cluster, name: string) {
    this.file = path.join(cluster.lab.dir, 'logs', `requests-${name}.log`);
    this.framesFile = path.join(cluster.lab.dir, 'logs', `client-frames-${name}.log`);
    this.frames = cluster.lab.spawn(
      'client',
      'tcpdump',
      ['-i', 'eth0', '-n', '-e', '-l', '-tt', 'arp or icmp or (tcp[tcpflags] & tcp-rst != 0)'],
      { logFile: this.framesFile },
    );
    const script =
      `while :; do t=$(date +%s.%N); ` +
      `code=$(curl -s -o /dev/null -m 3 -w '%{http_code}' http://${serviceIp}/); rc=$?; ` +
      `if [ "$code" = 200 ]; then echo "ok $t"; else echo "fail $t curl=$rc http=$code"; fi; ` +
      `sleep 0.05; done`;
    this.proc = cluster.lab.spawn('client', 'sh', ['-c', script], { logFile: this.file });
  }

  lines(): string[] {
    return fs.existsSync(this.file) ? fs.readFileSync(this.file, 'utf8').split('\n') : [];
  }

  /**
   * Requests answered and failed; each failure with the client's frames around it, split into
   * the ones reset because the IP moved while they were in flight (request-failures.ts: a known
   * limit of layer 2 mode) and the unexplained; and how many times the IP moved.
   */
  counts(): RequestCounts {
    const lines = this.lines();
    const failed = lines.filter((l) => l.startsWith('fail '));
    const frames = fs.existsSync(this.framesFile) ? fs.readFileSync(this.framesFile, 'utf8').split('\n') : [];
    const withFrames = (l: string): string => {
      const at = Number(l.split(' ')[1]);
      const near = frames.filter((f) => {
        const t = Number(f.split(' ')[0]);
        return t >= at - 4 && t <= at + 3.5;
      });
      return [l, ...near.map((f) => `  ${f}`)].join('\n');
    };
    const capture = parseCapture(frames, serviceIp);
    const { resetByMove, other } = classifyFailures(failed, capture);
    return {
      ok: lines.filter((l) => l.startsWith('ok ')).length,
      fail: failed.length,
      failures: failed.map(withFrames),
      resetByMove,
      unexplained: other.map(withFrames),
      moves: capture.moves.length,
    };
  }

  async stop(): Promise<RequestCounts> {
    await this.proc.stop(1000);
    await this.frames.stop(1000);
    return this.counts();
  }
}

/** "N requests answered, M failed (K reset in flight when the IP moved; it moved J times)". */
export function describeCounts(c: RequestCounts): string {
  return (
    `${c.ok} requests answered, ${c.fail} failed ` +
    `(${c.resetByMove.length} reset in flight when the IP moved; the IP moved ${c.moves} times)`
  );
}

/**
 * What breaks the layer 2 scenarios' bar while the speakers roll (empty when it is met): any
 * failed request, or any move of the IP. A rolling update restarts each speaker in place
 * (layer 2 graceful restart, --layer2-restart-hold), so the IP stays on its node; a move would
 * reset the connections in flight through the old node (its kube-proxy's connection tracking
 * is per node), which is what the failures' frames then show.
 */
export function layer2RestartProblems(c: RequestCounts): string[] {
  const problems = [...c.resetByMove, ...c.unexplained];
  if (c.moves > 0) problems.push(`the IP moved ${c.moves} times during a rolling update`);
  return problems;
}

/**
 * The router's next hops for `ip`, sampled every 250 ms until stop(): every change, with the
 * time it was seen (seconds since the epoch, as the request loop writes them) and the next hop
 * the router's kernel picks for the client's packets to `ip` after it (`ip route get ... iif`),
 * so that a failed request can be matched with a change of the ECMP route that moved the
 * client's flow to another node.
 */
export class NexthopWatch {
  private readonly changes: string[] = [];
  private last: string | undefined;
  private running = true;
  private readonly done: Promise<void>;

  constructor(cluster: Cluster, ip: string) {
    const flowVia = async (): Promise<string> => {
      const res = await cluster.lab.exec(
        'router',
        'ip',
        ['route', 'get', ip, 'from', hostV4('client'), 'iif', 'eth0'],
        { check: false },
      );
      return /\bvia (\S+)/.exec(res.stdout)?.[1] ?? 'none';
    };
    this.done = (async () => {
      while (this.running) {
        const now = (Date.now() / 1000).toFixed(3);
        const hops = (await cluster.lab.routeNexthops(`${ip}/32`).catch(() => [] as string[]))
          .sort()
          .join(',');
        if (this.last !== undefined && hops !== this.last)
          this.changes.push(`${now} ${this.last} -> ${hops} (client flow via ${await flowVia()})`);
        this.last = hops;
        await sleep(250);
      }
    })();
  }

  async stop(): Promise<string[]> {
    this.running = false;
    await this.done;
    return this.changes;
  }
}

/**
 * The layer 2 example's pool announced over BGP instead (test/demo/seed-002-bgp.yaml with
 * graceful restart enabled on the BGPPeer, as a rolling update wants it): BIRD in the router
 * namespace peers with the three nodes (BIRD is "graceful restart aware" by default: it keeps a
 * restarting speaker's routes as stale, RFC 4724 §4.2); the client reaches `clientIps` via the
 * router, which spreads flows over the nodes that announce them.
 */
export class BgpMode {
  private constructor(
    private readonly cluster: Cluster,
    private readonly bird: LabProcess,
    readonly logFile: string,
    private readonly clientIps: string[],
  ) {}

  static readonly seedFile = path.join(repoRoot, 'test/demo/seed-002-bgp.yaml');

  /**
   * `gracefulRestart: false` applies the seed's BGPPeer as it is: the speakers then withdraw
   * their routes on SIGTERM (docs/bgp.md, Shutdown).
   */
  static async start(cluster: Cluster, clientIps: string[], gracefulRestart = true): Promise<BgpMode> {
    const dir = path.join(cluster.lab.dir, 'bird');
    fs.mkdirSync(dir, { recursive: true });
    const conf = path.join(dir, 'bird.conf');
    const logFile = path.join(dir, 'bird.log');
    const peers = nodeHosts.map((n) => ({ address: hostV4(n), asn: labNet.routerAsn }));
    fs.writeFileSync(conf, birdConfig({ asn: labNet.routerAsn, peers }, logFile));
    const bird = cluster.lab.spawn('router', 'bird', ['-f', '-c', conf, '-s', path.join(dir, 'bird.ctl')]);
    const mode = new BgpMode(cluster, bird, logFile, clientIps);
    const seed = fs.readFileSync(BgpMode.seedFile, 'utf8');
    const withGr = seed.replace(/^( {2}connectTime: 1s)$/m, '$1\n  enableGracefulRestart: true');
    if (withGr === seed) throw new Error(`${BgpMode.seedFile}: no BGPPeer connectTime line to add to`);
    await cluster.kubectl(['delete', 'l2advertisement', 'example', '-n', beaconNs, '--ignore-not-found']);
    await cluster.kubectl(['apply', '-f', '-'], gracefulRestart ? withGr : seed);
    for (const ip of clientIps) await routeClientViaRouter(cluster.lab, ip);
    return mode;
  }

  birdLog(lines = 40): string[] {
    return fs.existsSync(this.logFile) ? fs.readFileSync(this.logFile, 'utf8').split('\n').slice(-lines) : [];
  }

  /** Back to layer 2: the seed's L2Advertisement, no BGP objects, no client routes, no BIRD. */
  async stop(): Promise<void> {
    await this.cluster.kubectl(['delete', '-f', BgpMode.seedFile, '--ignore-not-found']).catch(() => '');
    await this.cluster.kubectl(['apply', '-f', path.join(repoRoot, 'manifests/samples/seed-002.yaml')]);
    for (const ip of this.clientIps)
      await this.cluster.lab.exec('client', 'ip', ['route', 'del', `${ip}/32`], { check: false });
    await this.bird.stop();
  }
}
