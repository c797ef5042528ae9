#!/usr/bin/env node
// beacon-controller: allocates IPs from IPAddressPools to LoadBalancer Services.

import { runComponent } from '../lib/component.js';
import { commonFlags } from '../lib/component-flags.js';
import { loadKubeConfig } from '../lib/kube-config.js';

await runComponent({
  program: 'beacon-controller',
  summary: 'Allocates external IPs from metallb.io IPAddressPools to Services of type LoadBalancer.',
  flags: commonFlags,
  async start({ flags, log, setReady }) {
    const kc = loadKubeConfig(flags.kubeconfig);
    log.info('using API server', { server: kc.getCurrentCluster()?.server });
    setReady(true);
  },
});
