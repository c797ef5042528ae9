// BGP mode: sessions to the BGPPeers that select this node, each announcing what the BGP
// planner (speaker/bgp/plan) says this node announces to that peer, with next hop self.
// Every configuration change re-plans; a cluster change re-plans the Services it touched
// (plan/plan-state.ts) and hands the session manager (sessions.ts) only the routes that differ.
//
// SIGTERM (stop()), by --bgp-shutdown / METALLB_BGP_SHUTDOWN:
// - `auto` (default): a session whose BGPPeer has enableGracefulRestart and whose router
//   advertised Graceful Restart too is closed without withdrawing and without a NOTIFICATION,
//   so the router keeps forwarding to this node for the Restart Time (120 s, RFC 4724 §4.2)
//   while the speaker restarts (a rolling upgrade); the new speaker re-announces and sends
//   End-of-RIB. Every other session withdraws its routes, then closes with Cease /
//   Administrative Shutdown (RFC 4486).
// - `withdraw`: every session withdraws, then Cease: for taking a node out of service. (So
//   does labelling the Node node.kubernetes.io/exclude-from-external-load-balancers first,
//   which withdraws its routes while the sessions stay up.)
//
// --bgp-listen-port / METALLB_BGP_LISTEN_PORT (unset by default): also accept the routers'
// connections on that TCP port (sessions.ts); unset, the speaker only dials, as MetalLB.

import { BgpPlanState, toRibChanges, toRibRoutes } from './plan/index.js';
import type { Protocol, ProtocolContext } from '../mode.js';
import { BgpBfd } from './bfd/bgp-bfd.js';
import { registerBfdMetrics } from './bfd/metrics.js';
import { BgpMetrics } from './metrics.js';
import { ServiceBgpStatusWriter } from './status/service-status-writer.js';
import { sessionSpec } from './session/session-spec.js';
import { sessionStateStatus, type SessionStateStatus } from './status/session-state.js';
import { SessionStateWriter } from './status/session-state-writer.js';
import { BgpSessions, type DesiredSession, type StopMode } from './session/sessions.js';

export const shutdownModes = ['auto', 'withdraw'] as const;
export type ShutdownMode = (typeof shutdownModes)[number];

export const bgp: Protocol = {
  name: 'bgp',
  flags: [
    {
      name: 'bgp-shutdown',
      env: 'METALLB_BGP_SHUTDOWN',
      default: 'auto',
      choices: shutdownModes,
      help:
        'On SIGTERM: "auto" keeps routes at routers that negotiated graceful restart with a ' +
        'BGPPeer with enableGracefulRestart (a restart), withdraws elsewhere; "withdraw" always ' +
        'withdraws, then sends Cease.',
    },
    {
      name: 'bgp-listen-port',
      env: 'METALLB_BGP_LISTEN_PORT',
      kind: 'port',
      help:
        'Also accept BGP connections from the BGPPeers on this TCP port (e.g. 179, on every ' +
        'address); unset, sessions are only dialled, as MetalLB does. If the port cannot be ' +
        "opened (in use, say by Calico's BIRD) the speaker logs an error and only dials.",
    },
  ],
  start(ctx: ProtocolContext) {
    const mode: StopMode = ctx.flags['bgp-shutdown'] === 'withdraw' ? 'withdraw' : 'keep';
    // Validated as a port number by the flag parser.
    const listenPort = ctx.flags['bgp-listen-port'];
    const bfd = new BgpBfd(ctx.log);
    registerBfdMetrics(
      ctx.registry,
      () => bfd.stats(),
      () => bfd.workerRestarts,
      () => bfd.workerLag(),
    );
    const writerOptions = {
      node: ctx.node,
      namespace: ctx.namespace,
      api: ctx.kube,
      log: ctx.log,
      // The status objects belong to this speaker's Pod (none outside a Pod, as in the lab).
      ...(ctx.owner !== undefined ? { owner: ctx.owner } : {}),
    };
    const sessionStates = new SessionStateWriter(writerOptions);
    const serviceStatuses = new ServiceBgpStatusWriter(writerOptions);
    // Every session event lands here; the writer coalesces them into one write per object.
    const writeStates = (): void => {
      const states = new Map<string, SessionStateStatus>();
      for (const s of sessions.status())
        states.set(s.name, sessionStateStatus(ctx.node, s, s.bfd ? bfd.state(s.address) : undefined));
      sessionStates.set(states);
    };
    const sessions = new BgpSessions({
      log: ctx.log,
      metrics: new BgpMetrics(ctx.registry),
      bfd: bfd.starter,
      onChange: writeStates,
      ...(listenPort !== undefined ? { listenPort: Number(listenPort) } : {}),
    });
    bfd.onChange = writeStates;
    // The plan follows each change incrementally (plan-state.ts): a Service change re-plans
    // that Service and hands the sessions only the routes it touched.
    const state = new BgpPlanState();
    const converge = (changed: ReadonlySet<string> | 'all'): void => {
      const config = ctx.config.current();
      const snapshot = ctx.cluster.current();
      if (!config || !snapshot) return;
      try {
        const changes = state.update(config, snapshot, ctx.node, changed);
        const self = snapshot.nodes.find((n) => n.name === ctx.node);
        const desired = new Map<string, DesiredSession>();
        for (const name of state.peers) {
          const peer = config.peers.get(name);
          if (!peer) continue;
          desired.set(name, {
            spec: sessionSpec(peer, self, ctx.node),
            routes: () => toRibRoutes(state.routesOf(name)),
            replaceRoutes: changes.full,
          });
        }
        sessions.apply(desired);
        if (changes.full) serviceStatuses.set(changes.announced);
        else {
          for (const [peer, routes] of changes.routes) sessions.change(peer, toRibChanges(routes));
          serviceStatuses.change(
            new Map([...changes.announced].map(([k, peers]) => [k, peers.length > 0 ? peers : undefined])),
          );
        }
        writeStates();
      } catch (err) {
        ctx.log.error('BGP mode could not converge', { error: err });
      }
    };
    const offConfig = ctx.config.onChange(() => converge('all'));
    const offCluster = ctx.cluster.onChange((_snapshot, changes) =>
      converge(changes === 'all' ? 'all' : changes.services),
    );
    converge('all');
    return Promise.resolve({
      async stop() {
        offConfig();
        offCluster();
        bfd.onChange = undefined;
        await sessions.stop(mode);
        await bfd.close();
        await Promise.all([sessionStates.clear(), serviceStatuses.clear()]);
      },
    });
  },
};
