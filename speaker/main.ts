#!/usr/bin/env node
// beacon-speaker: makes Service IPs reachable from this node (L2 ARP/NDP or BGP).

import { runComponent } from '../lib/component.js';
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
  async start({ flags, log, setReady }) {
    if (!flags['node-name']) throw new Error('--node-name is required (or METALLB_NODE_NAME)');
    const kc = loadKubeConfig(flags.kubeconfig);
    log.info('using API server', { server: kc.getCurrentCluster()?.server, node: flags['node-name'] });
    setReady(true);
  },
});
