// Restart storms: every speaker SIGKILLed at once and started again, round after round, while
// the client probes sampled IPs every 100 ms and captures each reply with its MAC. In no round
// may an IP be answered by two MACs, and after each round every IP must be answered again by
// exactly one node. How long the IPs go unanswered is a figure (printed), not an assertion: the
// machine may be loaded. Rounds: L2_RESTART_ROUNDS (default 5). Needs root.

import { isRoot, nodeHosts } from './lab.js';
import { L2Cluster, seedVip } from './l2-cluster.js';
import { ArpProbe, createL2Services, everyIpAnsweredOnce, sample, spread } from './l2-scale.js';

const root = isRoot();
if (!root) process.stderr.write('test/e2e/l2-restart.test.ts: SKIPPED, the network lab needs root\n');
const describeRoot = root ? describe : describe.skip;
const rounds = Number(process.env.L2_RESTART_ROUNDS ?? 5);

describeRoot('layer 2 through restart storms', () => {
  const cluster = new L2Cluster({ prefix: 'l2r-' });
  const report: string[] = [];
  let ips: string[] = [];
  let probe: ArpProbe | undefined;

  beforeAll(async () => {
    await cluster.up();
    const created = await createL2Services(cluster, {
      name: 'storm',
      cidr: '10.81.0.0/24',
      count: 200,
      timeoutMs: 300_000,
    });
    ips = [seedVip, ...sample([...created.ips.values()].sort(), 49)];
  }, 600_000);

  afterEach(async () => {
    await probe?.kill();
    probe = undefined;
  });

  afterAll(async () => {
    const left = await cluster.down();
    process.stderr.write(`\nlayer 2 restart storms:\n${report.map((l) => `  ${l}`).join('\n')}\n`);
    expect(left).toEqual([]);
  }, 90_000);

  it(`SIGKILL of every speaker and a restart, ${rounds} rounds: never two MACs, every IP answered again after each round`, async () => {
    await everyIpAnsweredOnce(cluster, ips, [...nodeHosts], 120_000);
    probe = await ArpProbe.start(cluster, ips, 100);
    for (let round = 1; round <= rounds; round++) {
      const t0 = Date.now();
      await Promise.all(nodeHosts.map((n) => cluster.killSpeaker(n)));
      for (const n of nodeHosts) cluster.startSpeaker(n);
      const scan = await everyIpAnsweredOnce(cluster, ips, [...nodeHosts], 120_000);
      const ticks = probe.ticks.filter((t) => t.at >= t0);
      const silent = ticks.filter((t) => t.answered === 0).length;
      report.push(
        `round ${round}: all ${ips.length} IPs answered again after ${((Date.now() - t0) / 1000).toFixed(1)} s ` +
          `(${silent} probe seconds with no answer at all); spread ${[...spread(scan)].map(([n, c]) => `${n} ${c}`).join(', ')}; ` +
          `two-MAC rounds so far ${probe.doubles.length}`,
      );
    }
    const done = await probe.stop();
    probe = undefined;
    report.push(
      `probe: ${done.rounds} rounds, ${done.unanswered} unanswered, ${done.doubles} answered by two MACs`,
    );
    expect(done.doubles).toBe(0);
  }, 1_200_000);
});
