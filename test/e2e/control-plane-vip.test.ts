// `beacon-speaker control-plane` on the lab: three control-plane nodes, each with a real
// kube-apiserver over one shared etcd and the speaker serving the VIP 10.77.0.50 in layer 2
// mode; the client — a real Linux kernel — sends a request to https://VIP:6443 every 50 ms on a
// new connection, runs kubectl through the VIP, and arpings the VIP all along. Each fault is
// done to the VIP owner's API server or to the owner itself; the VIP must move to another node
// and the API be reachable through it again, and two MACs must never answer one ARP request.
// Ownership is sticky: when the faulted node recovers the VIP stays where it moved (no take-over
// announced after the heal), and a partition in which both sides stay up heals to the node that
// served the clients meanwhile.
// Outage figures are printed, not asserted (they are the benchmark's job). Needs root.

import { hostMac, isRoot, nodeHosts, processAlive, type NodeHost } from './lab.js';
import {
  ControlPlaneLab,
  cpVip,
  waitFor,
  sleep,
  type ArpWatch,
  type RequestLoop,
} from './control-plane-lab.js';

const root = isRoot();
if (!root) process.stderr.write('test/e2e/control-plane-vip.test.ts: SKIPPED, the network lab needs root\n');
const describeRoot = root ? describe : describe.skip;

describeRoot('control-plane VIP on the lab', () => {
  const cpl = new ControlPlaneLab(process.env.LAB_PREFIX ?? 'cpv-');
  let loop: RequestLoop | undefined;
  let arp: ArpWatch | undefined;
  const report: string[] = [];

  beforeAll(async () => {
    await cpl.up();
    loop = cpl.startRequestLoop();
    arp = await cpl.startArpWatch();
  }, 15 * 60_000);

  afterAll(async () => {
    try {
      await loop?.stop();
      await arp?.stop();
    } finally {
      await cpl.down();
      if (report.length > 0) process.stdout.write(`control-plane VIP faults:\n${report.join('\n')}\n`);
    }
  }, 120_000);

  /** Requests through the VIP succeed again (three in a row after `since`). */
  const apiBack = (since: number): Promise<true> =>
    waitFor('requests through the VIP to succeed again', 60_000, async () => {
      const after = loop!.requests.filter((r) => r.at > since);
      const tail = after.slice(-3);
      return tail.length === 3 && tail.every((r) => r.ok) ? true : undefined;
    });

  /** Does `fault` to the owner, waits for the VIP on another node, records the outage. */
  async function moves(
    name: string,
    fault: (owner: NodeHost) => Promise<void>,
    heal: (owner: NodeHost) => Promise<void>,
  ) {
    const owner = await cpl.owner(30_000);
    const t0 = Date.now();
    report.push(`  ${new Date(t0).toISOString()} ${name} on ${owner}`);
    await fault(owner);
    const next = await cpl.owner(60_000, owner);
    expect(next).not.toBe(owner);
    const nodes = await cpl.kubectl(['get', 'nodes', '-o', 'name']);
    expect(nodes.stdout.trim().split('\n').sort()).toEqual(nodeHosts.map((n) => `node/${n}`));
    await apiBack(t0);
    const o = loop!.outage(t0, Date.now());
    report.push(
      `  ${name}: ${owner} → ${next}; outage ${Math.round(o.outageMs)} ms, ${o.failed}/${o.total} requests failed`,
    );
    const healedAt = Date.now();
    await heal(owner);
    await stays(next, owner, healedAt, name);
  }

  /**
   * After `healed` is back (its API server ready, so a candidate again two probes later): the
   * VIP stays on `owner` — sticky ownership, no second outage — which the client's wire shows
   * as no other node announcing a take-over since the heal, and arping as `owner` answering.
   * (`owner` itself may announce again: when it hears from a node it believed dead it pauses
   * its answers for a settle time, and announces when it resumes.)
   */
  async function stays(owner: NodeHost, healed: NodeHost, since: number, name: string): Promise<void> {
    // Long enough for the healed node to be probed ready (rise 2 × 200 ms) and join.
    await sleep(3000);
    expect(await cpl.owner(60_000)).toBe(owner);
    expect(arp!.takeOvers.filter((t) => t.at >= since && t.mac !== hostMac(owner).toLowerCase())).toEqual([]);
    await apiBack(Date.now());
    const o = loop!.outage(since, Date.now());
    report.push(
      `  ${name}: ${healed} back, the VIP stays on ${owner}; ${o.failed}/${o.total} requests failed since`,
    );
  }

  it('one node answers the VIP and kubectl reaches the API servers through it', async () => {
    const owner = await cpl.owner(30_000);
    expect(nodeHosts).toContain(owner);
    const nodes = await cpl.kubectl(['get', 'nodes', '-o', 'name']);
    expect(nodes.code).toBe(0);
    expect(nodes.stdout.trim().split('\n').sort()).toEqual(nodeHosts.map((n) => `node/${n}`));
    await apiBack(0);
  }, 120_000);

  it('moves when the owner’s API server is killed (SIGKILL)', async () => {
    await moves(
      'SIGKILL of the API server',
      async (owner) => {
        const p = cpl.apiservers.get(owner)!;
        process.kill(p.pid, 'SIGKILL');
        await p.exited;
      },
      async (owner) => {
        cpl.startApiServer(owner);
        await cpl.waitApiServer(owner, 180_000);
      },
    );
  }, 600_000);

  it('moves when the owner’s API server stops gracefully (SIGTERM)', async () => {
    await moves(
      'graceful stop of the API server',
      async (owner) => {
        await cpl.apiservers.get(owner)!.stop(30_000);
      },
      async (owner) => {
        cpl.startApiServer(owner);
        await cpl.waitApiServer(owner, 180_000);
      },
    );
  }, 600_000);

  it('moves when the owner’s API server hangs (SIGSTOP)', async () => {
    await moves(
      'SIGSTOP of the API server',
      async (owner) => {
        process.kill(cpl.apiservers.get(owner)!.pid, 'SIGSTOP');
      },
      async (owner) => {
        process.kill(cpl.apiservers.get(owner)!.pid, 'SIGCONT');
        await cpl.waitApiServer(owner, 180_000);
      },
    );
  }, 600_000);

  it('moves when the owner is unplugged, and one node answers after it is back', async () => {
    await moves(
      'owner unplugged',
      async (owner) => {
        await cpl.lab.unplug(owner);
      },
      async (owner) => {
        await cpl.lab.plug(owner);
        await sleep(2000);
      },
    );
  }, 600_000);

  it('a partition with both sides up (owner cut off, its API server ready) heals to one owner: the one that served meanwhile', async () => {
    const owner = await cpl.owner(30_000);
    const t0 = Date.now();
    report.push(
      `  ${new Date(t0).toISOString()} partition: ${owner} cut off from the other nodes and the client`,
    );
    try {
      await cpl.isolate(owner);
      const next = await cpl.owner(60_000, owner);
      await apiBack(t0);
      // Both sides up: the cut-off node's API server is still ready (etcd is on the router).
      await cpl.waitApiServer(owner, 10_000);
      const o = loop!.outage(t0, Date.now());
      report.push(
        `  partition: ${owner} → ${next}; outage ${Math.round(o.outageMs)} ms, ${o.failed}/${o.total} failed`,
      );
      // Let the cut-off node find itself alone and rejoin on its side.
      await sleep(3000);
      const healedAt = Date.now();
      await cpl.heal();
      await stays(next, owner, healedAt, 'partition healed');
      // One node answers, as the capture saw it since the heal.
      expect(arp!.doubleAnswers(healedAt)).toEqual([]);
    } finally {
      await cpl.heal();
    }
  }, 600_000);

  it('fails over with two control-plane nodes left (no Lease, no quorum of the API needed)', async () => {
    // A third node leaves for good: its speaker stops (it tells its peers) and its API server too.
    const owner = await cpl.owner(30_000);
    const gone = nodeHosts.find((n) => n !== owner)!;
    await cpl.speakers.get(gone)!.stop(30_000);
    cpl.speakers.delete(gone);
    await cpl.apiservers.get(gone)!.stop(30_000);
    await moves(
      `SIGKILL of the API server, two nodes (${gone} gone)`,
      async (o) => {
        const p = cpl.apiservers.get(o)!;
        process.kill(p.pid, 'SIGKILL');
        await p.exited;
      },
      async (o) => {
        cpl.startApiServer(o);
        await cpl.waitApiServer(o, 180_000);
      },
    );
  }, 600_000);

  it('never had two MACs answer one ARP request for the VIP, and every speaker is still running', () => {
    expect(arp!.answers).toBeGreaterThan(0);
    expect(arp!.doubleAnswers()).toEqual([]);
    for (const [node, p] of cpl.speakers) expect([node, processAlive(p.pid)]).toEqual([node, true]);
    report.push(
      `  ARP on the client's wire for ${cpVip}: ${arp!.requests} requests, ${arp!.answers} answers, ` +
        `${arp!.gratuitous} gratuitous replies, requests answered by two MACs: 0`,
    );
  });
});
