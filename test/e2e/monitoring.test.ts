// The monitoring kit (monitoring/) against a real Prometheus scraping the lab's controller and
// speakers: during a layer 2 failover (the owner's speaker SIGKILLed), a station answering ARP
// for an owned IP, and a BGP session drop (BIRD disables one neighbor), the matching alerts go
// pending → firing → resolved, and at the end every dashboard panel's query returns data. The
// binaries' real /metrics pass `promtool check metrics` (MetalLB's names aside) and match
// docs/metrics.md. Its own control plane and lab (prefix $LAB_PREFIX or mon-), the layer 2 example as in
// l2-cluster.ts, plus a pool pinned to one node, a BGP pool announced to BIRD with BFD, and a
// Service that cannot get an address.
//
// The rules are monitoring/alerts.yaml with every `for:` shortened to 5s (and scrapes and
// evaluations every second), so that an alert's whole life fits in the test; the expressions,
// windows and thresholds are the shipped ones. Needs root.

import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import yaml from 'js-yaml';
import { freePort } from '../env/control-plane.js';
import { endpointSliceObject } from '../demo/objects.js';
import {
  alertsFile,
  dashboardQueries,
  controlPlaneOnlyFamilies,
  expandGrafanaVariables,
  isDefaultMetric,
  lintFindings,
  metallbNameFindings,
  metricsDocFile,
  parseMetricsDoc,
  promtool,
  readDashboard,
} from '../support/monitoring-kit.js';
import { hostV4, isRoot, labNet, nodeHosts, type NodeHost } from './lab.js';
import { GratuitousCapture, L2Cluster, seedVip, speakerMetricsPort, waitFor } from './l2-cluster.js';
import { AlertTimeline, LabPrometheus } from './prometheus.js';
import { BirdRouter } from './router.js';

const ns = 'metallb-system';
const PINNED = { name: 'mon-pinned', ip: '10.77.0.241' };
const BGP = { name: 'mon-bgp', ip: '10.77.100.20' };
const PENDING = { name: 'mon-pending', ip: '10.99.99.99' };
const SPEAKER_ASN = 64512;
const FOR = '5s';

const root = isRoot();
if (!root) process.stderr.write('test/e2e/monitoring.test.ts: SKIPPED, the network lab needs root\n');
const describeRoot = root ? describe : describe.skip;

/** monitoring/alerts.yaml with every `for:` set to FOR (expressions untouched). */
function testRules(): unknown {
  const doc = yaml.load(fs.readFileSync(alertsFile, 'utf8')) as {
    groups: Array<{ rules: Array<{ for?: string }> }>;
  };
  for (const g of doc.groups) for (const r of g.rules) if (r.for !== undefined) r.for = FOR;
  return doc;
}

/** Root-namespace 127.0.0.1:<port> → the speaker's 127.0.0.1:7472 in its node namespace. */
async function relaySpeakerMetrics(cluster: L2Cluster, node: NodeHost): Promise<number> {
  const lab = cluster.lab;
  const socket = path.join(lab.dir, `metrics-${node}.sock`);
  lab.spawn(node, 'socat', [
    `UNIX-LISTEN:${socket},fork,unlink-early,mode=600`,
    `TCP4:127.0.0.1:${speakerMetricsPort}`,
  ]);
  await waitFor(
    `metrics relay socket of ${node}`,
    5000,
    async () => (fs.existsSync(socket) ? true : undefined),
    20,
  );
  const port = await freePort();
  lab.spawnRoot(
    'socat',
    [`TCP4-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork`, `UNIX-CONNECT:${socket}`],
    `metrics-relay-${node}.log`,
  );
  await waitFor(`metrics relay port of ${node}`, 5000, () => connects(port), 20);
  return port;
}

function connects(port: number): Promise<true | undefined> {
  return new Promise((resolve) => {
    const s = net.createConnection({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(undefined));
  });
}

async function scrape(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  if (!res.ok) throw new Error(`GET 127.0.0.1:${port}/metrics: ${res.status}`);
  return res.text();
}

const show = (labels: Record<string, string>, keep: readonly string[]): string =>
  Object.entries(labels)
    .filter(([k]) => keep.length === 0 || keep.includes(k))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');

// Each case checks the first three states of its alerts after the event; anything later (a BFD
// flap on a loaded machine, say) is printed with the whole timeline.
describeRoot('the monitoring kit against a real Prometheus in the lab', () => {
  const cluster = new L2Cluster({ prefix: process.env.LAB_PREFIX ?? 'mon-' });
  const report: string[] = [];
  const speakerPorts = new Map<NodeHost, number>();
  let prometheus: LabPrometheus | undefined;
  let timeline: AlertTimeline | undefined;
  let router: BirdRouter | undefined;
  /** The node that owns the layer 2 example's IP at the start, the only one the pinned pool may use. */
  let pinnedOwner: NodeHost | undefined;
  const startedAt = Date.now();

  const prom = (): LabPrometheus => {
    if (prometheus === undefined) throw new Error('prometheus is not running');
    return prometheus;
  };
  const alerts = (): AlertTimeline => {
    if (timeline === undefined) throw new Error('no alert timeline');
    return timeline;
  };

  beforeAll(async () => {
    await cluster.up();
    const owner = await cluster.owner(seedVip, 10_000);
    pinnedOwner = owner;

    // A pool only `owner` may announce (its IP has no owner while that speaker is down), a
    // Service no pool can serve, and a BGP pool announced to BIRD over sessions with BFD.
    await cluster.applyObject('pinned', {
      apiVersion: 'v1',
      kind: 'List',
      items: [
        {
          apiVersion: 'metallb.io/v1beta1',
          kind: 'IPAddressPool',
          metadata: { name: PINNED.name, namespace: ns },
          spec: { addresses: [`${PINNED.ip}/32`], autoAssign: false },
        },
        {
          apiVersion: 'metallb.io/v1beta1',
          kind: 'L2Advertisement',
          metadata: { name: PINNED.name, namespace: ns },
          spec: {
            ipAddressPools: [PINNED.name],
            nodeSelectors: [{ matchLabels: { 'kubernetes.io/hostname': owner } }],
          },
        },
        {
          apiVersion: 'metallb.io/v1beta1',
          kind: 'IPAddressPool',
          metadata: { name: BGP.name, namespace: ns },
          spec: { addresses: [labNet.bgpRangeV4], autoAssign: false },
        },
        {
          apiVersion: 'metallb.io/v1beta1',
          kind: 'BGPAdvertisement',
          metadata: { name: BGP.name, namespace: ns },
          spec: { ipAddressPools: [BGP.name] },
        },
        {
          apiVersion: 'metallb.io/v1beta1',
          kind: 'BFDProfile',
          metadata: { name: BGP.name, namespace: ns },
          spec: { receiveInterval: 300, transmitInterval: 300, detectMultiplier: 3 },
        },
        {
          apiVersion: 'metallb.io/v1beta2',
          kind: 'BGPPeer',
          metadata: { name: BGP.name, namespace: ns },
          spec: {
            myASN: SPEAKER_ASN,
            peerASN: labNet.routerAsn,
            peerAddress: hostV4('router'),
            connectTime: '1s',
            bfdProfile: BGP.name,
          },
        },
      ],
    });
    const service = (name: string, annotations: Record<string, string>): object => ({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace: 'default', annotations },
      spec: { type: 'LoadBalancer', ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
    });
    const slice = (name: string): object =>
      endpointSliceObject({
        service: name,
        namespace: 'default',
        port: { name: 'http', port: 80, protocol: 'TCP' },
      });
    await cluster.applyObject('services', {
      apiVersion: 'v1',
      kind: 'List',
      items: [
        service(PINNED.name, { 'metallb.io/address-pool': PINNED.name }),
        slice(PINNED.name),
        service(BGP.name, { 'metallb.io/loadBalancerIPs': BGP.ip }),
        slice(BGP.name),
        service(PENDING.name, { 'metallb.io/loadBalancerIPs': PENDING.ip }),
      ],
    });
    router = new BirdRouter(cluster.lab, {
      asn: labNet.routerAsn,
      peers: nodeHosts.map((n) => ({ address: hostV4(n), asn: SPEAKER_ASN })),
      bfd: { intervalMs: 300, multiplier: 3 },
    });
    await router.start();

    for (const node of nodeHosts) speakerPorts.set(node, await relaySpeakerMetrics(cluster, node));
    prometheus = new LabPrometheus({
      lab: cluster.lab,
      rules: testRules(),
      jobs: [
        { job: 'beacon-controller', targets: [{ address: `127.0.0.1:${cluster.controllerMetricsPort}` }] },
        {
          job: 'beacon-speaker',
          honorLabels: true,
          targets: nodeHosts.map((n) => ({
            address: `127.0.0.1:${speakerPorts.get(n)}`,
            labels: { node: n },
          })),
        },
      ],
    });
    await prometheus.start();
    timeline = new AlertTimeline(prometheus);
    timeline.start();

    await waitFor(`${PINNED.ip} answered by ${owner}`, 20_000, async () => {
      const a = await cluster.arpAnswers(PINNED.ip, 2);
      return a.length === 1 && a[0]?.node === owner ? true : undefined;
    });
    const bird = router;
    await waitFor('three Established BGP sessions at BIRD', 30_000, async () =>
      (await bird.established()).length === 3 ? true : undefined,
    );
    await waitFor('every target up and every BGP and BFD session up in Prometheus', 30_000, async () => {
      const up = await prom().query('sum(up)');
      const bgp = await prom().query('sum(metallb_bgp_session_up)');
      const bfd = await prom().query('sum(metallb_bfd_session_up)');
      return up[0]?.value === 4 && bgp[0]?.value === 3 && bfd[0]?.value === 3 ? true : undefined;
    });
  }, 240_000);

  afterAll(async () => {
    try {
      await timeline?.stop();
      process.stderr.write(`\nmonitoring kit in the lab:\n${report.join('\n')}\n`);
      if (timeline !== undefined)
        process.stderr.write(
          `\nevery alert change since the start:\n${timeline.format(startedAt).join('\n')}\n`,
        );
    } finally {
      await prometheus?.stop();
      await router?.stop().catch(() => undefined);
      // BEACON_KEEP_LOGS=1 keeps the speakers' and the controller's logs for a look afterwards.
      const keepDir = process.env.BEACON_KEEP_LOGS === '1';
      if (keepDir) process.stderr.write(`logs kept in ${cluster.dir}\n`);
      const left = await cluster.down({ keepDir });
      expect(left).toEqual([]);
    }
  }, 90_000);

  it('layer 2 failover: BeaconSpeakerDown and BeaconLayer2IPWithoutOwner go pending → firing → resolved', async () => {
    const t = alerts();
    const from = pinnedOwner as NodeHost;
    expect(await cluster.owner(seedVip, 10_000)).toBe(from);
    const capture = await GratuitousCapture.start(cluster.lab);
    let to: NodeHost | undefined;
    const t0 = Date.now();
    try {
      await cluster.killSpeaker(from, 'SIGKILL');
      const g = await capture.next(seedVip, t0, from, 10_000);
      to = g.node;
      report.push(
        `L2 failover: SIGKILL of the speaker on ${from} at +0.0 s; ${to} sent a gratuitous ARP for ${seedVip} at +${((g.at - t0) / 1000).toFixed(2)} s`,
      );
    } finally {
      await capture.stop();
    }
    const down = { node: from };
    const unowned = { ip: PINNED.ip };
    await t.waitFor('BeaconSpeakerDown', down, 'firing', t0, 60_000);
    await t.waitFor('BeaconLayer2IPWithoutOwner', unowned, 'firing', t0, 90_000);
    const restartAt = Date.now();
    cluster.startSpeaker(from);
    await cluster.speakerReady(from);
    report.push(`  speaker on ${from} restarted at +${((restartAt - t0) / 1000).toFixed(1)} s`);
    await t.waitFor('BeaconSpeakerDown', down, 'resolved', restartAt, 60_000);
    // The alert looks back one minute: it resolves once the unowned time has left the window.
    await t.waitFor('BeaconLayer2IPWithoutOwner', unowned, 'resolved', restartAt, 120_000);

    for (const [alert, match] of [
      ['BeaconSpeakerDown', down],
      ['BeaconLayer2IPWithoutOwner', unowned],
    ] as const)
      expect(
        t
          .states(alert, match, t0)
          .map((c) => c.state)
          .slice(0, 3),
      ).toEqual(['pending', 'firing', 'resolved']);
    const failovers = await prom().query(`beacon_layer2_failover_seconds_count{node="${to}"}`);
    expect(failovers[0]?.value ?? 0).toBeGreaterThanOrEqual(1);
    const p = await prom().query(
      `histogram_quantile(1, sum by (le) (increase(beacon_layer2_failover_seconds_bucket{node="${to}"}[10m])))`,
    );
    report.push(
      `  failover histogram on ${to}: ${failovers[0]?.value} takeover(s), at most ${p[0]?.value} s (bucket bound)`,
    );
    report.push(...t.format(t0).map((l) => `  ${l}`));
  }, 300_000);

  it('a station answering ARP for an owned IP: BeaconLayer2DuplicateResponder goes pending → firing → resolved', async () => {
    const t = alerts();
    // The pinned IP: only its node may own it, so no other speaker ever answers for it.
    const owner = pinnedOwner as NodeHost;
    await waitFor(`${PINNED.ip} answered by ${owner}`, 20_000, async () => {
      const a = await cluster.arpAnswers(PINNED.ip, 2);
      return a.length === 1 && a[0]?.node === owner ? true : undefined;
    });
    // The client claims the IP with gratuitous ARPs (it may send from an address it does not
    // have, inside its own namespace, with ip_nonlocal_bind: docs/lab.md).
    await cluster.lab.exec('client', 'sysctl', ['-qw', 'net.ipv4.ip_nonlocal_bind=1']);
    const t0 = Date.now();
    const arping = cluster.lab.spawn('client', 'arping', ['-U', '-I', 'eth0', '-c', '15', PINNED.ip]);
    const match = { ip: PINNED.ip, node: owner };
    await t.waitFor('BeaconLayer2DuplicateResponder', match, 'firing', t0, 60_000);
    await arping.exited;
    const stoppedAt = Date.now();
    report.push(
      `duplicate responder: the client sent gratuitous ARPs for ${PINNED.ip} (owned by ${owner}) from +0.0 s to +${((stoppedAt - t0) / 1000).toFixed(1)} s`,
    );
    // The alert looks back one minute.
    await t.waitFor('BeaconLayer2DuplicateResponder', match, 'resolved', stoppedAt, 120_000);
    expect(
      t
        .states('BeaconLayer2DuplicateResponder', match, t0)
        .map((c) => c.state)
        .slice(0, 3),
    ).toEqual(['pending', 'firing', 'resolved']);
    report.push(...t.format(t0, (c) => c.alert === 'BeaconLayer2DuplicateResponder').map((l) => `  ${l}`));
  }, 240_000);

  it('a BGP session drop: MetalLBBGPSessionDown and BeaconBFDSessionDown go pending → firing → resolved', async () => {
    const t = alerts();
    const bird = router as BirdRouter;
    const node: NodeHost = 'node1';
    const proto = (await bird.established()).find((n) => n.endsWith(`_${hostV4(node).replace(/\./g, '_')}`));
    if (proto === undefined) throw new Error(`no Established BIRD protocol for ${node}`);
    const t0 = Date.now();
    await bird.birdc(`disable ${proto}`);
    report.push(`BGP drop: BIRD disabled ${proto} (${node}) at +0.0 s`);
    const match = { node };
    await t.waitFor('MetalLBBGPSessionDown', match, 'firing', t0, 60_000);
    await t.waitFor('BeaconBFDSessionDown', match, 'firing', t0, 60_000);
    const enableAt = Date.now();
    await bird.birdc(`enable ${proto}`);
    report.push(`  BIRD enabled ${proto} at +${((enableAt - t0) / 1000).toFixed(1)} s`);
    // The speaker redials with exponential backoff (up to 60 s between attempts).
    await t.waitFor('MetalLBBGPSessionDown', match, 'resolved', enableAt, 150_000);
    await t.waitFor('BeaconBFDSessionDown', match, 'resolved', enableAt, 150_000);
    for (const alert of ['MetalLBBGPSessionDown', 'BeaconBFDSessionDown'])
      expect(
        t
          .states(alert, match, t0)
          .map((c) => c.state)
          .slice(0, 3),
      ).toEqual(['pending', 'firing', 'resolved']);
    report.push(
      ...t
        .format(t0, (c) => c.alert === 'MetalLBBGPSessionDown' || c.alert === 'BeaconBFDSessionDown')
        .map((l) => `  ${l}`),
    );
  }, 300_000);

  it('every dashboard panel’s query returns data', async () => {
    const minutes = Math.ceil((Date.now() - startedAt) / 60_000) + 1;
    const empty: string[] = [];
    report.push(`dashboard queries ($__range = ${minutes}m, $__rate_interval = 1m):`);
    for (const q of dashboardQueries(readDashboard())) {
      const expr = expandGrafanaVariables(q.expr, { range: `${minutes}m`, rateInterval: '1m' });
      const result = (await prom().query(expr)).filter((s) => !Number.isNaN(s.value));
      if (result.length === 0) empty.push(`${q.panel} (${q.refId}): ${expr}`);
      const shown = result
        .slice(0, 4)
        .map(
          (s) =>
            `${show(s.labels, ['pool', 'reason', 'ip', 'node', 'peer', 'kind', 'job', 'service'])}=${+s.value.toFixed(3)}`,
        );
      report.push(
        `  ${q.panel} [${q.refId}]: ${result.length} series; ${shown.join('  ')}${result.length > 4 ? ' ...' : ''}`,
      );
    }
    expect(empty).toEqual([]);
  }, 60_000);

  it('the binaries’ real /metrics pass promtool check metrics and match docs/metrics.md', async () => {
    const texts = [await scrape(cluster.controllerMetricsPort)];
    for (const port of speakerPorts.values()) texts.push(await scrape(port));
    const findings: string[] = [];
    const names = new Set<string>();
    for (const text of texts) {
      const run = await promtool(['check', 'metrics'], { input: text });
      for (const f of lintFindings(run.stdout + run.stderr))
        if (!isDefaultMetric(f.metric) && !metallbNameFindings.has(f.metric))
          findings.push(`${f.metric} ${f.problem}`);
      for (const m of text.matchAll(/^# TYPE (\S+) /gm))
        if (m[1] !== undefined && !isDefaultMetric(m[1])) names.add(m[1]);
    }
    expect(findings).toEqual([]);
    const controlPlaneOnly = controlPlaneOnlyFamilies();
    const documented = new Set(
      parseMetricsDoc(fs.readFileSync(metricsDocFile, 'utf8'))
        .map((r) => r.name)
        .filter((n) => !controlPlaneOnly.has(n)),
    );
    expect(
      [...names]
        .filter((n) => !documented.has(n))
        .map((n) => `${n} is exported but missing from docs/metrics.md`),
    ).toEqual([]);
    expect(
      [...documented]
        .filter((n) => !names.has(n))
        .map((n) => `docs/metrics.md lists ${n}, not in any /metrics`),
    ).toEqual([]);
    report.push(
      `metrics lint: ${texts.length} /metrics (controller + ${texts.length - 1} speakers), ${names.size} Beacon/MetalLB families, no findings beyond the ${metallbNameFindings.size} MetalLB names`,
    );
  }, 60_000);
});
