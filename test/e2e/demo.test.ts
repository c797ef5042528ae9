// `make demo` step by step: the demo brings up its control plane and lab (prefix dmt-, so it
// runs beside CI's bcn- lab and a developer's demo), applies the layer 2 example verbatim, starts
// Beacon's binaries with their identities, and `demo down` leaves nothing behind. Needs root.
//
// The EXTERNAL-IP, ARP and curl steps depend on the controller and the L2 speaker; with
// `beaconServesSeed002` true (both are implemented) they are mandatory.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import yaml from 'js-yaml';
import { kubectl } from '../env/install.js';
import {
  bgpStepIds,
  demoDown,
  demoUp,
  readDemoState,
  seedFiles,
  seedService,
  stepIds,
  type DemoReport,
  type DemoState,
  type StepId,
} from '../demo/demo.js';
import { Lab, hostMac, hostSeedV4, hostV4, isRoot, nodeHosts, processAlive, type NodeHost } from './lab.js';

/** true once the controller allocates and the L2 speaker answers ARP: see the header. */
const beaconServesSeed002 = true;

/** The steps that need Beacon's controller or speaker logic; the rest need only the harness. */
const beaconSteps: readonly StepId[] = ['external-ip', 'arp', 'curl'];
const harnessSteps: readonly StepId[] = stepIds.filter((s) => !beaconSteps.includes(s));

const prefix = 'dmt-';

interface KubeObject {
  metadata: { annotations?: Record<string, string>; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  status?: { addresses?: Array<{ type: string; address: string }> };
}

const root = isRoot();
if (!root) process.stderr.write('test/e2e/demo.test.ts: SKIPPED, the demo needs root\n');
const describeRoot = root ? describe : describe.skip;

describeRoot('make demo', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'beacon-demo-test-'));
  const lab = new Lab({ prefix });
  let output = '';
  let report: DemoReport;
  let state: DemoState;
  const admin = (args: string[]): Promise<string> => kubectl(path.join(dir, 'kubeconfig'), args);
  const getJson = async (args: string[]): Promise<KubeObject> =>
    JSON.parse(await admin(['get', ...args, '-o', 'json'])) as KubeObject;
  const reached = (id: StepId): boolean => report.steps.some((s) => s.id === id && s.reached);

  beforeAll(async () => {
    report = await demoUp({ prefix, dir, out: (t) => void (output += t), owner: process.pid });
    const s = readDemoState(dir);
    if (!s) throw new Error(`the demo wrote no state in ${dir}`);
    state = s;
  }, 240_000);

  afterAll(async () => {
    // Always runs: whatever the tests did, nothing of the demo may stay.
    await demoDown({ dir, out: () => undefined });
    fs.rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('prints one ✓ or ✗ line per step, in order, with `kubectl get svc myapp` and the client request', () => {
    const marks = output.split('\n').filter((l) => /^[✓✗] /.test(l));
    expect(marks).toHaveLength(stepIds.length);
    expect(report.steps.map((s) => s.id)).toEqual([...stepIds]);
    for (const [i, s] of report.steps.entries()) expect(marks[i]).toBe(`${s.reached ? '✓' : '✗'} ${s.line}`);
    expect(output).toMatch(/\$ kubectl --kubeconfig \S+ get svc myapp\nNAME +TYPE +CLUSTER-IP +EXTERNAL-IP/);
    expect(output).toMatch(/^myapp +LoadBalancer +\S+ +\S+ +80:\d+\/TCP/m);
    expect(output).toContain(
      `$ ip netns exec ${prefix}client curl -s --max-time 2 http://${seedService.ip}/`,
    );
    expect(output).toContain(`$ ip netns exec ${prefix}client ip neigh show ${seedService.ip} dev eth0`);
    expect(output).toContain('make demo-down');
  });

  it('reaches every step that needs no Beacon logic: control plane, lab, seed objects, processes', () => {
    const missed = report.steps.filter((s) => harnessSteps.includes(s.id) && !s.reached).map((s) => s.line);
    expect(missed).toEqual([]);
  });

  it("keeps the example Service's requested IP in its file", () => {
    expect(fs.readFileSync(seedFiles.service, 'utf8')).toContain(`loadBalancerIP: ${seedService.ip}`);
  });

  it('applied the layer 2 example unchanged: what kubectl recorded is exactly the seed files', async () => {
    const [pool, l2] = yaml.loadAll(fs.readFileSync(seedFiles.pool, 'utf8')) as KubeObject[];
    const [deployment] = yaml.loadAll(fs.readFileSync(seedFiles.deployment, 'utf8')) as KubeObject[];
    const [service] = yaml.loadAll(fs.readFileSync(seedFiles.service, 'utf8')) as KubeObject[];
    const cases: Array<[string[], KubeObject | undefined]> = [
      [['ipaddresspools.metallb.io', 'first-pool', '-n', 'metallb-system'], pool],
      [['l2advertisements.metallb.io', 'example', '-n', 'metallb-system'], l2],
      [['deployment', 'myapp-deploy', '-n', 'default'], deployment],
      [['service', 'myapp', '-n', 'default'], service],
    ];
    for (const [args, file] of cases) {
      const live = await getJson(args);
      const applied = live.metadata.annotations?.['kubectl.kubernetes.io/last-applied-configuration'];
      expect(applied).toBeDefined();
      expect((JSON.parse(applied ?? '{}') as KubeObject).spec).toEqual(file?.spec);
    }
    const svc = await getJson(['service', 'myapp', '-n', 'default']);
    expect(svc.spec).toMatchObject({ type: 'LoadBalancer', loadBalancerIP: seedService.ip });
    expect(
      (await getJson(['ipaddresspools.metallb.io', 'first-pool', '-n', 'metallb-system'])).spec,
    ).toMatchObject({ addresses: ['192.168.10.200-192.168.10.250'] });
  });

  it('registered node1..node3 with both addresses and the hostname label, and the EndpointSlice', async () => {
    for (const node of nodeHosts) {
      const obj = await getJson(['node', node]);
      expect(obj.metadata.labels?.['kubernetes.io/hostname']).toBe(node);
      const internal = (obj.status?.addresses ?? [])
        .filter((a) => a.type === 'InternalIP')
        .map((a) => a.address);
      expect(internal).toEqual([hostV4(node), hostSeedV4(node)]);
    }
    const slices = JSON.parse(
      await admin([
        'get',
        'endpointslices',
        '-n',
        'default',
        '-l',
        'kubernetes.io/service-name=myapp',
        '-o',
        'json',
      ]),
    ) as { items: Array<{ endpoints: Array<{ nodeName?: string; conditions?: { ready?: boolean } }> }> };
    const backends = slices.items.flatMap((s) =>
      s.endpoints.filter((e) => e.conditions?.ready).map((e) => e.nodeName),
    );
    expect(backends.sort()).toEqual([...nodeHosts]);
  });

  it('serves the Service IP on every node through the kube-proxy stand-in', async () => {
    for (const node of nodeHosts) {
      const res = await lab.exec(node, 'curl', ['-s', '--max-time', '2', `http://${seedService.ip}/`]);
      expect(res.stdout.trim()).toBe(node);
    }
  });

  it('runs the controller in the root namespace and a speaker per node namespace, as their ServiceAccounts', () => {
    const ctl = state.controller;
    expect(ctl).toBeDefined();
    expect(processAlive(ctl?.pid ?? 0)).toBe(true);
    expect(ctl?.cmdline).toContain('dist/controller/main.js');
    expect(ctl?.cmdline).toContain(path.join(dir, 'controller.kubeconfig'));
    expect(state.speakers.map((s) => s.node)).toEqual([...nodeHosts]);
    for (const s of state.speakers) {
      expect(processAlive(s.pid)).toBe(true);
      expect(s.cmdline.split('\0')).toEqual(expect.arrayContaining(['--node-name', s.node]));
      const netns = execFileSync('ip', ['netns', 'identify', String(s.pid)], { encoding: 'utf8' }).trim();
      expect(netns).toBe(lab.ns(s.node));
    }
    const contexts = ['controller', 'speaker'].map(
      (who) =>
        (
          JSON.parse(fs.readFileSync(path.join(dir, `${who}.kubeconfig`), 'utf8')) as {
            'current-context': string;
          }
        )['current-context'],
    );
    expect(contexts).toEqual(['controller', 'speaker']);
    for (const p of [ctl?.log ?? '', ...state.speakers.map((s) => s.log)]) {
      expect(fs.existsSync(p)).toBe(true);
      expect(output).toContain(p);
    }
  });

  it(`gives the Service its EXTERNAL-IP and makes it reachable from the client${beaconServesSeed002 ? '' : ' (checked where reached)'}`, async () => {
    if (beaconServesSeed002)
      expect(report.steps.filter((s) => beaconSteps.includes(s.id) && !s.reached)).toEqual([]);
    if (reached('external-ip')) {
      expect(report.externalIP).toBe(seedService.ip);
      const ips = await admin([
        'get',
        'svc',
        'myapp',
        '-n',
        'default',
        '-o',
        'jsonpath={.status.loadBalancer.ingress[*].ip}',
      ]);
      expect(ips.trim()).toBe(seedService.ip);
    } else expect(output).toContain('✗ EXTERNAL-IP');
    if (reached('arp')) {
      expect(report.arpAnswers).toHaveLength(1);
      expect(nodeHosts).toContain(report.arpAnswers[0]?.node);
    }
    if (reached('curl')) {
      expect(report.curl?.code).toBe(0);
      const backend = report.curl?.body.trim();
      expect(nodeHosts as readonly (string | undefined)[]).toContain(backend);
      if (reached('arp')) expect(backend).toBe(report.arpAnswers[0]?.node);
      expect(report.neighbour).toMatch(/lladdr 02:77:00:00:00:0[bcd]\b/);
      // The owner the client resolved is the node that answered ARP, and the demo says so.
      const owner = report.arpAnswers[0]?.node ?? '?';
      expect(report.neighbour).toContain(`lladdr ${hostMac(owner as NodeHost)}`);
      expect(output).toContain(`is ${owner}'s eth0: ${owner} owns ${seedService.ip}`);
    }
  });

  it('`demo down` stops everything it started and leaves nothing; a second one is a no-op', async () => {
    const cp = state.controlPlane;
    expect(cp).toBeDefined();
    let text = '';
    expect(await demoDown({ dir, out: (t) => void (text += t) })).toEqual([]);
    expect(text).toContain('✓ nothing left behind');
    expect(lab.leftovers()).toEqual([]);
    const pids = [state.controller?.pid, ...state.speakers.map((s) => s.pid)];
    pids.push(cp?.supervisorPid, cp?.apiserverPid, cp?.etcdPid);
    expect(pids.filter((pid) => pid !== undefined && processAlive(pid))).toEqual([]);
    expect(fs.existsSync(dir)).toBe(false);
    expect(await demoDown({ dir, out: () => undefined })).toEqual([]);
  }, 60_000);
});

// `make demo-bgp`: the same demo in BGP mode (lab prefix dgb-): BIRD on the router learns
// 192.168.10.222/32 from the three speakers, installs it with three next hops, and the client
// reaches it through the router. `demo down` ends BIRD with the rest.
describeRoot('make demo-bgp', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'beacon-demo-bgp-test-'));
  const bgpLab = new Lab({ prefix: 'dgb-' });
  let output = '';
  let report: DemoReport;
  let state: DemoState;

  beforeAll(async () => {
    report = await demoUp({
      mode: 'bgp',
      prefix: 'dgb-',
      dir,
      out: (t) => void (output += t),
      owner: process.pid,
    });
    const s = readDemoState(dir);
    if (!s) throw new Error(`the demo wrote no state in ${dir}`);
    state = s;
  }, 240_000);

  afterAll(async () => {
    await demoDown({ dir, out: () => undefined });
    fs.rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('reaches every step: BGP sessions, a 3-next-hop route on the router, the client answered through it', () => {
    expect(report.steps.map((s) => s.id)).toEqual([...bgpStepIds]);
    expect(report.steps.filter((s) => !s.reached).map((s) => s.line)).toEqual([]);
    expect(report.routerNexthops).toEqual(nodeHosts.map(hostV4).sort());
    expect(report.curl?.code).toBe(0);
    expect(nodeHosts as readonly string[]).toContain(report.curl?.body.trim());
    expect(output).toMatch(/^myapp +LoadBalancer +\S+ +192\.168\.10\.222 +80:\d+\/TCP/m);
    expect(output).toMatch(/show route 192\.168\.10\.222\/32 all\n(?:.*\n)*?192\.168\.10\.222\/32 +unicast/);
    for (const node of nodeHosts) expect(output).toContain(`nexthop via ${hostV4(node)} dev eth0`);
    expect(output).not.toContain('L2Advertisement metallb-system');
  });

  it('runs BIRD in the router namespace, recorded for `demo down`', () => {
    const router = state.router;
    expect(router).toBeDefined();
    expect(processAlive(router?.pid ?? 0)).toBe(true);
    expect(router?.cmdline.split('\0')[0]).toBe('bird');
    const netns = execFileSync('ip', ['netns', 'identify', String(router?.pid)], { encoding: 'utf8' }).trim();
    expect(netns).toBe(bgpLab.ns('router'));
  });

  it('`demo down` stops BIRD with everything else and leaves nothing', async () => {
    let text = '';
    expect(await demoDown({ dir, out: (t) => void (text += t) })).toEqual([]);
    expect(text).toContain(`✓ stopped BIRD (pid ${state.router?.pid})`);
    expect(text).toContain('✓ nothing left behind');
    expect(bgpLab.leftovers()).toEqual([]);
    const pids = [state.router?.pid, state.controller?.pid, ...state.speakers.map((s) => s.pid)];
    expect(pids.filter((pid) => pid !== undefined && processAlive(pid))).toEqual([]);
  }, 60_000);
});
