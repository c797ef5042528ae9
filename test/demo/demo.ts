// `make demo`: Beacon's main job on the embedded lab, with the layer 2 example's MetalLB YAML applied
// verbatim. A real control plane, the network lab (three nodes, a router and a client on one
// bridge), Node objects and an EndpointSlice written here (no kubelet, no controller-manager),
// the kube-proxy stand-in, then the controller and one speaker per node. It prints one line per
// step, ✓ when the step did what it should and ✗ (with the reason) when it did not, and leaves
// everything running for the user to explore until `make demo-down`.
//
// Everything the demo starts is recorded in <dir>/demo.json, so `down` (another process) can
// end it by PID: speakers and controller, the lab (whose own state lists its processes), and
// the control plane's supervisor.

import fs from 'node:fs';
import path from 'node:path';
import { controlPlaneBinaries, freePort, repoRoot, writeKubeconfig } from '../env/control-plane.js';
import { kubectl } from '../env/install.js';
import { startTestEnv, stopTestEnv, type TestEnvState } from '../env/testenv.js';
import {
  Lab,
  hostSeedV4,
  hostV4,
  labNet,
  nodeHosts,
  parseNexthops,
  processAlive,
  type NodeHost,
} from '../e2e/lab.js';
import { KubeProxy } from '../e2e/proxy.js';
import { relayRootEndpoint, targetFromUrl } from '../e2e/relay.js';
import { endpointSliceObject, nodeObject, nodeStatusPatch } from './objects.js';
import { birdFiles, birdc, parseEstablished, routeClientViaRouter, startBird } from './bgp.js';
import { arpFromClient, clientNeighbour, curlFromClient, nodeOfMac, type ArpAnswer } from './probes.js';
import { logTail, startTracked, stopTracked, trackedAlive, type TrackedProcess } from './processes.js';
import { controllerNodeFlags } from '../../controller/node-flags.js';

/** The layer 2 example's Service: name, namespace, IP and port, as in test/demo/seed-002-svc.yaml. */
export const seedService = { name: 'myapp', namespace: 'default', ip: '192.168.10.222', port: 80 } as const;

export const seedFiles = {
  /** IPAddressPool first-pool + L2Advertisement example, copied verbatim from the seed. */
  pool: path.join(repoRoot, 'manifests/samples/seed-002.yaml'),
  deployment: path.join(repoRoot, 'test/demo/seed-002-deployment.yaml'),
  service: path.join(repoRoot, 'test/demo/seed-002-svc.yaml'),
  /** `make demo-bgp`: the seed's pool with a BGPAdvertisement and the router as BGPPeer. */
  bgp: path.join(repoRoot, 'test/demo/seed-002-bgp.yaml'),
};

export const defaultPrefix = 'bcn-';
export const defaultDir = path.join(repoRoot, '.testenv/demo');
const speakerMetricsPort = 7472;

/** Every step the demo reports, in order. */
export const stepIds = [
  'control-plane',
  'lab',
  'relay',
  'nodes',
  'seed-pool',
  'seed-deployment',
  'seed-service',
  'endpointslice',
  'kube-proxy',
  'controller',
  'speakers',
  'external-ip',
  'arp',
  'curl',
] as const;

/** Every step of `make demo-bgp`, in order: BGP configuration, the router and its route. */
export const bgpStepIds = [
  'control-plane',
  'lab',
  'relay',
  'nodes',
  'bgp-config',
  'seed-deployment',
  'seed-service',
  'endpointslice',
  'kube-proxy',
  'router',
  'controller',
  'speakers',
  'external-ip',
  'bgp-sessions',
  'bgp-route',
  'curl',
] as const;
export type StepId = (typeof stepIds)[number] | (typeof bgpStepIds)[number];
export type DemoMode = 'l2' | 'bgp';

export interface DemoStep {
  id: StepId;
  reached: boolean;
  line: string;
}

export interface DemoReport {
  mode: DemoMode;
  prefix: string;
  dir: string;
  steps: DemoStep[];
  externalIP: string | undefined;
  arpAnswers: ArpAnswer[];
  curl: { code: number; body: string } | undefined;
  neighbour: string | undefined;
  /** BGP mode: the router's FIB next hops for the Service IP. */
  routerNexthops?: string[];
  /** BGP mode: the nodes that answered the client's requests through the router. */
  answeredBy?: string[];
}

/** What `down` needs to end everything; written as soon as something is started. */
export interface DemoState {
  prefix: string;
  dir: string;
  labDir: string;
  testenvState: string;
  controlPlane?: { supervisorPid: number; apiserverPid: number; etcdPid: number };
  controller?: TrackedProcess;
  speakers: Array<TrackedProcess & { node: NodeHost }>;
  /** BGP mode: BIRD in the router namespace. */
  router?: TrackedProcess;
}

export interface DemoOptions {
  /** 'l2' (the layer 2 example as written, default) or 'bgp' (`make demo-bgp`). */
  mode?: DemoMode;
  /** Extra Node.js options for the controller and speakers (benchmarks: heap snapshots). */
  nodeArgs?: readonly string[];
  prefix?: string;
  dir?: string;
  /** How long to wait for the EXTERNAL-IP, in seconds (default 20). */
  waitSeconds?: number;
  /** Where the demo's lines go (default stdout). */
  out?: (text: string) => void;
  /**
   * For tests: tear the control plane and the lab down once this process is gone (a killed
   * Jest run). `make demo` leaves it unset: the demo outlives the command.
   */
  owner?: number;
}

/** A step that the rest of the demo cannot do without failed: `up` stops there. */
export class DemoAborted extends Error {}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err)).trim();

/** A path as the user should type it: relative to the working directory when inside it. */
function shown(p: string): string {
  const rel = path.relative(process.cwd(), p);
  return rel === '' || rel.startsWith('..') || path.isAbsolute(rel) ? p : rel;
}

function indent(text: string, by = '    '): string {
  return text
    .trimEnd()
    .split('\n')
    .map((l) => by + l)
    .join('\n');
}

function paths(dir: string) {
  return {
    state: path.join(dir, 'demo.json'),
    report: path.join(dir, 'report.json'),
    testenv: path.join(dir, 'testenv.json'),
    kubeconfig: path.join(dir, 'kubeconfig'),
    controllerKubeconfig: path.join(dir, 'controller.kubeconfig'),
    speakerKubeconfig: path.join(dir, 'speaker.kubeconfig'),
    objects: path.join(dir, 'objects'),
    controllerLog: path.join(dir, 'controller.log'),
    speakerLog: (node: NodeHost) => path.join(dir, `speaker-${node}.log`),
  };
}

export function readDemoState(dir: string = defaultDir): DemoState | undefined {
  try {
    return JSON.parse(fs.readFileSync(paths(dir).state, 'utf8')) as DemoState;
  } catch {
    return undefined;
  }
}

export function readDemoReport(dir: string = defaultDir): DemoReport | undefined {
  try {
    return JSON.parse(fs.readFileSync(paths(dir).report, 'utf8')) as DemoReport;
  } catch {
    return undefined;
  }
}

function writeJson(file: string, value: unknown): void {
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(value, null, 2));
  fs.renameSync(`${file}.tmp`, file);
}

/** Brings the demo up; returns what it reached. Throws DemoAborted when it could not go on. */
export async function demoUp(opts: DemoOptions = {}): Promise<DemoReport> {
  const prefix = opts.prefix ?? defaultPrefix;
  const dir = path.resolve(opts.dir ?? defaultDir);
  const out = opts.out ?? ((t: string) => void process.stdout.write(t));
  const waitSeconds = opts.waitSeconds ?? 20;
  const mode = opts.mode ?? 'l2';
  const bird = birdFiles(dir);
  const p = paths(dir);
  const say = (line: string): void => out(`${line}\n`);

  if (readDemoState(dir)) {
    say(`a previous demo is still up in ${shown(dir)}: taking it down first`);
    await demoDown({ dir, out: (t) => out(indent(t, '  ') + '\n') });
  }
  fs.mkdirSync(p.objects, { recursive: true });
  const lab = new Lab({ prefix });
  const state: DemoState = { prefix, dir, labDir: lab.dir, testenvState: p.testenv, speakers: [] };
  const saveState = (): void => writeJson(p.state, state);
  saveState();

  const report: DemoReport = {
    mode,
    prefix,
    dir,
    steps: [],
    externalIP: undefined,
    arpAnswers: [],
    curl: undefined,
    neighbour: undefined,
  };
  const step = (id: StepId, reached: boolean, line: string, detail?: string): void => {
    report.steps.push({ id, reached, line });
    writeJson(p.report, report);
    say(`${reached ? '✓' : '✗'} ${line}`);
    if (detail) say(indent(detail));
  };
  /** Runs an essential step: on failure it is reported and the demo stops. */
  const essential = async <T>(id: StepId, what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      step(id, false, `${what}: failed`, errorText(err));
      throw new DemoAborted(`${what} failed`, { cause: err });
    }
  };

  say(
    mode === 'bgp'
      ? `Beacon demo: the layer 2 example's Service in BGP mode (BIRD on the router) on the lab "${prefix}", state in ${shown(dir)}/`
      : `Beacon demo: MetalLB's layer 2 example on the lab "${prefix}", state in ${shown(dir)}/`,
  );

  // 1. The control plane: kube-apiserver + etcd, CRDs and RBAC (what `kubectl apply` of
  //    Beacon's manifests installs; the workloads are the processes started below).
  const started = Date.now();
  const env: TestEnvState = await essential('control-plane', 'control plane', () =>
    startTestEnv({
      stateFile: p.testenv,
      kubeconfig: p.kubeconfig,
      ...(opts.owner !== undefined ? { owner: opts.owner } : {}),
    }),
  );
  state.controlPlane = {
    supervisorPid: env.supervisorPid,
    apiserverPid: env.pids.apiserver,
    etcdPid: env.pids.etcd,
  };
  saveState();
  const admin = (args: string[]): Promise<string> => kubectl(p.kubeconfig, args);
  const version = await admin(['version', '-o', 'json']).then(
    (s) => (JSON.parse(s) as { serverVersion?: { gitVersion?: string } }).serverVersion?.gitVersion ?? '?',
    () => '?',
  );
  step(
    'control-plane',
    true,
    `control plane: kube-apiserver ${version} + etcd at ${env.server}, ready in ` +
      `${((Date.now() - started) / 1000).toFixed(1)} s; metallb.io CRDs, namespace metallb-system and RBAC installed`,
  );

  // 2. The lab and the API server inside it.
  await essential('lab', 'network lab', () =>
    lab.up(opts.owner !== undefined ? { guard: true, ownerPid: opts.owner } : {}),
  );
  step(
    'lab',
    true,
    `network lab "${prefix}": ${nodeHosts.join(', ')}, router and client on one bridge ` +
      `(10.77.0.0/24, 192.168.10.0/24, fd00:77::/64)`,
  );
  const target = targetFromUrl(env.server);
  await essential('relay', 'API server relay', () => relayRootEndpoint(lab, target));
  step(
    'relay',
    true,
    `API server reachable from the node namespaces at ${target.host}:${target.port} (relayed)`,
  );

  // 3. What a kubelet would register: the Node objects with their addresses and labels.
  await essential('nodes', 'Node objects', async () => {
    for (const node of nodeHosts) {
      const file = path.join(p.objects, `node-${node}.json`);
      fs.writeFileSync(file, JSON.stringify(nodeObject(node), null, 2));
      await admin(['apply', '-f', file]);
      const patch = JSON.stringify(nodeStatusPatch(node, new Date()));
      await admin(['patch', 'node', node, '--subresource=status', '--type=merge', '-p', patch]);
    }
  });
  step(
    'nodes',
    true,
    `Nodes ${nodeHosts.join(', ')}: InternalIP ${nodeHosts.map(hostV4).join(', ')} and ` +
      `${nodeHosts.map(hostSeedV4).join(', ')}, label kubernetes.io/hostname, Ready`,
  );

  // 4. The layer 2 example verbatim: the pool and the advertisement, the Deployment, the Service. In BGP
  //    mode the seed's pool comes with a BGPAdvertisement and the router as BGPPeer instead.
  if (mode === 'bgp') {
    const applied = await essential('bgp-config', 'IPAddressPool + BGPAdvertisement + BGPPeer', () =>
      admin(['apply', '-f', seedFiles.bgp]),
    );
    step(
      'bgp-config',
      true,
      `${path.relative(repoRoot, seedFiles.bgp)} applied: IPAddressPool metallb-system/first-pool ` +
        `192.168.10.200-192.168.10.250 (the layer 2 example's), BGPAdvertisement metallb-system/example, ` +
        `BGPPeer metallb-system/router ${hostV4('router')} (myASN ${labNet.routerAsn}, peerASN ${labNet.routerAsn}); ` +
        `no L2Advertisement`,
      applied,
    );
  } else {
    const applied = await essential('seed-pool', 'the layer 2 example IPAddressPool + L2Advertisement', () =>
      admin(['apply', '-f', seedFiles.pool]),
    );
    step(
      'seed-pool',
      true,
      `the layer 2 example applied verbatim (${path.relative(repoRoot, seedFiles.pool)}): IPAddressPool ` +
        `metallb-system/first-pool 192.168.10.200-192.168.10.250, L2Advertisement metallb-system/example`,
      applied,
    );
  }
  try {
    const out = await admin(['apply', '-f', seedFiles.deployment]);
    step(
      'seed-deployment',
      true,
      `the layer 2 example Deployment default/myapp-deploy applied verbatim (${path.relative(repoRoot, seedFiles.deployment)}); ` +
        `no kubelet runs here, so it gets no Pods: the kube-proxy stand-in answers instead`,
      out,
    );
  } catch (err) {
    step(
      'seed-deployment',
      false,
      'the layer 2 example Deployment default/myapp-deploy: the API server refused it',
      errorText(err),
    );
  }
  const svcOut = await essential('seed-service', 'the layer 2 example Service', () =>
    admin(['apply', '-f', seedFiles.service]),
  );
  const svc = JSON.parse(
    await admin(['get', 'service', seedService.name, '-n', seedService.namespace, '-o', 'json']),
  ) as { spec?: { type?: string; loadBalancerIP?: string; clusterIP?: string } };
  const svcOk = svc.spec?.type === 'LoadBalancer' && svc.spec.loadBalancerIP === seedService.ip;
  step(
    'seed-service',
    svcOk,
    `the layer 2 example Service default/myapp applied verbatim (${path.relative(repoRoot, seedFiles.service)}): ` +
      `type ${svc.spec?.type}, loadBalancerIP ${svc.spec?.loadBalancerIP}, clusterIP ${svc.spec?.clusterIP}`,
    svcOut,
  );

  // 5. What the EndpointSlice controller and kube-proxy would do.
  const slice = endpointSliceObject({
    service: seedService.name,
    namespace: seedService.namespace,
    port: { name: 'http', port: seedService.port, protocol: 'TCP' },
  });
  const sliceFile = path.join(p.objects, 'endpointslice-myapp.json');
  fs.writeFileSync(sliceFile, JSON.stringify(slice, null, 2));
  await essential('endpointslice', 'EndpointSlice', () => admin(['apply', '-f', sliceFile]));
  step(
    'endpointslice',
    true,
    `EndpointSlice default/myapp-demo: ready backends on ${nodeHosts.join(', ')} ` +
      `(${nodeHosts.map(hostV4).join(', ')}), port ${seedService.port}`,
  );
  await essential('kube-proxy', 'kube-proxy stand-in', () =>
    new KubeProxy(lab).addServiceIP(seedService.ip, seedService.port),
  );
  step(
    'kube-proxy',
    true,
    `kube-proxy stand-in: ${seedService.ip}:${seedService.port} on kube-ipvs0 of every node ` +
      `(arp_ignore=1, so only Beacon may answer ARP), answering with the node's name`,
  );

  // 5b. BGP mode: the router (BIRD, waiting for the speakers to connect) and the client's
  //     route to the Service IP through it.
  if (mode === 'bgp') {
    state.router = await essential('router', 'BIRD on the router', () => startBird(lab, bird));
    saveState();
    await essential('router', "the client's route via the router", () =>
      routeClientViaRouter(lab, seedService.ip),
    );
    step(
      'router',
      true,
      `BIRD in ${lab.ns('router')} (pid ${state.router.pid}): iBGP AS ${labNet.routerAsn} with ` +
        `${nodeHosts.map(hostV4).join(', ')}, BGP routes to the kernel as one multipath route; ` +
        `the client routes ${seedService.ip}/32 via ${hostV4('router')}; config ${shown(bird.conf)}`,
    );
  }

  // 6. Beacon: the controller in the root namespace, a speaker in every node namespace, each
  //    with its ServiceAccount's identity.
  writeKubeconfig(env, p.controllerKubeconfig, 'controller');
  writeKubeconfig(env, p.speakerKubeconfig, 'speaker');
  const controllerMain = path.join(repoRoot, 'dist/controller/main.js');
  const speakerMain = path.join(repoRoot, 'dist/speaker/main.js');
  const metricsPort = await freePort();
  fs.rmSync(p.controllerLog, { force: true });
  const controller = await essential('controller', 'controller', () =>
    startTracked(
      [
        process.execPath,
        ...controllerNodeFlags,
        ...(opts.nodeArgs ?? []),
        controllerMain,
        '--kubeconfig',
        p.controllerKubeconfig,
        '--metrics-host',
        '127.0.0.1',
        '--metrics-port',
        String(metricsPort),
      ],
      p.controllerLog,
      [process.execPath, ...controllerNodeFlags, ...(opts.nodeArgs ?? []), controllerMain],
    ),
  );
  state.controller = controller;
  saveState();
  for (const node of nodeHosts) {
    const log = p.speakerLog(node);
    fs.rmSync(log, { force: true });
    const argv = [
      'ip',
      'netns',
      'exec',
      lab.ns(node),
      process.execPath,
      ...(opts.nodeArgs ?? []),
      speakerMain,
    ];
    argv.push('--kubeconfig', p.speakerKubeconfig, '--node-name', node);
    argv.push('--metrics-port', String(speakerMetricsPort));
    const speaker = await essential('speakers', `speaker on ${node}`, () =>
      startTracked(argv, log, [process.execPath, ...(opts.nodeArgs ?? []), speakerMain]),
    );
    state.speakers.push({ ...speaker, node });
    saveState();
  }
  const controllerHealthy = await waitFor(10_000, async () => {
    if (!trackedAlive(controller)) return true;
    const res = await fetch(`http://127.0.0.1:${metricsPort}/healthz`).catch(() => undefined);
    return res?.status === 200;
  });
  if (trackedAlive(controller) && controllerHealthy)
    step(
      'controller',
      true,
      `controller running (pid ${controller.pid}, identity system:serviceaccount:metallb-system:controller, ` +
        `/healthz ok on 127.0.0.1:${metricsPort}); log ${shown(p.controllerLog)}`,
    );
  else
    step(
      'controller',
      false,
      `controller ${trackedAlive(controller) ? 'runs but /healthz does not answer 200' : 'exited'}; ` +
        `log ${shown(p.controllerLog)}`,
      logTail(p.controllerLog),
    );
  const speakerProblems: string[] = [];
  for (const s of state.speakers) {
    const healthy = await waitFor(10_000, async () => {
      if (!trackedAlive(s)) return true;
      const res = await lab.exec(
        s.node,
        'curl',
        [
          '-s',
          '-o',
          '/dev/null',
          '-w',
          '%{http_code}',
          '--max-time',
          '1',
          `http://127.0.0.1:${speakerMetricsPort}/healthz`,
        ],
        { check: false },
      );
      return res.stdout.trim() === '200';
    });
    if (!trackedAlive(s)) speakerProblems.push(`${s.node}: exited\n${indent(logTail(s.log), '  ')}`);
    else if (!healthy) speakerProblems.push(`${s.node}: /healthz does not answer 200`);
  }
  const speakerLogs = state.speakers.map((s) => shown(s.log)).join(', ');
  if (speakerProblems.length === 0)
    step(
      'speakers',
      true,
      `speakers running in ${state.speakers.map((s) => `${lab.ns(s.node)} (pid ${s.pid})`).join(', ')}, ` +
        `identity system:serviceaccount:metallb-system:speaker, /healthz ok; logs ${speakerLogs}`,
    );
  else step('speakers', false, `speakers not all healthy; logs ${speakerLogs}`, speakerProblems.join('\n'));

  // 7. What Beacon should now do: the controller allocates, a speaker answers ARP.
  const svcArgs = ['get', 'service', seedService.name, '-n', seedService.namespace];
  let externalIP: string | undefined;
  await waitFor(waitSeconds * 1000, async () => {
    const ips = await admin([...svcArgs, '-o', 'jsonpath={.status.loadBalancer.ingress[*].ip}']).catch(
      () => '',
    );
    externalIP = ips.trim().split(/\s+/)[0] || undefined;
    return externalIP !== undefined;
  });
  report.externalIP = externalIP;
  if (externalIP === seedService.ip)
    step(
      'external-ip',
      true,
      `EXTERNAL-IP ${externalIP}: the controller allocated the requested loadBalancerIP`,
    );
  else if (externalIP !== undefined)
    step(
      'external-ip',
      false,
      `EXTERNAL-IP is ${externalIP}, not the requested loadBalancerIP ${seedService.ip}`,
    );
  else
    step(
      'external-ip',
      false,
      `EXTERNAL-IP still <pending> after ${waitSeconds} s: the controller did not allocate ` +
        `(not implemented yet, or see ${shown(p.controllerLog)})`,
    );
  say('');
  say(`$ kubectl --kubeconfig ${shown(p.kubeconfig)} get svc myapp`);
  say(indent(await admin(svcArgs).catch((err: unknown) => errorText(err)), ''));
  say('');
  if (mode === 'bgp') {
    // 8. BGP mode: what the router learnt and installed, and a request through it.
    const sessions = await waitFor(30_000, async () => {
      const out = await birdc(bird, 'show protocols').catch(() => '');
      return parseEstablished(out).length === nodeHosts.length;
    });
    const protocols = await birdc(bird, 'show protocols').catch((err: unknown) => errorText(err));
    const established = parseEstablished(protocols);
    step(
      'bgp-sessions',
      sessions,
      sessions
        ? `BIRD has ${established.length} BGP sessions Established, one per node speaker`
        : `BIRD has ${established.length} of ${nodeHosts.length} BGP sessions Established after 30 s ` +
            `(see ${speakerLogs} and ${shown(bird.log)})`,
      sessions ? undefined : protocols,
    );
    const prefix32 = `${seedService.ip}/32`;
    const want = nodeHosts.map(hostV4).sort().join(',');
    let hops: string[] = [];
    const fibArgs = ['route', 'show', seedService.ip];
    await waitFor(externalIP ? 20_000 : 2000, async () => {
      const res = await lab.exec('router', 'ip', fibArgs, { check: false });
      hops = parseNexthops(res.stdout).sort();
      return hops.join(',') === want;
    });
    report.routerNexthops = hops;
    say(`$ birdc -s ${shown(bird.socket)} show route ${prefix32} all`);
    say(indent(await birdc(bird, `show route ${prefix32} all`).catch((err: unknown) => errorText(err)), ''));
    say(`$ ip netns exec ${lab.ns('router')} ip route show ${seedService.ip}`);
    const fib = await lab.exec('router', 'ip', fibArgs, { check: false });
    say(fib.stdout.trim() === '' ? '(no route)' : indent(fib.stdout, ''));
    if (hops.join(',') === want)
      step(
        'bgp-route',
        true,
        `the router's FIB has ${prefix32} as one ECMP route via ${hops.join(', ')} (proto bird), ` +
          `learnt over BGP from the three speakers`,
      );
    else
      step(
        'bgp-route',
        false,
        hops.length === 0
          ? `the router has no BGP route for ${prefix32}` +
              (externalIP ? '' : ': no EXTERNAL-IP, so no speaker announces it')
          : `the router routes ${prefix32} via ${hops.join(', ')}, not via all of ${want}`,
      );

    // Several requests: the router hashes flows (L4 ports) over its next hops.
    const url = `http://${seedService.ip}/`;
    say('');
    say(`$ ip netns exec ${lab.ns('client')} curl -s --max-time 2 ${url}`);
    const curl = await curlFromClient(lab, url);
    report.curl = curl;
    if (curl.body !== '') say(indent(curl.body, ''));
    else say(`(no answer: curl exit ${curl.code}${curl.code === 28 ? ', timed out' : ''})`);
    const answers = [curl];
    for (let i = 0; i < 7; i++) answers.push(await curlFromClient(lab, url));
    const backends = answers.filter((a) => a.code === 0).map((a) => a.body.trim());
    const answeredBy = [...new Set(backends)].sort();
    report.answeredBy = answeredBy;
    const viaNodes = backends.every((b) => (nodeHosts as readonly string[]).includes(b));
    if (backends.length === answers.length && viaNodes)
      step(
        'curl',
        true,
        `the client reached ${url} through the router: ${answers.length} of ${answers.length} requests ` +
          `answered, by ${answeredBy.join(', ')} (the seed's real app would answer "Hello MyApp | Version: v1"; ` +
          `the stand-in answers its node name)`,
      );
    else
      step(
        'curl',
        false,
        `the client reached ${url} in ${backends.length} of ${answers.length} requests` +
          (viaNodes ? '' : `, with unexpected answers ${JSON.stringify(backends)}`) +
          (hops.length === 0 ? ': the router has no route for it' : ''),
      );

    const reached = report.steps.filter((s) => s.reached).length;
    say('');
    say(`${reached} of ${report.steps.length} steps reached. Everything stays up for you to explore:`);
    say(`  kubectl --kubeconfig ${shown(p.kubeconfig)} get svc,ipaddresspools,bgpadvertisements,bgppeers -A`);
    say(`  birdc -s ${shown(bird.socket)} show protocols`);
    say(`  ip netns exec ${lab.ns('router')} ip route show ${seedService.ip}`);
    say(`  ip netns exec ${lab.ns('client')} curl -s --max-time 2 ${url}`);
    say(`  logs: ${shown(p.controllerLog)}, ${speakerLogs}, ${shown(bird.log)}`);
    say(`  make demo-down${dir === defaultDir ? '' : ` (with BEACON_DEMO_DIR=${dir})`} stops it all`);
    return report;
  }

  // ARP: without an EXTERNAL-IP no speaker should answer; ask briefly anyway, to show it.
  const arpAnswers = await arpFromClient(lab, seedService.ip, externalIP ? 10_000 : 2000);
  report.arpAnswers = arpAnswers;
  const arpWho = arpAnswers.map((a) => `${a.node ?? 'an unknown host'} (${a.mac})`).join(', ');
  if (arpAnswers.length === 1 && arpAnswers[0]?.node)
    step(
      'arp',
      true,
      `ARP: ${arpWho} answers for ${seedService.ip} from the client's segment, one MAC only ` +
        `(arping from ${lab.ns('client')})`,
    );
  else if (arpAnswers.length > 1)
    step(
      'arp',
      false,
      `ARP: more than one host answers for ${seedService.ip}: ${arpWho} (layer 2 mode needs one owner)`,
    );
  else if (arpAnswers.length === 1)
    step('arp', false, `ARP: ${arpWho} answers for ${seedService.ip}, which is not a lab node`);
  else
    step(
      'arp',
      false,
      `no ARP answer for ${seedService.ip} from any node: ` +
        (externalIP
          ? `the L2 speaker does not answer (not implemented yet, or see the speaker logs)`
          : `no EXTERNAL-IP, so no speaker announces it (and the L2 speaker may not be implemented yet)`),
    );

  const url = `http://${seedService.ip}/`;
  say('');
  say(`$ ip netns exec ${lab.ns('client')} curl -s --max-time 2 ${url}`);
  const curl = await curlFromClient(lab, url);
  report.curl = curl;
  if (curl.body !== '') say(indent(curl.body, ''));
  else say(`(no answer: curl exit ${curl.code}${curl.code === 28 ? ', timed out' : ''})`);
  say(`$ ip netns exec ${lab.ns('client')} ip neigh show ${seedService.ip} dev eth0`);
  const neighbour = await clientNeighbour(lab, seedService.ip);
  report.neighbour = neighbour?.line;
  const neighbourNode = neighbour?.mac !== undefined ? nodeOfMac(neighbour.mac) : undefined;
  say(
    neighbour === undefined
      ? '(no neighbour entry)'
      : `${neighbour.line}` +
          (neighbourNode
            ? `   (${neighbour.mac} is ${neighbourNode}'s eth0: ${neighbourNode} owns ${seedService.ip})`
            : ''),
  );
  const backend = curl.body.trim();
  if (curl.code === 0 && (nodeHosts as readonly string[]).includes(backend)) {
    const arpNode = arpAnswers[0]?.node;
    step(
      'curl',
      true,
      `the client reached ${url} on ${backend}` +
        (neighbourNode ? `, through ${neighbourNode} (its neighbour entry)` : '') +
        (arpNode && arpNode !== backend ? ` (ARP said ${arpNode}: unexpected)` : '') +
        ` (the seed's real app would answer "Hello MyApp | Version: v1"; the stand-in answers its node name)`,
    );
  } else if (curl.code === 0)
    step('curl', false, `the client got an unexpected answer from ${url}: ${JSON.stringify(curl.body)}`);
  else
    step(
      'curl',
      false,
      `the client cannot reach ${url} (curl exit ${curl.code}): ` +
        (arpAnswers.length === 0 ? 'nobody answers ARP for it' : 'ARP answered but HTTP did not'),
    );

  const reached = report.steps.filter((s) => s.reached).length;
  const pinnedKubectl = path.join(await controlPlaneBinaries(), 'kubectl');
  say('');
  say(`${reached} of ${report.steps.length} steps reached. Everything stays up for you to explore:`);
  say(`  kubectl --kubeconfig ${shown(p.kubeconfig)} get svc,ipaddresspools,l2advertisements -A`);
  say(`      (the pinned kubectl: ${pinnedKubectl})`);
  say(`  ip netns exec ${lab.ns('client')} curl -s --max-time 2 ${url}`);
  say(`  ip netns exec ${lab.ns('client')} arping -c 3 -I eth0 ${seedService.ip}`);
  say(`  logs: ${shown(p.controllerLog)}, ${speakerLogs}`);
  say(`  make demo-down${dir === defaultDir ? '' : ` (with BEACON_DEMO_DIR=${dir})`} stops it all`);
  return report;
}

async function waitFor(timeoutMs: number, check: () => Promise<boolean>): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(250);
  }
}

/** Stops everything a demo in `dir` started. Idempotent. Returns what is left (nothing, normally). */
export async function demoDown(opts: { dir?: string; out?: (text: string) => void } = {}): Promise<string[]> {
  const dir = path.resolve(opts.dir ?? defaultDir);
  const out = opts.out ?? ((t: string) => void process.stdout.write(t));
  const say = (line: string): void => out(`${line}\n`);
  const state = readDemoState(dir);
  if (!state) {
    say(`no demo is up (no ${shown(paths(dir).state)})`);
    fs.rmSync(dir, { recursive: true, force: true });
    return [];
  }
  const beacon = [...state.speakers, ...(state.controller ? [state.controller] : [])];
  const running = beacon.filter(trackedAlive);
  await stopTracked(beacon);
  say(
    `✓ stopped ${running.length} Beacon process(es)${running.length ? ` (pids ${running.map((p) => p.pid).join(', ')})` : ''}`,
  );
  if (state.router) {
    const birdRunning = trackedAlive(state.router);
    await stopTracked([state.router]);
    say(birdRunning ? `✓ stopped BIRD (pid ${state.router.pid})` : '✓ BIRD was not running');
  }
  const lab = new Lab({ prefix: state.prefix, dir: state.labDir });
  await lab.down();
  say(`✓ lab "${state.prefix}" is down`);
  const stopped = await stopTestEnv(state.testenvState);
  say(stopped ? '✓ control plane stopped' : '✓ no control plane was running');
  fs.rmSync(dir, { recursive: true, force: true });

  const left = lab.leftovers();
  for (const p of [...beacon, ...(state.router ? [state.router] : [])].filter(trackedAlive))
    left.push(`process ${p.pid}: ${p.cmdline.replaceAll('\0', ' ').trim()}`);
  const cp = state.controlPlane;
  if (cp)
    for (const [name, pid] of Object.entries({
      supervisor: cp.supervisorPid,
      'kube-apiserver': cp.apiserverPid,
      etcd: cp.etcdPid,
    }))
      if (processAlive(pid)) left.push(`${name} pid ${pid}`);
  if (fs.existsSync(dir)) left.push(`directory ${dir}`);
  if (left.length > 0) say(`✗ left behind:\n${indent(left.join('\n'))}`);
  else say('✓ nothing left behind');
  return left;
}
