// Layer 2 ownership on the lab beyond a speaker crash (l2-mode.test.ts): a node unplugged from
// the segment, externalTrafficPolicy Local, and the interfaces a node may answer on. Its own
// control plane and lab (prefix l2f-, test/e2e/l2-cluster.ts) with the layer 2 example, the controller and
// three speakers; the client — a real Linux kernel — says who answers. Needs root.

import { hostMac, isRoot, type NodeHost } from './lab.js';
import { endpointSliceObject } from '../demo/objects.js';
import { GratuitousCapture, L2Cluster, seedVip, sleep, waitFor } from './l2-cluster.js';

const LOCAL = { name: 'l2f-local', ip: '192.168.10.230' };
// Outside the layer 2 example's pool (pools must not overlap), on-link for the client: lab.ts labNet.
const IFACE = { name: 'l2f-if', ip: '10.77.0.240' };

const root = isRoot();
if (!root) process.stderr.write('test/e2e/l2-failover.test.ts: SKIPPED, the network lab needs root\n');
const describeRoot = root ? describe : describe.skip;

describeRoot('layer 2 failover and eligibility on the lab', () => {
  const cluster = new L2Cluster({ prefix: 'l2f-' });
  const report: string[] = [];

  const events = async (service: string, reason: string): Promise<string> =>
    cluster.admin([
      'get',
      'events',
      '-n',
      'default',
      '--field-selector',
      `involvedObject.name=${service},reason=${reason}`,
      '-o',
      'jsonpath={.items[*].message}',
    ]);

  /** Waits until exactly `node` answers ARP for `ip` (one MAC), stable over two rounds. */
  async function ownedBy(ip: string, node: NodeHost, timeoutMs = 15_000): Promise<void> {
    await waitFor(`${node} alone answering ARP for ${ip}`, timeoutMs, async () => {
      const answers = await cluster.arpAnswers(ip, 2);
      return answers.length === 1 && answers[0]?.node === node ? true : undefined;
    });
  }

  /** A host this test unplugged and has not plugged back yet. */
  let unplugged: NodeHost | undefined;
  /** Speaker arguments of node3 that differ from the default, to restore after a failure. */
  let node3Args: string[] | undefined;

  beforeAll(async () => {
    await cluster.up();
  }, 180_000);

  afterEach(async () => {
    // A failed assertion must not leave a node unplugged or a speaker reconfigured for the next test.
    if (unplugged !== undefined) await cluster.plug(unplugged);
    unplugged = undefined;
    if (node3Args !== undefined) {
      await cluster.killSpeaker('node3', 'SIGTERM');
      cluster.startSpeaker('node3');
      await cluster.speakerReady('node3');
      node3Args = undefined;
    }
  }, 60_000);

  afterAll(async () => {
    const left = await cluster.down();
    process.stderr.write(`\nlayer 2 failover:\n${report.map((l) => `  ${l}`).join('\n')}\n`);
    expect(left).toEqual([]);
  }, 90_000);

  it('moves the IP when the owner is unplugged; after replugging it is handed back without overlap', async () => {
    const from = await cluster.owner(seedVip, 10_000);
    unplugged = from;
    const capture = await GratuitousCapture.start(cluster.lab);
    try {
      const t0 = Date.now();
      await cluster.unplug(from);
      // A bound for a loaded machine; the failover time is the l2-failover benchmark's figure.
      const g = await capture.next(seedVip, t0, from, 20_000);
      const to = g.node as NodeHost;
      report.push(`unplug of ${from}: gratuitous ARP from ${to} after ${(g.at - t0).toFixed(1)} ms`);
      expect(to).not.toBe(from);
      // The client now resolves the IP to the new owner's MAC, and only to it.
      await ownedBy(seedVip, to, 15_000);
      const first = await cluster.lab.exec('client', 'curl', [
        '-sS',
        '--max-time',
        '3',
        `http://${seedVip}/`,
      ]);
      expect(first.stdout.trim()).toBe(to);
      const neigh = await cluster.lab.exec('client', 'ip', ['neigh', 'show', seedVip, 'dev', 'eth0']);
      expect(neigh.stdout).toContain(`lladdr ${hostMac(to)}`);
      await cluster.plug(from);
      unplugged = undefined;
      // Rendezvous ownership: the returning node takes its IP back, but only after the interim
      // owner stopped (join barrier): the client never sees two MACs, while the IP moves.
      const rounds: (string | undefined)[][] = [];
      for (const end = Date.now() + 3000; Date.now() < end;)
        rounds.push((await cluster.arpAnswers(seedVip, 1)).map((a) => a.node));
      report.push(`replug of ${from}: answering nodes per ARP round ${JSON.stringify(rounds)}`);
      expect(rounds.filter((r) => r.length > 1)).toEqual([]);
      await ownedBy(seedVip, from, 15_000);
      expect(
        await waitFor('the ServiceL2Status of the node that answers again', 10_000, async () => {
          const nodes = await cluster.statusNodes('myapp');
          return nodes.length === 1 && nodes[0] === from ? nodes : undefined;
        }),
      ).toEqual([from]);
    } finally {
      await capture.stop();
    }
  }, 90_000);

  it('externalTrafficPolicy Local: announces from the node with the endpoint, and follows the endpoint', async () => {
    const slice = (node: NodeHost): object =>
      endpointSliceObject({
        service: LOCAL.name,
        namespace: 'default',
        port: { name: 'http', port: 80, protocol: 'TCP' },
        nodes: [node],
      });
    await cluster.applyObject('local-slice', slice('node3'));
    await cluster.applyObject('local-svc', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: LOCAL.name, namespace: 'default' },
      spec: {
        type: 'LoadBalancer',
        externalTrafficPolicy: 'Local',
        loadBalancerIP: LOCAL.ip,
        ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
      },
    });
    await waitFor(`the EXTERNAL-IP of ${LOCAL.name}`, 20_000, async () =>
      (await cluster.ingress('default', LOCAL.name)) === LOCAL.ip ? true : undefined,
    );
    await ownedBy(LOCAL.ip, 'node3');
    expect(await cluster.statusNodes(LOCAL.name)).toEqual(['node3']);
    // The Pod moves: the EndpointSlice now names node1 only.
    await cluster.applyObject('local-slice', slice('node1'));
    await ownedBy(LOCAL.ip, 'node1');
    await waitFor('the ServiceL2Status of node1', 10_000, async () => {
      const nodes = await cluster.statusNodes(LOCAL.name);
      return nodes.length === 1 && nodes[0] === 'node1' ? true : undefined;
    });
    report.push(`${LOCAL.ip} (Local): node3 while its endpoint was there, then node1`);
  }, 60_000);

  it('answers only on the L2Advertisement’s interfaces, says why when a node has none, and respects --ignore-interfaces', async () => {
    const advert = (interfaces: string[]): object => ({
      apiVersion: 'metallb.io/v1beta1',
      kind: 'L2Advertisement',
      metadata: { name: IFACE.name, namespace: 'metallb-system' },
      spec: {
        ipAddressPools: [IFACE.name],
        interfaces,
        nodeSelectors: [{ matchLabels: { 'kubernetes.io/hostname': 'node3' } }],
      },
    });
    await cluster.applyObject('if-pool', {
      apiVersion: 'metallb.io/v1beta1',
      kind: 'IPAddressPool',
      metadata: { name: IFACE.name, namespace: 'metallb-system' },
      spec: { addresses: [`${IFACE.ip}/32`], autoAssign: false },
    });
    await cluster.applyObject('if-advert', advert(['eth0']));
    await cluster.applyObject(
      'if-slice',
      endpointSliceObject({
        service: IFACE.name,
        namespace: 'default',
        port: { name: 'http', port: 80, protocol: 'TCP' },
      }),
    );
    await cluster.applyObject('if-svc', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name: IFACE.name,
        namespace: 'default',
        annotations: { 'metallb.io/address-pool': IFACE.name },
      },
      spec: { type: 'LoadBalancer', ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
    });
    await waitFor(`the EXTERNAL-IP of ${IFACE.name}`, 20_000, async () =>
      (await cluster.ingress('default', IFACE.name)) === IFACE.ip ? true : undefined,
    );
    // interfaces: [eth0] and eth0 is the node's segment interface: node3 answers.
    await ownedBy(IFACE.ip, 'node3');

    // An interface node3 does not have: it still owns the IP, answers nowhere, and says so.
    await cluster.applyObject('if-advert', advert(['eth9']));
    await waitFor(`nobody answering ARP for ${IFACE.ip}`, 10_000, async () =>
      (await cluster.arpAnswers(IFACE.ip, 2)).length === 0 ? true : undefined,
    );
    const why = await waitFor('an announceFailed Event', 10_000, async () => {
      const text = await events(IFACE.name, 'announceFailed');
      return text.includes('eth9') ? text : undefined;
    });
    expect(why).toContain(`${IFACE.ip} is not announced from node "node3"`);
    report.push(`${IFACE.ip} with interfaces [eth9]: unanswered; Event: ${why}`);

    // Back to eth0, but node3's speaker ignores eth0: it has no usable interface, so it is
    // not a candidate at all and, as only node3 is selected, nobody answers.
    await cluster.applyObject('if-advert', advert(['eth0']));
    await ownedBy(IFACE.ip, 'node3');
    await cluster.killSpeaker('node3', 'SIGTERM');
    node3Args = ['--ignore-interfaces', '^eth0$'];
    cluster.startSpeaker('node3', node3Args);
    await cluster.speakerReady('node3');
    await sleep(1000);
    expect(await cluster.arpAnswers(IFACE.ip, 3)).toEqual([]);
    // The layer 2 example's IP is answered by a node that can answer, never node3.
    expect((await cluster.arpAnswers(seedVip, 2)).map((a) => a.node)).not.toContain('node3');

    await cluster.killSpeaker('node3', 'SIGTERM');
    cluster.startSpeaker('node3');
    node3Args = undefined;
    await cluster.speakerReady('node3');
    await ownedBy(IFACE.ip, 'node3');
  }, 90_000);
});
