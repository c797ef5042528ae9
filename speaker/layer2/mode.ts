// Layer 2 mode: this node answers ARP/NDP for the Service IPs it owns. What it does and the
// state it keeps are in announcements.ts (Layer2Announcements, its decisions in decisions.ts);
// this file only reads the flags and connects that class to its real edges: the responder on
// AF_PACKET sockets, the rtnetlink interface watcher, the membership worker (RingOwnership),
// ServiceL2Status, Events, metrics and the clocks.
//
// Membership datagrams go over UDP on --memberlist-port to every Node's first InternalIP,
// authenticated with the key of Secret `memberlist` (data.secretkey) in the speaker's
// namespace; without that key the speaker announces nothing and says why.

import { performance } from 'node:perf_hooks';
import type { FlagSpec } from '../../lib/flags.js';
import { Layer2Announcements } from './announcements.js';
import { DEFAULT_EXCLUDED_INTERFACES, InterfaceWatcher } from './responder/interfaces.js';
import { Responder } from './responder/responder.js';
import { ETH_P_ARP, PacketSocket } from '../native/index.js';
import type { Protocol, ProtocolContext, RunningProtocol } from '../mode.js';
import { L2StatusWriter } from './status.js';
import { Layer2Metrics } from './metrics.js';
import { RingOwnership } from './ownership/ring-ownership.js';
import { restartHoldOnStop } from './restart-hold.js';
import { parseDuration } from '../../lib/config/raw.js';
import { maxRestartHoldMs } from './membership/messages.js';

const flags: readonly FlagSpec[] = [
  {
    name: 'memberlist-port',
    env: 'METALLB_ML_BIND_PORT',
    default: '7946',
    kind: 'port',
    help: 'UDP port of the speakers’ membership datagrams (the same on every node).',
  },
  {
    name: 'ignore-interfaces',
    env: 'BEACON_L2_IGNORE_INTERFACES',
    help:
      'Comma-separated regular expressions of interface names never used for ARP/NDP, added to ' +
      'MetalLB’s defaults (docker.*, veth.*, kube-ipvs.*, lo, ...).',
  },
  {
    name: 'layer2-restart-hold',
    env: 'BEACON_L2_RESTART_HOLD',
    default: '10s',
    help:
      'When a rolling update of the speaker DaemonSet stops this speaker, its peers keep this ' +
      'node the owner of its IPs (unanswered) for this long, so the new speaker takes them up ' +
      'without any IP moving; if it is not back by then they fail over. Any other SIGTERM ' +
      'hands over at once. 0 always hands over (MetalLB’s behaviour). At most 65s.',
  },
];

/** --layer2-restart-hold in ms; a clear error naming the flag and value when it is not one. */
export function restartHoldFlag(value: string | undefined): number {
  const text = value ?? '10s';
  const ms = parseDuration(text);
  if (ms === undefined || ms > maxRestartHoldMs)
    throw new Error(
      `--layer2-restart-hold: ${JSON.stringify(text)} is not a duration from 0 to 65s (e.g. "10s", "0")`,
    );
  return Math.round(ms);
}

export const layer2: Protocol = {
  name: 'layer2',
  flags,
  start: (ctx) => startLayer2(ctx),
};

function excludedInterfaces(value: string | undefined): RegExp[] {
  const extra = (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => {
      try {
        return new RegExp(s);
      } catch (err) {
        throw new Error(
          `--ignore-interfaces: ${JSON.stringify(s)} is not a regular expression: ${(err as Error).message}`,
          { cause: err },
        );
      }
    });
  return [...DEFAULT_EXCLUDED_INTERFACES, ...extra];
}

async function startLayer2(ctx: ProtocolContext): Promise<RunningProtocol> {
  const { log, node: self } = ctx;
  const port = Number(ctx.flags['memberlist-port'] ?? '7946');
  const exclude = excludedInterfaces(ctx.flags['ignore-interfaces']);
  const holdMs = restartHoldFlag(ctx.flags['layer2-restart-hold']);
  const l2: Layer2Announcements = new Layer2Announcements({
    self,
    namespace: ctx.namespace,
    exclude,
    log,
    metrics: new Layer2Metrics(ctx.registry),
    sources: {
      config: () => ctx.config.current(),
      cluster: () => ctx.cluster.current(),
      secrets: () => ctx.config.objects('secrets'),
    },
    events: ctx.events,
    status: new L2StatusWriter({
      node: self,
      namespace: ctx.namespace,
      api: ctx.kube,
      log,
      ...(ctx.owner !== undefined ? { owner: ctx.owner } : {}),
      // It deletes a gone node's leftovers, which only membership knows of (called on writes,
      // which come after l2 exists).
      isGone: (n) => l2.isGone(n),
    }),
    openResponder: (events) => new Responder({ exclude, ...events }),
    probeSocket: (index) =>
      PacketSocket.open({
        interface: index,
        etherType: ETH_P_ARP,
        onFrame: () => undefined,
        onError: () => undefined,
      }).close(),
    watchInterfaces: (onChange, onError) => InterfaceWatcher.start({ onChange, onError }),
    startMembership: (start) => {
      const ownership = new RingOwnership({
        self,
        port,
        log,
        // CLOCK_MONOTONIC ms, the membership worker's clock.
        now: () => Number(process.hrtime.bigint()) / 1e6,
        ...start,
      });
      log.info('membership started', { port });
      return ownership;
    },
    // The clock RingOwnership reports lost peers on (the failover histogram).
    now: () => performance.now(),
    wallClock: () => Date.now(),
    restartHold: () =>
      restartHoldOnStop({ holdMs, pod: ctx.owner?.name, namespace: ctx.namespace, api: ctx.kube, log }),
  });
  await l2.start();
  const offConfig = ctx.config.onChange(() => l2.configChanged());
  const offCluster = ctx.cluster.onChange(() => l2.clusterChanged());

  return {
    async stop() {
      offConfig();
      offCluster();
      await l2.stop();
    },
  };
}
