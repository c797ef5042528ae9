// `beacon-speaker control-plane --mode bgp` on the lab: the three control-plane nodes announce
// the VIP 10.77.100.50/32 with next hop self to BIRD on the router (iBGP, BFD 100 ms × 3), which
// installs one ECMP route with a next hop per ready API server; the client reaches
// https://VIP:6443 through the router, a new connection per request. A node whose API server
// is killed, stopped gracefully or hung is withdrawn (its next hop leaves the router's FIB)
// and comes back when it is ready again; an unplugged node is withdrawn by BFD. Outage figures
// are printed, not asserted. Needs root.

import { hostV4, isRoot, nodeHosts, type NodeHost } from './lab.js';
import { ControlPlaneLab, waitFor, type RequestLoop } from './control-plane-lab.js';

const root = isRoot();
if (!root) process.stderr.write('test/e2e/control-plane-bgp.test.ts: SKIPPED, the network lab needs root\n');
const describeRoot = root ? describe : describe.skip;

describeRoot('control-plane VIP in BGP mode on the lab', () => {
  const cpl = new ControlPlaneLab(process.env.LAB_PREFIX ?? 'cpb-', { mode: 'bgp' });
  let loop: RequestLoop | undefined;
  const report: string[] = [];

  beforeAll(async () => {
    await cpl.up();
    loop = cpl.startRequestLoop();
  }, 15 * 60_000);

  afterAll(async () => {
    try {
      await loop?.stop();
    } finally {
      await cpl.down();
      if (report.length > 0) process.stdout.write(`control-plane VIP (BGP) faults:\n${report.join('\n')}\n`);
    }
  }, 120_000);

  const all = nodeHosts.map(hostV4).sort();
  const without = (node: NodeHost): string[] => all.filter((a) => a !== hostV4(node));

  const apiBack = (since: number): Promise<true> =>
    waitFor('requests through the VIP to succeed again', 60_000, async () => {
      const tail = loop!.requests.filter((r) => r.at > since).slice(-5);
      return tail.length === 5 && tail.every((r) => r.ok) ? true : undefined;
    });

  async function withdrawn(
    name: string,
    node: NodeHost,
    fault: () => Promise<void>,
    heal: () => Promise<void>,
  ) {
    const t0 = Date.now();
    await fault();
    expect((await cpl.nexthops(2, 60_000)).sort()).toEqual(without(node));
    await apiBack(t0);
    const o = loop!.outage(t0, Date.now());
    report.push(
      `  ${name} on ${node}: outage ${Math.round(o.outageMs)} ms, ${o.failed}/${o.total} requests failed`,
    );
    await heal();
    expect((await cpl.nexthops(3, 180_000)).sort()).toEqual(all);
    await apiBack(Date.now());
  }

  it('the router has one next hop per ready API server, and kubectl works through the VIP', async () => {
    expect((await cpl.nexthops(3, 30_000)).sort()).toEqual(all);
    const nodes = await cpl.kubectl(['get', 'nodes', '-o', 'name']);
    expect(nodes.code).toBe(0);
    expect(nodes.stdout.trim().split('\n').sort()).toEqual(nodeHosts.map((n) => `node/${n}`));
    await apiBack(0);
  }, 120_000);

  it('withdraws a node whose API server is killed, and announces it again when it is back', async () => {
    const p = cpl.apiservers.get('node1')!;
    await withdrawn(
      'SIGKILL of the API server',
      'node1',
      async () => {
        process.kill(p.pid, 'SIGKILL');
        await p.exited;
      },
      async () => {
        cpl.startApiServer('node1');
        await cpl.waitApiServer('node1', 180_000);
      },
    );
  }, 600_000);

  it('withdraws a node whose API server stops gracefully', async () => {
    await withdrawn(
      'graceful stop of the API server',
      'node2',
      () => cpl.apiservers.get('node2')!.stop(30_000),
      async () => {
        cpl.startApiServer('node2');
        await cpl.waitApiServer('node2', 180_000);
      },
    );
  }, 600_000);

  it('withdraws a node whose API server hangs (SIGSTOP)', async () => {
    const pid = cpl.apiservers.get('node3')!.pid;
    await withdrawn(
      'SIGSTOP of the API server',
      'node3',
      async () => void process.kill(pid, 'SIGSTOP'),
      async () => {
        process.kill(pid, 'SIGCONT');
        await cpl.waitApiServer('node3', 180_000);
      },
    );
  }, 600_000);

  it('withdraws an unplugged node (BFD), and announces it again when it is back', async () => {
    await withdrawn(
      'node unplugged',
      'node1',
      () => cpl.lab.unplug('node1'),
      () => cpl.lab.plug('node1'),
    );
  }, 600_000);
});
