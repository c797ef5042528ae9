// BGP mode end to end: the real control plane, Beacon's controller, and beacon-speaker
// (dist/speaker/main.js) in node1..node3 as the speaker identity, peering with a real BIRD 2
// and FRR in the router namespace. What is checked is what a router and a client see: the
// router's kernel FIB holds one route per Service IP (IPv4 and IPv6) with the three nodes as
// equal-cost next hops, a client request reaches a backend over it, the route's attributes
// (communities, large communities, LOCAL_PREF) arrive as configured, a TCP-MD5 password is
// needed exactly when the router has one, and deleting the Service takes the route away.
// Needs root (network namespaces). Lab prefix bgm- (or $LAB_PREFIX).

import fs from 'node:fs';
import path from 'node:path';
import { freePort, writeKubeconfig } from '../env/control-plane.js';
import { testEnv } from '../env/testenv.js';
import { endpointSliceObject, nodeObject, nodeStatusPatch } from '../demo/objects.js';
import { Lab, hostV4, hostV6, isRoot, labNet, nodeHosts, type LabProcess, type NodeHost } from './lab.js';
import { KubeProxy } from './proxy.js';
import { relayRootEndpoint, targetFromUrl } from './relay.js';
import { BirdRouter, FrrRouter, type RouterPeer } from './router.js';

const prefix = process.env.LAB_PREFIX ?? 'bgm-';
const ns = 'metallb-system';
const appNs = 'bgm';
const VIP4 = '10.77.100.10';
const VIP6 = 'fd00:77::100:10';
const PASSWORD = 'bgm-s3cret';
const speakerMain = path.join(process.cwd(), 'dist/speaker/main.js');
const controllerMain = path.join(process.cwd(), 'dist/controller/main.js');
const requestLoopMain = path.join(process.cwd(), 'dist/test/e2e/fixtures/grx-request-loop.js');

const root = isRoot();
if (!root) process.stderr.write('test/e2e/bgp-mode.test.ts: SKIPPED, the network lab needs root\n');
const describeRoot = root ? describe : describe.skip;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(
  what: string,
  timeoutMs: number,
  check: () => Promise<T | undefined | false>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(200);
  }
}

/** The BGPPeers: the router over IPv4 and over IPv6 (for the IPv6 routes), fast reconnects. */
function peerObject(name: string, address: string, myASN: number, password?: string): object {
  return {
    apiVersion: 'metallb.io/v1beta2',
    kind: 'BGPPeer',
    metadata: { name, namespace: ns },
    spec: {
      myASN,
      peerASN: labNet.routerAsn,
      peerAddress: address,
      connectTime: '1s',
      enableGracefulRestart: true,
      ...(password !== undefined ? { password } : {}),
    },
  };
}

describeRoot('BGP mode', () => {
  const env = testEnv();
  const lab = new Lab({ prefix });
  const proxy = new KubeProxy(lab);
  const speakers = new Map<NodeHost, LabProcess>();
  let router: BirdRouter | FrrRouter | undefined;
  let dir = '';
  let speakerKubeconfig = '';
  const kubectl = (args: string[]): Promise<string> => env.kubectl(args);
  let files = 0;
  const apply = async (...objects: object[]): Promise<void> => {
    const file = path.join(dir, `object-${++files}.json`);
    fs.writeFileSync(file, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }));
    await kubectl(['apply', '-f', file]);
  };
  const patchPeer = (name: string, spec: Record<string, unknown>): Promise<string> =>
    kubectl([
      'patch',
      'bgppeers.metallb.io',
      name,
      '-n',
      ns,
      '--type',
      'merge',
      '-p',
      JSON.stringify({ spec }),
    ]);

  function startSpeaker(node: NodeHost, env: Record<string, string> = {}): void {
    const args = [
      speakerMain,
      '--kubeconfig',
      speakerKubeconfig,
      '--node-name',
      node,
      '--log-level',
      'debug',
    ];
    speakers.set(
      node,
      lab.spawn(node, process.execPath, args, {
        logFile: path.join(dir, `speaker-${node}.log`),
        env: { ...process.env, ...env },
      }),
    );
  }

  async function startRouter(r: BirdRouter | FrrRouter): Promise<void> {
    await router?.stop();
    router = r;
    await r.start();
  }

  const speakerPeers = (asn: number, password?: string, families: Array<4 | 6> = [4, 6]): RouterPeer[] =>
    nodeHosts.flatMap((n) =>
      families.map((f) => ({
        address: f === 4 ? hostV4(n) : hostV6(n),
        asn,
        ...(password !== undefined ? { password } : {}),
      })),
    );

  /** Speaker logs and router state, for a failure message. */
  async function diagnostics(): Promise<string> {
    const tail = (f: string): string => {
      try {
        return fs.readFileSync(f, 'utf8').split('\n').slice(-15).join('\n');
      } catch {
        return '';
      }
    };
    const logs = nodeHosts.map((n) => `--- speaker ${n}:\n${tail(path.join(dir, `speaker-${n}.log`))}`);
    return `${(await router?.diagnostics()) ?? ''}\n${logs.join('\n')}`;
  }

  async function expectNexthops(
    r: BirdRouter | FrrRouter,
    prefixText: string,
    hops: string[],
  ): Promise<void> {
    try {
      await r.waitForNexthops(prefixText, hops, 30_000);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${await diagnostics()}`, { cause: err });
    }
  }

  /**
   * Whether the speaker at `address` set the Restart State bit (RFC 4724 §3) in the OPEN of its
   * current session: BIRD lists it as "Restart recovery" under the neighbor's Graceful restart
   * capability in `show protocols all`.
   */
  async function neighborRestartBit(bird: BirdRouter, address: string): Promise<boolean> {
    const suffix = `_${address.replace(/[.:]/g, '_')}`;
    const name = (await bird.established()).find((n) => n.endsWith(suffix));
    if (name === undefined) throw new Error(`no Established BIRD protocol for ${address}`);
    const out = await bird.birdc(`show protocols all ${name}`);
    const caps = out.split('Neighbor capabilities')[1]?.split(/\n\s*Session:/)[0];
    if (caps === undefined || !/Graceful restart/.test(caps))
      throw new Error(`no Graceful restart capability of ${address} in:\n${out}`);
    return /Restart recovery/.test(caps);
  }

  interface StatusItem {
    metadata: { name: string; labels: Record<string, string> };
    status?: Record<string, unknown>;
  }
  const items = async (args: string[]): Promise<StatusItem[]> =>
    (JSON.parse(await kubectl([...args, '-n', ns, '-o', 'json'])) as { items: StatusItem[] }).items;
  const sessionStates = (): Promise<StatusItem[]> => items(['get', 'bgpsessionstates']);
  const serviceStatuses = (): Promise<StatusItem[]> =>
    items([
      'get',
      'servicebgpstatuses',
      '-l',
      `metallb.io/service-name=web,metallb.io/service-namespace=${appNs}`,
    ]);

  beforeAll(async () => {
    await lab.up({ guard: true });
    dir = path.join(lab.dir, 'bgm');
    fs.mkdirSync(dir, { recursive: true });
    await relayRootEndpoint(lab, targetFromUrl(env.server));
    speakerKubeconfig = path.join(dir, 'speaker.kubeconfig');
    writeKubeconfig(env, speakerKubeconfig, 'speaker');
    const controllerKubeconfig = path.join(dir, 'controller.kubeconfig');
    writeKubeconfig(env, controllerKubeconfig, 'controller');

    // What kubelets would register, and the configuration: one pool with an IPv4 and an IPv6
    // range from the lab's BGP ranges, one advertisement with every attribute.
    await apply(...nodeHosts.map(nodeObject));
    for (const node of nodeHosts)
      await kubectl([
        'patch',
        'node',
        node,
        '--subresource=status',
        '--type=merge',
        '-p',
        JSON.stringify(nodeStatusPatch(node, new Date())),
      ]);
    await apply(
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: appNs } },
      {
        apiVersion: 'metallb.io/v1beta1',
        kind: 'IPAddressPool',
        metadata: { name: 'bgm-pool', namespace: ns },
        spec: { addresses: ['10.77.100.0/24', labNet.bgpRangeV6] },
      },
      {
        apiVersion: 'metallb.io/v1beta1',
        kind: 'BGPAdvertisement',
        metadata: { name: 'bgm-adv', namespace: ns },
        spec: {
          ipAddressPools: ['bgm-pool'],
          localPref: 150,
          communities: ['64512:100', 'large:64512:7:9'],
        },
      },
      // iBGP with the router (LOCAL_PREF goes to internal peers only, RFC 4271 §5.1.5).
      peerObject('bgm-router-v4', hostV4('router'), labNet.routerAsn),
      peerObject('bgm-router-v6', hostV6('router'), labNet.routerAsn),
    );
    await apply(
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: {
          name: 'web',
          namespace: appNs,
          annotations: { 'metallb.io/loadBalancerIPs': `${VIP4},${VIP6}` },
        },
        spec: {
          type: 'LoadBalancer',
          ipFamilyPolicy: 'RequireDualStack',
          ipFamilies: ['IPv4', 'IPv6'],
          ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
        },
      },
      endpointSliceObject({
        service: 'web',
        namespace: appNs,
        port: { name: 'http', port: 80, protocol: 'TCP' },
      }),
    );
    await proxy.addServiceIP(VIP4, 80);
    await proxy.addServiceIP(VIP6, 80);

    await startRouter(new BirdRouter(lab, { asn: labNet.routerAsn, peers: speakerPeers(labNet.routerAsn) }));
    // The controller in the root namespace (tracked by the lab), a speaker per node namespace.
    const metricsPort = String(await freePort());
    lab.spawnRoot(
      process.execPath,
      [
        controllerMain,
        '--kubeconfig',
        controllerKubeconfig,
        '--metrics-host',
        '127.0.0.1',
        '--metrics-port',
        metricsPort,
      ],
      'bgm-controller.log',
    );
    for (const node of nodeHosts) startSpeaker(node);
    await waitFor('the Service IPs', 30_000, async () => {
      const ips = await kubectl([
        'get',
        'svc',
        'web',
        '-n',
        appNs,
        '-o',
        'jsonpath={.status.loadBalancer.ingress[*].ip}',
      ]);
      return ips.trim() === `${VIP4} ${VIP6}` || undefined;
    });
  }, 180_000);

  afterAll(async () => {
    for (const s of speakers.values()) await s.stop(5000).catch(() => undefined);
    await router?.stop().catch(() => undefined);
    await proxy.stop().catch(() => undefined);
    for (const args of [
      // No namespace controller runs in the test control plane: delete what the namespace holds.
      ['delete', 'services,endpointslices', '--all', '-n', appNs, '--ignore-not-found'],
      ['delete', 'namespace', appNs, '--ignore-not-found', '--wait=false'],
      ['delete', 'bgppeers.metallb.io', 'bgm-router-v4', 'bgm-router-v6', '-n', ns, '--ignore-not-found'],
      ['delete', 'bgpadvertisements.metallb.io', 'bgm-adv', '-n', ns, '--ignore-not-found'],
      ['delete', 'bfdprofiles.metallb.io', 'bgm-bfd', '-n', ns, '--ignore-not-found'],
      ['delete', 'ipaddresspools.metallb.io', 'bgm-pool', '-n', ns, '--ignore-not-found'],
      ['delete', 'node', ...nodeHosts, '--ignore-not-found'],
    ])
      await kubectl(args).catch(() => undefined);
    await lab.down();
    lab.assertClean();
  }, 60_000);

  it('BIRD installs the Service IPv4 and IPv6 addresses as 3-next-hop ECMP routes and the client reaches a backend', async () => {
    const bird = router as BirdRouter;
    await expectNexthops(bird, `${VIP4}/32`, nodeHosts.map(hostV4));
    await expectNexthops(bird, `${VIP6}/128`, nodeHosts.map(hostV6));
    const fib4 = await lab.exec('router', 'ip', ['-4', 'route', 'show', `${VIP4}/32`]);
    const fib6 = await lab.exec('router', 'ip', ['-6', 'route', 'show', `${VIP6}/128`]);
    process.stderr.write(`router FIB (BIRD):\n${fib4.stdout}${fib6.stdout}`);
    expect((await bird.established()).sort()).toHaveLength(6);
    // The speakers' first sessions since they started set the Restart State bit: a process
    // cannot tell its first boot from a restart.
    for (const node of nodeHosts) expect(await neighborRestartBit(bird, hostV4(node))).toBe(true);

    const seen = new Set<string>();
    for (const url of [`http://${VIP4}/`, `http://[${VIP6}]/`])
      for (let i = 0; i < 6; i++) {
        const res = await lab.exec('client', 'curl', ['-sS', '--max-time', '3', url]);
        expect(nodeHosts as readonly string[]).toContain(res.stdout.trim());
        seen.add(res.stdout.trim());
      }
    expect(seen.size).toBeGreaterThanOrEqual(1);
  });

  it('carries the advertisement’s communities, large communities and LOCAL_PREF to BIRD', async () => {
    const bird = router as BirdRouter;
    for (const p of [`${VIP4}/32`, `${VIP6}/128`]) {
      const all = await bird.showRouteAll(p);
      expect(all).toMatch(/BGP\.community: \(64512,100\)/);
      expect(all).toMatch(/BGP\.large_community: \(64512, 7, 9\)/);
      expect(all).toMatch(/BGP\.local_pref: 150/);
      // One path per node.
      expect(all.match(/BGP\.origin: IGP/g)).toHaveLength(3);
    }
  });

  it('reports each session in metallb_bgp_* metrics on the speaker', async () => {
    const res = await lab.exec('node1', 'curl', ['-s', '--max-time', '2', 'http://127.0.0.1:7472/metrics']);
    expect(res.stdout).toMatch(/^metallb_bgp_session_up\{peer="10\.77\.0\.1:179"\} 1$/m);
    expect(res.stdout).toMatch(/^metallb_bgp_session_up\{peer="\[fd00:77::1\]:179"\} 1$/m);
    expect(res.stdout).toMatch(/^metallb_bgp_announced_prefixes_total\{peer="10\.77\.0\.1:179"\} 1$/m);
    expect(res.stdout).toMatch(/^metallb_bgp_updates_total\{peer="10\.77\.0\.1:179"\} [1-9]\d*$/m);
  });

  it('writes an Established BGPSessionState per node and BGPPeer, and a ServiceBGPStatus per node for the Service', async () => {
    const table = await waitFor('6 Established BGPSessionStates', 10_000, async () => {
      const out = await kubectl(['get', 'bgpsessionstates', '-n', ns]);
      return out.split('\n').filter((l) => /\sEstablished\s/.test(l)).length === 6 ? out : undefined;
    });
    process.stderr.write(`kubectl get bgpsessionstates:\n${table}`);
    const states = await sessionStates();
    expect(states).toHaveLength(6);
    for (const node of nodeHosts)
      for (const [peer, address] of [
        ['bgm-router-v4', hostV4('router')],
        ['bgm-router-v6', hostV6('router')],
      ] as const) {
        const o = states.find((i) => i.metadata.name === `${node}-${peer}`);
        expect(o?.metadata.labels).toMatchObject({ 'metallb.io/node': node, 'metallb.io/peer': peer });
        expect(o?.status).toMatchObject({
          node,
          peer: `${peer} (${address})`,
          bgpStatus: 'Established',
          bfdStatus: 'N/A',
        });
        expect(o?.status?.lastTransitionTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
        expect(o?.status?.prefixesSent).toBeGreaterThanOrEqual(1);
      }
    // Written after the routes, asynchronously: a session that came up a moment ago may not
    // have its node's object yet.
    const services = await waitFor('a ServiceBGPStatus per node naming both peers', 10_000, async () => {
      const found = await serviceStatuses();
      return found.length === nodeHosts.length &&
        found.every((o) => (o.status?.peers as unknown[] | undefined)?.length === 2)
        ? found
        : undefined;
    }).catch(() => serviceStatuses());
    expect(services.map((o) => o.metadata.labels['metallb.io/node']).sort()).toEqual([...nodeHosts].sort());
    for (const o of services) {
      expect(o.metadata.name).toMatch(/^bgp-/);
      expect(o.status).toEqual({
        node: o.metadata.labels['metallb.io/node'],
        serviceName: 'web',
        serviceNamespace: appNs,
        peers: ['bgm-router-v4', 'bgm-router-v6'],
      });
    }
  });

  it('keeps the routes at the router across a speaker restart (graceful restart), losing no client request; METALLB_BGP_SHUTDOWN=withdraw withdraws first', async () => {
    const bird = router as BirdRouter;
    const v4 = `${VIP4}/32`;
    const v6 = `${VIP6}/128`;
    const all = nodeHosts.map(hostV4).sort();
    const all6 = nodeHosts.map(hostV6).sort();
    await expectNexthops(bird, v4, all);
    await expectNexthops(bird, v6, all6);

    // The client sends a request every 20 ms, alternating the IPv4 and IPv6 VIP, each on a new
    // TCP connection, so the router's L4 ECMP hash puts some of them on node1 all along. Each
    // node's KubeProxy stand-in answers with its node's name: the log says who served what.
    // Positions in the log (not clocks) mark the phases: before the stop, while node1 has no
    // speaker, after the new speaker's End-of-RIB.
    const loopLog = path.join(dir, 'grx-request-loop.log');
    const loop = lab.spawn(
      'client',
      process.execPath,
      [requestLoopMain, '20', '3000', `http://${VIP4}/`, `http://[${VIP6}]/`],
      { logFile: loopLog },
    );
    const lines = (): string[] => {
      try {
        return fs
          .readFileSync(loopLog, 'utf8')
          .split('\n')
          .filter((l) => l !== '');
      } catch {
        return [];
      }
    };
    /** Requests in `ls` that `node` answered, per VIP. */
    const served = (ls: string[], node: NodeHost): { v4: number; v6: number } => {
      const ok = ls.filter((l) => l.startsWith('ok ') && l.split(' ')[3] === node);
      return {
        v4: ok.filter((l) => l.split(' ')[2] === `http://${VIP4}/`).length,
        v6: ok.filter((l) => l.split(' ')[2] === `http://[${VIP6}]/`).length,
      };
    };
    /** The route's next hops are polled until stop(); returns every poll that differed. */
    const watchRoutes = (): { stop(): Promise<string[]> } => {
      const changes: string[] = [];
      let on = true;
      const polling = (async () => {
        while (on) {
          const [h4, h6] = await Promise.all([bird.routeNexthops(v4), bird.routeNexthops(v6)]);
          if (JSON.stringify(h4) !== JSON.stringify(all)) changes.push(`${v4} via ${h4.join(',')}`);
          if (JSON.stringify(h6) !== JSON.stringify(all6)) changes.push(`${v6} via ${h6.join(',')}`);
          await sleep(250);
        }
      })();
      return {
        stop: async () => {
          on = false;
          await polling;
          return changes;
        },
      };
    };
    let loopStopped = false;
    try {
      // Every node serves requests before the restart (node1 on both VIPs: the assertions
      // about node1 below mean something).
      await waitFor('every node serving client requests', 15_000, async () => {
        const ls = lines();
        return nodeHosts.every((n) => served(ls, n).v4 + served(ls, n).v6 >= 3) &&
          served(ls, 'node1').v4 >= 1 &&
          served(ls, 'node1').v6 >= 1
          ? true
          : undefined;
      });
      const routes = watchRoutes();
      const beforeStop = lines().length;
      // SIGTERM: the speaker closes its GR sessions without withdrawing. Without graceful
      // restart BIRD would drop node1 at once (Cease) or after the 3 s hold time at the latest.
      await speakers.get('node1')?.stop(5000);
      await sleep(5000);
      const beforeStart = lines().length;
      // The new speaker takes the sessions over; the route never lost a next hop.
      startSpeaker('node1', { METALLB_BGP_SHUTDOWN: 'withdraw' });
      await waitFor('node1 back', 30_000, async () => (await bird.established()).length === 6);
      // The restarted speaker says so in its OPEN (RFC 4724 §3 Restart State).
      expect(await neighborRestartBit(bird, hostV4('node1'))).toBe(true);
      expect(await neighborRestartBit(bird, hostV6('node1'))).toBe(true);
      await sleep(1000); // End-of-RIB ends the stale period: node1's route must survive it
      const afterRestart = lines().length;
      // node1 keeps serving after the new speaker's End-of-RIB.
      await waitFor('node1 serving after the restart', 10_000, async () => {
        const after = served(lines().slice(afterRestart), 'node1');
        return after.v4 >= 3 && after.v6 >= 3 ? true : undefined;
      });
      expect(await routes.stop()).toEqual([]);
      await loop.stop(5000);
      loopStopped = true;
      const ls = lines();
      const failures = ls.filter((l) => l.startsWith('fail '));
      const done = ls
        .find((l) => l.startsWith('done '))
        ?.split(' ')
        .map(Number);
      const before = served(ls.slice(0, beforeStop), 'node1');
      const during = served(ls.slice(beforeStop, beforeStart), 'node1');
      const after = served(ls.slice(afterRestart), 'node1');
      const byNode = Object.fromEntries(nodeHosts.map((n) => [n, served(ls, n)]));
      process.stderr.write(
        `client requests across node1's speaker restart: ${ls.find((l) => l.startsWith('done ')) ?? 'no done line'} ` +
          `(started ok failed); served by ${JSON.stringify(byNode)}; node1 before the stop ` +
          `${JSON.stringify(before)}, without a speaker ${JSON.stringify(during)}, after the restart ${JSON.stringify(after)}\n`,
      );
      expect(failures).toEqual([]);
      expect(done).toBeDefined();
      const [, started = 0, ok = 0, failed = -1] = done ?? [];
      expect(failed).toBe(0);
      expect(ok).toBe(started);
      // One per 20 ms over at least the ~8 s from the stop to the restart's End-of-RIB: ~400
      // and more; a loaded machine's timers may lag.
      expect(started).toBeGreaterThanOrEqual(250);
      // node1 served while its speaker was down (the router kept its stale next hop) and after.
      expect(before.v4 + before.v6).toBeGreaterThan(0);
      expect(during.v4).toBeGreaterThan(0);
      expect(during.v6).toBeGreaterThan(0);
      expect(after.v4 + after.v6).toBeGreaterThan(0);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${await diagnostics()}`, { cause: err });
    } finally {
      if (!loopStopped) await loop.stop(5000);
    }

    // A withdrawing shutdown: node1's next hop goes at once, well inside the hold time.
    const stoppedAt = Date.now();
    await speakers.get('node1')?.stop(5000);
    await expectNexthops(bird, v4, [hostV4('node2'), hostV4('node3')]);
    await expectNexthops(bird, v6, [hostV6('node2'), hostV6('node3')]);
    expect(Date.now() - stoppedAt).toBeLessThan(2500);
    startSpeaker('node1');
    await expectNexthops(bird, v4, all);
  }, 120_000);

  it('with a bfdProfile, BFD Down takes the BGP session down before the hold timer would', async () => {
    await apply({
      apiVersion: 'metallb.io/v1beta1',
      kind: 'BFDProfile',
      metadata: { name: 'bgm-bfd', namespace: ns },
      spec: { receiveInterval: 100, transmitInterval: 100, detectMultiplier: 3 },
    });
    for (const name of ['bgm-router-v4', 'bgm-router-v6']) await patchPeer(name, { bfdProfile: 'bgm-bfd' });
    await startRouter(
      new BirdRouter(lab, {
        asn: labNet.routerAsn,
        peers: speakerPeers(labNet.routerAsn),
        bfd: { intervalMs: 100 },
      }),
    );
    const bird = router as BirdRouter;
    const bfdUp = async (): Promise<number> =>
      (await bird.birdc('show bfd sessions')).split('\n').filter((l) => /\sUp\s/.test(l)).length;
    try {
      await waitFor('6 BFD sessions Up', 15_000, async () => (await bfdUp()) === 6);
    } catch (err) {
      const bfdLines = fs
        .readFileSync(path.join(dir, 'speaker-node1.log'), 'utf8')
        .split('\n')
        .filter((l) => /BFD|bfd/.test(l))
        .slice(-10)
        .join('\n');
      throw new Error(
        `${(err as Error).message}\n${await bird.birdc('show bfd sessions')}\n${bfdLines}\n${await diagnostics()}`,
        { cause: err },
      );
    }
    await expectNexthops(bird, `${VIP4}/32`, nodeHosts.map(hostV4));
    // BFD shows in node1's BGPSessionState and metrics.
    await waitFor('node1 BGPSessionState bfdStatus Up', 5000, async () =>
      (await sessionStates()).some(
        (o) => o.metadata.name === 'node1-bgm-router-v4' && o.status?.bfdStatus === 'Up',
      ),
    );
    const bfdMetrics = (
      await lab.exec('node1', 'curl', ['-s', '--max-time', '2', 'http://127.0.0.1:7472/metrics'])
    ).stdout;
    expect(bfdMetrics).toMatch(/^metallb_bfd_session_up\{peer="10\.77\.0\.1"\} 1$/m);
    expect(bfdMetrics).toMatch(/^metallb_bfd_session_up_events\{peer="10\.77\.0\.1"\} [1-9]\d*$/m);
    expect(bfdMetrics).toMatch(/^metallb_bfd_control_packet_input\{peer="10\.77\.0\.1"\} [1-9]\d*$/m);
    expect(bfdMetrics).toMatch(/^metallb_bfd_control_packet_output\{peer="10\.77\.0\.1"\} [1-9]\d*$/m);

    // node1 loses the segment: its speaker's BFD notices within 3 x 100 ms and resets both
    // sessions, well before the 3 s hold time.
    const metricUp = async (): Promise<string> =>
      (
        await lab.exec('node1', 'curl', ['-s', '--max-time', '1', 'http://127.0.0.1:7472/metrics'])
      ).stdout.match(/^metallb_bgp_session_up\{peer="10\.77\.0\.1:179"\} (\d)$/m)?.[1] ?? '?';
    expect(await metricUp()).toBe('1');
    await lab.unplug('node1');
    const cut = Date.now();
    try {
      await waitFor('node1 speaker sees the session down', 5000, async () => (await metricUp()) === '0');
      expect(Date.now() - cut).toBeLessThan(2000);
      await expectNexthops(bird, `${VIP4}/32`, [hostV4('node2'), hostV4('node3')]);
    } finally {
      await lab.plug('node1');
    }
    await expectNexthops(bird, `${VIP4}/32`, nodeHosts.map(hostV4));
    await expectNexthops(bird, `${VIP6}/128`, nodeHosts.map(hostV6));
    expect(fs.readFileSync(path.join(dir, 'speaker-node1.log'), 'utf8')).toContain(
      'BFD down: resetting the BGP session',
    );
    for (const name of ['bgm-router-v4', 'bgm-router-v6']) await patchPeer(name, { bfdProfile: null });
  }, 90_000);

  it('with a TCP-MD5 password on BIRD: never Established without it, Established with the same one', async () => {
    await startRouter(
      new BirdRouter(lab, {
        asn: labNet.routerAsn,
        peers: speakerPeers(labNet.routerAsn, PASSWORD, [4]),
      }),
    );
    const bird = router as BirdRouter;
    // The speakers retry every second (connectTime 1s): give them several chances.
    const deadline = Date.now() + 6000;
    while (Date.now() < deadline) {
      expect(await bird.established()).toEqual([]);
      await sleep(500);
    }
    // Each node's BGPSessionState says so, with why the last session ended.
    const v4 = (await sessionStates()).filter((o) => o.metadata.name.endsWith('-bgm-router-v4'));
    expect(v4).toHaveLength(3);
    for (const o of v4) {
      expect(o.status?.bgpStatus).not.toBe('Established');
      expect(o.status?.lastError).toEqual(expect.any(String));
    }
    process.stderr.write(`BGPSessionState without the password: ${JSON.stringify(v4[0]?.status)}\n`);
    await patchPeer('bgm-router-v4', { password: PASSWORD });
    await waitFor(
      '3 sessions with the password',
      30_000,
      async () => (await bird.established()).length === 3,
    );
    await expectNexthops(bird, `${VIP4}/32`, nodeHosts.map(hostV4));
    // These sessions are reconnects within the speakers' runs: no Restart State bit.
    for (const node of nodeHosts) expect(await neighborRestartBit(bird, hostV4(node))).toBe(false);

    // A wrong password is as good as none.
    await patchPeer('bgm-router-v4', { password: 'wrong' });
    await waitFor(
      'sessions down with a wrong password',
      30_000,
      async () => (await bird.established()).length === 0,
    );
    await sleep(3000);
    expect(await bird.established()).toEqual([]);
  }, 60_000);

  it("with --bgp-listen-port, takes BIRD's connections when its own dial cannot get through", async () => {
    // Our dial goes to a port nothing listens on; BIRD (not passive) dials the nodes on 179.
    await patchPeer('bgm-router-v4', { password: null, peerPort: 1790 });
    const restart = async (env: Record<string, string>): Promise<void> => {
      await Promise.all(nodeHosts.map((n) => speakers.get(n)?.stop(5000)));
      for (const n of nodeHosts) startSpeaker(n, env);
    };
    await restart({ METALLB_BGP_LISTEN_PORT: '179' });
    try {
      await startRouter(
        new BirdRouter(lab, {
          asn: labNet.routerAsn,
          peers: speakerPeers(labNet.routerAsn, undefined, [4]),
          passive: false,
        }),
      );
      const bird = router as BirdRouter;
      await waitFor('3 sessions BIRD opened', 30_000, async () => (await bird.established()).length === 3);
      await expectNexthops(bird, `${VIP4}/32`, nodeHosts.map(hostV4));
      // Every session is a connection from the router to a node's port 179.
      const ss = await lab.exec('router', 'ss', ['-Htn', 'state', 'established', '( dport = :179 )']);
      const peers = ss.stdout
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => l.trim().split(/\s+/).at(-1)?.replace(/:179$/, ''))
        .sort();
      expect(peers).toEqual(nodeHosts.map(hostV4).sort());
      const log = fs.readFileSync(path.join(dir, 'speaker-node1.log'), 'utf8');
      expect(log).toContain('accepting BGP connections from the peers');
    } finally {
      await patchPeer('bgm-router-v4', { peerPort: null });
      await restart({});
    }
  }, 90_000);

  it('FRR installs the same 3-next-hop ECMP routes over eBGP', async () => {
    await patchPeer('bgm-router-v4', { password: null, myASN: labNet.nodeAsn });
    await patchPeer('bgm-router-v6', { myASN: labNet.nodeAsn });
    await startRouter(new FrrRouter(lab, { asn: labNet.routerAsn, peers: speakerPeers(labNet.nodeAsn) }));
    const frr = router as FrrRouter;
    await expectNexthops(frr, `${VIP4}/32`, nodeHosts.map(hostV4));
    await expectNexthops(frr, `${VIP6}/128`, nodeHosts.map(hostV6));
    const fib4 = await lab.exec('router', 'ip', ['-4', 'route', 'show', `${VIP4}/32`]);
    const fib6 = await lab.exec('router', 'ip', ['-6', 'route', 'show', `${VIP6}/128`]);
    process.stderr.write(`router FIB (FRR):\n${fib4.stdout}${fib6.stdout}`);
    const res = await lab.exec('client', 'curl', ['-sS', '--max-time', '3', `http://${VIP4}/`]);
    expect(nodeHosts as readonly string[]).toContain(res.stdout.trim());
  }, 60_000);

  it('withdraws the routes when the Service is deleted', async () => {
    const r = router as FrrRouter;
    await kubectl(['delete', 'service', 'web', '-n', appNs]);
    await expectNexthops(r, `${VIP4}/32`, []);
    await expectNexthops(r, `${VIP6}/128`, []);
    // The sessions stay up: only the routes went.
    expect(await r.established()).toHaveLength(6);
    await waitFor(
      'the ServiceBGPStatus objects deleted',
      5000,
      async () => (await serviceStatuses()).length === 0,
    );
  });
});
