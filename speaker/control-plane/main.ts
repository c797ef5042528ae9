// `beacon-speaker control-plane`: serves the API server's VIP(s) for this control-plane node,
// before the cluster exists (it fronts the API, so it never uses it). Wiring only:
//   probe.ts (local /readyz, /livez) ─┐
//   interfaces (link, addresses) ─────┼─ candidate.ts ─→ vip-l2.ts (membership + responder)
//   key-file.ts (membership key) ─────┘
// `beacon-speaker control-plane manifest` prints the static Pod manifest (manifest.ts).
//
// Bad values are reported naming the flag and value; what is valid keeps being served.

import fs from 'node:fs';
import { runComponent } from '../../lib/component.js';
import type { Logger } from '../../lib/log.js';
import { InterfaceWatcher, type InterfaceSnapshot } from '../layer2/responder/interfaces.js';
import { ETH_P_ARP, PacketSocket, interfaceIndex } from '../native/index.js';
import { candidacy } from './candidate.js';
import {
  ControlPlaneConfigError,
  parseConfigFile,
  resolveConfig,
  type BgpSettings,
  type ConfigProblem,
  type ControlPlaneConfig,
} from './config.js';
import { controlPlaneFlags } from './flags.js';
import { readKeyFile } from './key-file.js';
import { manifestFlags, renderManifest } from './manifest.js';
import { ControlPlaneMetrics } from './metrics.js';
import { placeVips } from './placement.js';
import { HealthMonitor } from './probe.js';
import { addLocalVips, quietKernelArp, removeLocalVips } from './local-address.js';
import { VipL2 } from './vip-l2.js';
import { VipBgp } from './vip-bgp.js';
import { registerStallMetrics, watchMainThread } from '../thread-stalls.js';
import type { Registry } from 'prom-client';
import { parseFlags, usage, FlagError } from '../../lib/flags.js';

const keyRetryMs = 2000;

/** Entry point of the subcommand; `argv` follows "control-plane". */
export async function runControlPlane(argv: readonly string[]): Promise<void> {
  if (argv[0] === 'manifest') {
    printManifest(argv.slice(1));
    return;
  }
  await runComponent(
    {
      program: 'beacon-speaker control-plane',
      summary:
        'Serves the API server VIP(s) of this control-plane node: ARP/NDP from one ready node at a time, ' +
        'chosen over signed heartbeats among the control-plane nodes (no Kubernetes API needed).',
      flags: controlPlaneFlags,
      async start({ flags, log, registry, shutdown, setReady }) {
        let config: ControlPlaneConfig;
        let problems: ConfigProblem[];
        try {
          const file = flags.config;
          let fromFile: Record<string, string> = {};
          if (file !== undefined) {
            let text: string;
            try {
              text = fs.readFileSync(file, 'utf8');
            } catch (err) {
              throw new ControlPlaneConfigError(
                `--config ${JSON.stringify(file)}: ${(err as Error).message}`,
              );
            }
            fromFile = parseConfigFile(text, JSON.stringify(file));
          }
          ({ config, problems } = resolveConfig(flags, fromFile));
        } catch (err) {
          if (!(err instanceof ControlPlaneConfigError)) throw err;
          process.stderr.write(`beacon-speaker control-plane: ${err.message}\n`);
          process.exit(2);
        }
        const metrics = new ControlPlaneMetrics(registry);
        registerStallMetrics(registry);
        const mainStalls = watchMainThread((s) => log.warn('speaker main thread stalled', { ...s }));
        shutdown.add('thread stall watch', () => mainStalls.close());
        const report = reporter(log, metrics);
        for (const p of problems) report(p);
        log.info('control-plane VIP mode', {
          node: config.node,
          vips: config.vips,
          port: config.port,
          peers: config.peers.map((p) => `${p.name}=${p.address}`),
          membershipPort: config.membershipPort,
          health: config.health.url,
        });
        if (config.bgp !== undefined)
          await serveBgp(config, config.bgp, log, registry, metrics, shutdown, setReady);
        else await serve(config, log, metrics, report, shutdown, setReady);
      },
    },
    argv,
  );
}

function reporter(log: Logger, metrics: ControlPlaneMetrics): (p: ConfigProblem) => void {
  const seen = new Set<string>();
  return (p) => {
    const key = `${p.flag}\n${p.value}\n${p.message}`;
    if (seen.has(key)) return;
    seen.add(key);
    metrics.configProblems.inc({ flag: p.flag });
    log.error(`--${p.flag} ${JSON.stringify(p.value)}: ${p.message}`, { flag: p.flag, value: p.value });
  };
}

async function serve(
  config: ControlPlaneConfig,
  log: Logger,
  metrics: ControlPlaneMetrics,
  report: (p: ConfigProblem) => void,
  shutdown: { add(name: string, fn: () => unknown): void },
  setReady: (ready: boolean) => void,
): Promise<void> {
  const monotonic = (): number => Number(process.hrtime.bigint()) / 1e6;
  let vip: VipL2 | undefined;
  let snapshot: InterfaceSnapshot = { links: [], addresses: [] };
  let placed: ReadonlyMap<string, readonly string[]> = new Map();
  let linkUp = false;
  let responderOk = false;
  let apiReady = false;
  let stopping = false;
  let lastCandidacy = '';

  const decide = (): void => {
    const c = candidacy({ apiReady, linkUp, responderOk, stopping });
    metrics.candidate.set(c.candidate ? 1 : 0);
    const text = c.candidate ? 'candidate' : c.reasons.join(', ');
    if (text !== lastCandidacy) {
      lastCandidacy = text;
      log.info(c.candidate ? 'this node is a VIP candidate' : 'this node is not a VIP candidate', {
        reasons: c.reasons,
      });
    }
    vip?.setCandidate(c.candidate);
  };

  // --- Interfaces: placement, link, packet sockets ------------------------------------------
  const quieted = new Set<string>();
  const onInterfaces = (next: InterfaceSnapshot): void => {
    snapshot = next;
    const placement = placeVips(config.vips, snapshot, config.interface);
    for (const p of placement.problems) report(p);
    placed = placement.placed;
    const names = new Set([...placed.values()].flat());
    for (const name of names) {
      if (quieted.has(name)) continue;
      quieted.add(name);
      try {
        const changed = quietKernelArp(name);
        if (changed.length > 0)
          log.info('kernel ARP answers only for addresses of the receiving interface', {
            interface: name,
            changed,
          });
      } catch (err) {
        log.error('cannot set arp_ignore/arp_announce: the kernel may answer ARP for the VIP on every node', {
          interface: name,
          error: (err as Error).message,
        });
      }
    }
    linkUp = snapshot.links.some((l) => names.has(l.name) && l.up && l.running);
    const first = [...names][0];
    if (first !== undefined) {
      try {
        PacketSocket.open({
          interface: interfaceIndex(first),
          etherType: ETH_P_ARP,
          onFrame: () => undefined,
          onError: () => undefined,
        }).close();
        responderOk = true;
      } catch (err) {
        if (responderOk || lastCandidacy === '')
          log.error('cannot open a packet socket: the VIP needs CAP_NET_RAW', {
            interface: first,
            error: (err as Error).message,
          });
        responderOk = false;
      }
    }
    vip?.setInterfaces(snapshot);
    vip?.setPlaced(placed);
    decide();
  };
  for (const r of await addLocalVips(config.vips))
    if (r.error !== undefined)
      report({ flag: 'vip', value: r.vip, message: `cannot add it to lo (needs CAP_NET_ADMIN): ${r.error}` });
  const watcher = await InterfaceWatcher.start({
    onChange: onInterfaces,
    onError: (err) => log.warn('interface scan failed', { error: err.message }),
  });

  // --- Health of the local API server --------------------------------------------------------
  let lastFailure = '';
  const health = new HealthMonitor({
    settings: config.health,
    now: monotonic,
    onFailure: (reason) => {
      metrics.probeFailures.inc();
      if (reason !== lastFailure) {
        lastFailure = reason;
        log.warn(`--health-url ${JSON.stringify(config.health.url)}: probe failed`, { reason });
      }
    },
    onChange: (change) => {
      apiReady = change.ready;
      metrics.apiReady.set(apiReady ? 1 : 0);
      if (change.ready) lastFailure = '';
      log.info(change.ready ? 'API server ready' : 'API server not ready', { reason: change.reason });
      decide();
    },
  });
  metrics.apiReady.set(0);
  health.start();

  // --- The key, then membership -------------------------------------------------------------
  let keyTimer: NodeJS.Timeout | undefined;
  let lastKeyProblem = '';
  let keyText = '';
  const loadKey = (): void => {
    if (stopping) return;
    const k = readKeyFile(config.keyFile);
    if (!k.ok) {
      if (k.reason !== lastKeyProblem) {
        lastKeyProblem = k.reason;
        log.error(`${k.reason}; no VIP is answered until the key can be read`, { flag: 'key-file' });
      }
    } else {
      lastKeyProblem = '';
      const text = k.key.toString('base64');
      if (vip === undefined) {
        vip = new VipL2({ config, key: k.key, log, metrics, now: monotonic });
        vip.setInterfaces(snapshot);
        vip.setPlaced(placed);
        log.info('membership started', { port: config.membershipPort, peers: config.peers.length });
        decide();
      } else if (text !== keyText) {
        vip.setKey(k.key);
        log.info('membership key changed');
      }
      keyText = text;
    }
    keyTimer = setTimeout(loadKey, vip === undefined ? keyRetryMs : 5 * keyRetryMs);
    keyTimer.unref();
  };
  loadKey();

  shutdown.add('control-plane VIP', async () => {
    stopping = true;
    if (keyTimer !== undefined) clearTimeout(keyTimer);
    health.stop();
    decide();
    await vip?.stop();
    watcher.close();
    await removeLocalVips(config.vips);
    log.info('control-plane VIP stopped: stopped answering, left membership');
  });
  setReady(true);
}

/** bgp mode: every ready node announces the VIPs; no membership, no ARP (vip-bgp.ts). */
async function serveBgp(
  config: ControlPlaneConfig,
  settings: BgpSettings,
  log: Logger,
  registry: Registry,
  metrics: ControlPlaneMetrics,
  shutdown: { add(name: string, fn: () => unknown): void },
  setReady: (ready: boolean) => void,
): Promise<void> {
  const monotonic = (): number => Number(process.hrtime.bigint()) / 1e6;
  const bgp = new VipBgp(config.vips, settings, log, registry);
  let apiReady = false;
  let linkUp = false;
  let stopping = false;
  let routerId: string | undefined;
  let last = '';
  const decide = (): void => {
    // No packet sockets in this mode: the responder's health does not count.
    const c = candidacy({ apiReady, linkUp, responderOk: true, stopping });
    metrics.candidate.set(c.candidate ? 1 : 0);
    for (const vip of config.vips) metrics.owned.set({ vip }, c.candidate ? 1 : 0);
    const text = c.candidate ? 'candidate' : c.reasons.join(', ');
    if (text !== last) {
      last = text;
      log.info(c.candidate ? 'announcing the VIPs over BGP' : 'not announcing the VIPs', {
        reasons: c.reasons,
      });
    }
    bgp.setCandidate(c.candidate);
  };
  for (const r of await addLocalVips(config.vips))
    if (r.error !== undefined)
      log.error(`--vip ${JSON.stringify(r.vip)}: cannot add it to lo (needs CAP_NET_ADMIN): ${r.error}`, {
        flag: 'vip',
      });
  const watcher = await InterfaceWatcher.start({
    onChange: (snapshot) => {
      const links = snapshot.links.filter((l) =>
        config.interface !== undefined ? l.name === config.interface : l.name !== 'lo',
      );
      linkUp = links.some((l) => l.up && l.running);
      if (routerId === undefined) {
        const indexes = new Set(links.map((l) => l.index));
        routerId = snapshot.addresses.find((a) => a.family === 4 && indexes.has(a.index))?.address;
        if (routerId !== undefined || settings.routerId !== undefined) {
          bgp.setRouterId(settings.routerId ?? routerId!);
          log.info('BGP sessions started', {
            routers: settings.routers.map((r) => `${r.address} AS${r.asn}`),
            routerId: settings.routerId ?? routerId,
            bfd: settings.bfd,
          });
        }
      }
      decide();
    },
    onError: (err) => log.warn('interface scan failed', { error: err.message }),
  });
  const health = new HealthMonitor({
    settings: config.health,
    now: monotonic,
    onFailure: () => metrics.probeFailures.inc(),
    onChange: (change) => {
      apiReady = change.ready;
      metrics.apiReady.set(apiReady ? 1 : 0);
      log.info(change.ready ? 'API server ready' : 'API server not ready', { reason: change.reason });
      decide();
    },
  });
  health.start();
  shutdown.add('control-plane VIP (BGP)', async () => {
    stopping = true;
    health.stop();
    decide();
    await bgp.stop();
    watcher.close();
    await removeLocalVips(config.vips);
    log.info('control-plane VIP stopped: withdrew the VIPs');
  });
  setReady(true);
}

function printManifest(argv: readonly string[]): void {
  let values: Record<string, string | undefined>;
  try {
    const parsed = parseFlags(manifestFlags, argv, process.env);
    if (parsed.help) {
      process.stdout.write(
        usage(
          'beacon-speaker control-plane manifest',
          'Prints the static Pod manifest for /etc/kubernetes/manifests/.',
          manifestFlags,
        ),
      );
      return;
    }
    values = parsed.values;
    process.stdout.write(renderManifest(values));
  } catch (err) {
    if (!(err instanceof FlagError) && !(err instanceof ControlPlaneConfigError)) throw err;
    process.stderr.write(`beacon-speaker control-plane manifest: ${err.message}\n`);
    process.exitCode = 2;
  }
}
