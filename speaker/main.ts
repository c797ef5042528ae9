#!/usr/bin/env node
// beacon-speaker: makes Service IPs reachable from this node (L2 ARP/NDP or BGP).
//
// One configuration (the controller's, plus the Secrets with BGP passwords) and one view of
// the cluster (Services, Nodes, EndpointSlices) feed both protocols; each converges on every
// change. On SIGTERM the protocols hand over (L2) or withdraw (BGP) before the watches stop.

import { runComponent } from '../lib/component.js';
import { commonFlags } from '../lib/component-flags.js';
import { ConfigMetrics } from '../lib/config/reporter.js';
import { ConfigSource } from '../lib/config/source.js';
import type { FlagSpec } from '../lib/flags.js';
import { loadKubeConfig } from '../lib/kube/kubeconfig.js';
import { KubeClient } from '../lib/kube/client.js';
import { EventRecorder, eventSink } from '../lib/kube/events.js';
import { layer2 } from './layer2/mode.js';
import { bgp } from './bgp/mode.js';
import { ClusterView } from './cluster/view.js';
import type { Protocol, RunningProtocol } from './mode.js';
import { speakerPodOwner } from './status/status-objects.js';
import { registerStallMetrics, watchMainThread } from './thread-stalls.js';

const protocols: readonly Protocol[] = [layer2, bgp];

const speakerFlags: readonly FlagSpec[] = [
  ...commonFlags,
  { name: 'node-name', env: 'METALLB_NODE_NAME', help: 'Name of the Node this speaker runs on (required).' },
  ...protocols.flatMap((p) => p.flags),
];

// `beacon-speaker control-plane ...`: the API server VIP mode (control-plane/main.ts), which
// must not need the Kubernetes API; everything else below is the Service speaker.
if (process.argv[2] === 'control-plane') {
  const { runControlPlane } = await import('./control-plane/main.js');
  await runControlPlane(process.argv.slice(3));
} else {
  await runSpeaker();
}

async function runSpeaker(): Promise<void> {
  await runComponent({
    program: 'beacon-speaker',
    summary: 'Announces Service IPs from this node: ARP/NDP in layer 2 mode, BGP to routers in BGP mode.',
    flags: speakerFlags,
    async start({ flags, log: rootLog, registry, shutdown, setReady }) {
      const node = flags['node-name'];
      if (!node) throw new Error('--node-name is required (or METALLB_NODE_NAME)');
      const log = rootLog.with({ node });
      // Why threads were late, by cause: the workers report theirs, the main thread is watched.
      registerStallMetrics(registry);
      const mainStalls = watchMainThread((s) => log.warn('speaker main thread stalled', { ...s }));
      shutdown.add('thread stall watch', () => mainStalls.close());
      const namespace = flags.namespace ?? 'metallb-system';
      const lbClass = flags['lb-class'] || undefined;
      const kubeConfig = loadKubeConfig(flags.kubeconfig);
      log.info('using API server', { server: kubeConfig.getCurrentCluster()?.server, lbClass });
      const kube = new KubeClient(kubeConfig);
      const events = new EventRecorder({
        sink: eventSink(kube),
        component: 'beacon-speaker',
        now: Date.now,
        log,
      });

      // The same validated configuration the controller uses; the speaker also reads the Secrets
      // that hold BGP passwords. Problems are reported by the controller, counted here too.
      const metrics = new ConfigMetrics(registry);
      const config = new ConfigSource({ transport: kube, namespace, log, secrets: true });
      config.onChange((c) => metrics.update(c));
      const cluster = new ClusterView({
        transport: kube,
        log,
        ...(lbClass !== undefined ? { lbClass } : {}),
      });
      // Hooks run in reverse: the protocols stop (hand over, withdraw) while the watches still run.
      shutdown.add('watches', () => {
        config.stop();
        cluster.stop();
      });
      config.start();
      cluster.start();
      await Promise.all([config.synced, cluster.synced]);

      const owner = speakerPodOwner(process.env);
      const ctx = {
        ...(owner !== undefined ? { owner } : {}),
        node,
        namespace,
        flags,
        log,
        registry,
        kube,
        events,
        config,
        cluster,
      };
      const running: RunningProtocol[] = [];
      // Both protocols stop at once: a slow BGP withdrawal must not delay the L2 handover.
      shutdown.add('protocols', async () => {
        await Promise.all(running.map((r) => r.stop()));
      });
      for (const protocol of protocols)
        running.push(await protocol.start({ ...ctx, log: log.with({ protocol: protocol.name }) }));
      setReady(true);
    },
  });
}
