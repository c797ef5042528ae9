// The L2 data plane on real sockets: a fixture process in a node namespace owns a Service IP
// with the responder, announcer and interface watcher (speaker/layer2/responder), the kube-proxy stand-in
// serves HTTP on the IP in every node, and the client — a real Linux kernel — resolves,
// connects, and follows the IP when ownership moves. Needs root (network namespaces).
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { Lab, hostMac, hostSeedV4, isRoot, type LabProcess, type NodeHost } from './lab.js';
import { KubeProxy } from './proxy.js';

const VIP4 = '192.168.10.222';
const VIP6 = 'fd00:77::200:10';
const repo = process.cwd();
const fixture = path.join(repo, 'dist/test/e2e/fixtures/l2-speaker.js');
const injector = path.join(repo, 'dist/test/e2e/fixtures/l2-inject.js');
const corpus = path.join(repo, 'speaker/layer2/wire/testdata/malformed');

const root = isRoot();
if (!root) process.stderr.write('test/e2e/l2-responder.test.ts: SKIPPED, the network lab needs root\n');
const describeRoot = root ? describe : describe.skip;

interface Speaker {
  proc: LabProcess;
  lines: () => Record<string, unknown>[];
}

/** Replies (MAC and round-trip ms) from `arping` output. */
function parseArping(out: string): { macs: Set<string>; ms: number[] } {
  const macs = new Set<string>();
  const ms: number[] = [];
  for (const m of out.matchAll(/reply from \S+ \[([0-9a-f:]+)\]\s+([\d.]+)ms/gi)) {
    macs.add((m[1] ?? '').toLowerCase());
    ms.push(Number(m[2]));
  }
  return { macs, ms };
}

function summary(ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  const avg = s.reduce((a, b) => a + b, 0) / Math.max(1, s.length);
  const p50 = s[Math.floor(s.length / 2)] ?? NaN;
  return `n=${s.length} min ${s[0]?.toFixed(3)} avg ${avg.toFixed(3)} p50 ${p50.toFixed(3)} max ${s[s.length - 1]?.toFixed(3)} ms`;
}

describeRoot('L2 responder and announcer in the lab', () => {
  const lab = new Lab({ prefix: 'l2d-' });
  const proxy = new KubeProxy(lab);
  const report: string[] = [];

  function startSpeaker(node: NodeHost): Speaker {
    const proc = lab.spawn(
      node,
      process.execPath,
      [fixture, '--ip', VIP4, '--ip', VIP6, '--interface', 'eth0'],
      {
        stdio: 'pipe',
      },
    );
    let buffer = '';
    const parsed: Record<string, unknown>[] = [];
    proc.child.stdout?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      const parts = buffer.split('\n');
      buffer = parts.pop() ?? '';
      for (const line of parts) {
        try {
          parsed.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          // not JSON: ignore
        }
      }
    });
    return { proc, lines: () => parsed };
  }

  async function statsOf(speaker: Speaker): Promise<Record<string, unknown>> {
    const before = speaker.lines().filter((l) => l.event === 'stats').length;
    process.kill(speaker.proc.pid, 'SIGUSR2');
    const deadline = Date.now() + 3000;
    while (Date.now() < deadline) {
      const all = speaker.lines().filter((l) => l.event === 'stats');
      if (all.length > before) return all[all.length - 1] ?? {};
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error('no stats from the fixture');
  }

  async function arping(
    ip: string,
    count: number,
  ): Promise<{ code: number; macs: Set<string>; ms: number[] }> {
    const res = await lab.exec(
      'client',
      'arping',
      ['-I', 'eth0', '-c', String(count), '-w', String(count + 2), ip],
      {
        check: false,
        timeoutMs: (count + 5) * 1000,
      },
    );
    return { code: res.code, ...parseArping(res.stdout) };
  }

  async function clientNeighbor(ip: string): Promise<string> {
    const res = await lab.exec('client', 'ip', ['neigh', 'show', ip, 'dev', 'eth0']);
    return res.stdout.trim();
  }

  let node1: Speaker | undefined;
  let node2: Speaker | undefined;

  beforeAll(async () => {
    // The fixtures run from dist/: compiled by `npx tsc -p tsconfig.build.json` before the run.
    execFileSync('test', ['-f', fixture]);
    await lab.up({ guard: true });
    await proxy.addServiceIP(VIP4, 80);
    await proxy.addServiceIP(VIP6, 80);
  }, 60_000);

  afterAll(async () => {
    for (const s of [node1, node2]) await s?.proc.stop().catch(() => undefined);
    await proxy.stop().catch(() => undefined);
    await lab.down();
    lab.assertClean();
    if (report.length > 0)
      process.stdout.write(`\nL2 measurements\n${report.map((l) => `  ${l}\n`).join('')}`);
  });

  it('leaves the Service IP unanswered while no responder owns it: node kernels stay silent', async () => {
    const res = await arping(VIP4, 2);
    expect(res.code).toBe(1);
    expect(res.macs.size).toBe(0);
  });

  it('answers ARP from node1 only, and the client reaches node1 over HTTP', async () => {
    node1 = startSpeaker('node1');
    await node1.proc.waitForOutput(/"event":"ready"/);
    const ready = node1.lines().find((l) => l.event === 'ready');
    expect(ready?.placement).toEqual({ [VIP4]: ['eth0'], [VIP6]: ['eth0'] });

    const res = await arping(VIP4, 3);
    expect(res.code).toBe(0);
    expect([...res.macs]).toEqual([hostMac('node1')]);

    const curl = await lab.exec('client', 'curl', ['-sS', '--max-time', '3', `http://${VIP4}/`]);
    expect(curl.stdout.trim()).toBe('node1');
    expect(await clientNeighbor(VIP4)).toContain(`lladdr ${hostMac('node1')}`);
  });

  it('answers NDP from node1: ping6 works and the client resolves the IPv6 Service IP to node1', async () => {
    await lab.exec('client', 'ping', ['-6', '-c', '2', '-W', '2', VIP6]);
    expect(await clientNeighbor(VIP6)).toContain(`lladdr ${hostMac('node1')}`);
    // A unicast NUD probe (RFC 4861 §7.3.3; MetalLB issue 2920 leaves it unanswered): mark the
    // entry STALE and send traffic; after DELAY_FIRST_PROBE_TIME (set to 1 s here) the client's
    // kernel sends an NS to the Service IP itself, unicast to node1's MAC. Only an answer to
    // that probe brings the entry back to REACHABLE.
    await lab.exec('client', 'sysctl', ['-qw', 'net.ipv6.neigh.eth0.delay_first_probe_time=1']);
    await lab.exec('client', 'ip', [
      '-6',
      'neigh',
      'change',
      VIP6,
      'dev',
      'eth0',
      'lladdr',
      hostMac('node1'),
      'nud',
      'stale',
    ]);
    await lab.exec('client', 'ping', ['-6', '-c', '1', '-W', '2', VIP6]);
    const deadline = Date.now() + 5000;
    let neigh = await clientNeighbor(VIP6);
    while (!/REACHABLE/.test(neigh) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      neigh = await clientNeighbor(VIP6);
    }
    expect(neigh).toMatch(new RegExp(`lladdr ${hostMac('node1')} .*REACHABLE`));
    const stats = await statsOf(node1 as Speaker);
    const responses = stats.responsesSent as Record<string, number>;
    expect(responses[VIP6]).toBeGreaterThanOrEqual(2);
  }, 30_000);

  it('keeps answering after a malformed-frame corpus is replayed onto the segment', async () => {
    const speaker = node1 as Speaker;
    const before = await statsOf(speaker);
    const inject = await lab.exec('client', process.execPath, [injector, corpus, 'eth0', '20']);
    expect(inject.stdout).toMatch(/^sent \d+/);
    const after = await statsOf(speaker);
    expect(speaker.proc.child.exitCode).toBeNull();
    expect(Number(after.malformed)).toBeGreaterThan(Number(before.malformed));
    report.push(
      `malformed corpus: ${inject.stdout.trim()} frames injected; responder counted ${Number(after.malformed) - Number(before.malformed)} malformed (${JSON.stringify(after.malformedByReason)})`,
    );
    const res = await arping(VIP4, 2);
    expect([...res.macs]).toEqual([hostMac('node1')]);
  });

  it('answers ARP about as fast as the node kernel answers for its own address', async () => {
    // Same run, same path: the VIP (userspace, node1) and node1's real seed-subnet address (kernel).
    const vip = await arping(VIP4, 20);
    const kernel = await arping(hostSeedV4('node1'), 20);
    expect(vip.ms).toHaveLength(20);
    expect(kernel.ms).toHaveLength(20);
    expect([...vip.macs]).toEqual([hostMac('node1')]);
    report.push(`ARP reply latency, userspace responder (${VIP4}): ${summary(vip.ms)}`);
    report.push(`ARP reply latency, node1 kernel (${hostSeedV4('node1')}): ${summary(kernel.ms)}`);
  }, 60_000);

  it('moves the IP to node2: the gratuitous ARP switches the client entry without waiting for expiry', async () => {
    expect(await clientNeighbor(VIP4)).toContain(hostMac('node1'));
    await (node1 as Speaker).proc.stop();
    node1 = undefined;

    const capture = lab.spawn(
      'client',
      'tcpdump',
      ['--immediate-mode', '-l', '-tt', '-nei', 'eth0', 'arp and arp[14:4] = arp[24:4]'],
      {
        stdio: 'pipe',
      },
    );
    try {
      await capture.waitForOutput(/listening on/);
      const started = Date.now();
      node2 = startSpeaker('node2');
      const line = await capture.waitForOutput(
        new RegExp(`^\\d+\\.\\d+ ${hostMac('node2')} > ff:ff:ff:ff:ff:ff.*${VIP4.replace(/\./g, '\\.')}`),
        10_000,
      );
      const seenAt = Number(line.split(' ')[0]) * 1000;
      await node2.proc.waitForOutput(/"event":"ready"/);
      const announced = node2.lines().find((l) => l.event === 'announced' && l.ip === VIP4);
      report.push(
        `takeover: node2 process start -> first GARP seen on the client: ${(seenAt - started).toFixed(1)} ms` +
          ` (inside the fixture: ${String(announced?.sinceStartMs)} ms from process start to send)`,
      );
      // The client's existing entry changed at once (REACHABLE/STALE with node2's MAC).
      const deadline = Date.now() + 1000;
      let neigh = await clientNeighbor(VIP4);
      while (!neigh.includes(hostMac('node2')) && Date.now() < deadline) neigh = await clientNeighbor(VIP4);
      expect(neigh).toContain(`lladdr ${hostMac('node2')}`);
      report.push(`client neighbour entry after takeover: ${neigh}`);
    } finally {
      await capture.stop();
    }
    const curl = await lab.exec('client', 'curl', ['-sS', '--max-time', '3', `http://${VIP4}/`]);
    expect(curl.stdout.trim()).toBe('node2');
    const res = await arping(VIP4, 3);
    expect([...res.macs]).toEqual([hostMac('node2')]);
    // IPv6 followed via the unsolicited NA (O=1).
    await lab.exec('client', 'ping', ['-6', '-c', '1', '-W', '2', VIP6]);
    expect(await clientNeighbor(VIP6)).toContain(`lladdr ${hostMac('node2')}`);
    const stats = await statsOf(node2 as Speaker);
    expect((stats.gratuitousSent as Record<string, number>)[VIP4]).toBeGreaterThanOrEqual(2);
  }, 30_000);
});
