// The flags both binaries share. Names follow MetalLB where it has one.

import type { FlagSpec } from './flags.js';
import { logLevels } from './log.js';

export const commonFlags: readonly FlagSpec[] = [
  {
    name: 'kubeconfig',
    env: 'KUBECONFIG',
    help: 'Path to a kubeconfig file; in a Pod the service account is used.',
  },
  {
    name: 'namespace',
    env: 'METALLB_NAMESPACE',
    default: 'metallb-system',
    help: 'Namespace holding the metallb.io configuration objects.',
  },
  {
    name: 'metrics-host',
    env: 'METALLB_HOST',
    default: '0.0.0.0',
    help: 'Address the metrics server binds.',
  },
  {
    name: 'metrics-port',
    env: 'METALLB_METRICS_PORT',
    default: '7472',
    kind: 'port',
    help: 'Port of /metrics, /healthz and /readyz.',
  },
  {
    name: 'log-level',
    env: 'METALLB_LOG_LEVEL',
    default: 'info',
    choices: logLevels,
    help: 'Least severe level logged.',
  },
  {
    name: 'lb-class',
    env: 'METALLB_LB_CLASS',
    help: 'Serve only Services with this spec.loadBalancerClass; unset serves Services with no class.',
  },
];
