#!/usr/bin/env node
// beacon-speaker: makes Service IPs reachable from this node (L2 ARP/NDP or BGP).

import { runComponent } from '../lib/component.js';
import { ConfigMetrics } from '../lib/config/reporter.js';
import { ConfigSource } from '../lib/config/source.js';
import { HttpsTransport } from '../lib/kube/transport.js';
import { commonFlags } from '../lib/component-flags.js';
import type { FlagSpec } from '../lib/flags.js';
import { loadKubeConfig } from '../lib/kube-config.js';

const speakerFlags: readonly FlagSpec[] = [
  ...commonFlags,
  { name: 'node-name', env: 'METALLB_NODE_NAME', help: 'Name of the Node this speaker runs on (required).' },
];

await runComponent({
  program: 'beacon-speaker',
  summary: 'Announces Service IPs from this node: ARP/NDP in layer 2 mode, BGP to routers in BGP mode.',
  flags: speakerFlags,
  async start({ flags, log, registry, shutdown, setReady }) {
    const node = flags['node-name'];
    if (!node) throw new Error('--node-name is required (or METALLB_NODE_NAME)');
    const kc = loadKubeConfig(flags.kubeconfig);
    log.info('using API server', { server: kc.getCurrentCluster()?.server, node });
    // The same validated configuration the controller uses; the speaker also reads the Secrets
    // that hold BGP passwords. Problems are reported by the controller, counted here too.
    const metrics = new ConfigMetrics(registry);
    const config = new ConfigSource({
      transport: new HttpsTransport(kc),
      namespace: flags.namespace ?? 'metallb-system',
      log: log.with({ node }),
      secrets: true,
    });
    config.onChange((c) => metrics.update(c));
    shutdown.add('configuration watch', () => config.stop());
    config.start();
    await config.synced;
    setReady(true);
  },
});
