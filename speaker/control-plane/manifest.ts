// `beacon-speaker control-plane manifest`: the static Pod for /etc/kubernetes/manifests/, which
// the kubelet starts before any API server exists (like `kube-vip manifest pod`). Pure: flag
// values in, YAML out.
//
// The Pod runs in the host network (it answers ARP/NDP on the node's interface and puts the
// VIPs on the node's `lo`), as root with every capability dropped but NET_RAW (packet sockets),
// NET_ADMIN (the `lo` addresses) and SYS_NICE (the membership thread raises its own priority,
// lib/thread-priority.ts). The membership key comes from a file on the host, the
// same on every control-plane node, so no Secret (and no API) is needed.

import yaml from 'js-yaml';
import type { FlagSpec } from '../../lib/flags.js';
import { ControlPlaneConfigError, resolveConfig } from './config.js';

export const defaultKeyPath = '/etc/kubernetes/beacon/membership.key';
export const defaultImage = 'localhost/beacon:latest';
const keyInPod = '/etc/beacon/membership.key';

export const manifestFlags: readonly FlagSpec[] = [
  { name: 'vip', help: 'Comma-separated VIPs (required).' },
  { name: 'port', default: '6443', help: 'API server port.' },
  { name: 'interface', help: 'Interface that answers for the VIPs (default: by subnet).' },
  { name: 'peers', help: 'The other control-plane nodes: name=address, comma-separated.' },
  { name: 'key-file', default: defaultKeyPath, help: 'Path of the membership key on the host.' },
  { name: 'image', default: defaultImage, help: 'The Beacon image.' },
  { name: 'mode', default: 'l2', help: '"l2" or "bgp".' },
  { name: 'bgp-asn', help: 'bgp mode: this node’s AS number.' },
  { name: 'bgp-routers', help: 'bgp mode: address:asn[:port] of each router, comma-separated.' },
  { name: 'bgp-bfd', help: 'bgp mode: BFD interval and multiplier, like 100msx3.' },
  { name: 'namespace', default: 'kube-system', help: 'Namespace of the mirror Pod.' },
  { name: 'metrics-port', default: '7473', kind: 'port', help: 'Port of /metrics, /healthz, /readyz.' },
];

/** The static Pod manifest as YAML. Throws ControlPlaneConfigError naming a bad flag value. */
export function renderManifest(flags: Readonly<Record<string, string | undefined>>): string {
  if ((flags.vip ?? '') === '') throw new ControlPlaneConfigError('--vip is required');
  // The same validation the daemon applies, so a manifest never carries a value it refuses.
  const { config, problems } = resolveConfig(
    {
      vip: flags.vip,
      port: flags.port,
      peers: flags.peers,
      mode: flags.mode,
      'key-file': keyInPod,
      'bgp-asn': flags['bgp-asn'],
      'bgp-routers': flags['bgp-routers'],
      'bgp-bfd': flags['bgp-bfd'],
    },
    {},
    // Not a valid node name (RFC 1123 labels do not start with '-'): no peer is mistaken for it.
    '-',
  );
  const bad = problems.find((p) => p.flag === 'vip');
  if (bad !== undefined)
    throw new ControlPlaneConfigError(`--vip ${JSON.stringify(bad.value)}: ${bad.message}`);
  const metricsPort = flags['metrics-port'] ?? '7473';
  const args = [
    `--vip=${config.vips.join(',')}`,
    `--port=${config.port}`,
    `--mode=${config.mode}`,
    `--key-file=${keyInPod}`,
    `--metrics-port=${metricsPort}`,
    ...(config.peers.length > 0
      ? [`--peers=${config.peers.map((p) => `${p.name}=${p.address}`).join(',')}`]
      : []),
    ...(flags.interface !== undefined && flags.interface !== '' ? [`--interface=${flags.interface}`] : []),
    ...(['bgp-asn', 'bgp-routers', 'bgp-bfd'] as const).flatMap((f) =>
      config.bgp !== undefined && flags[f] !== undefined ? [`--${f}=${flags[f]}`] : [],
    ),
  ];
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'beacon-control-plane-vip',
      namespace: flags.namespace ?? 'kube-system',
      labels: { 'app.kubernetes.io/name': 'beacon', 'app.kubernetes.io/component': 'control-plane-vip' },
    },
    spec: {
      hostNetwork: true,
      priorityClassName: 'system-node-critical',
      containers: [
        {
          name: 'vip',
          image: flags.image ?? defaultImage,
          imagePullPolicy: 'IfNotPresent',
          command: ['node', 'dist/speaker/main.js', 'control-plane'],
          args,
          env: [{ name: 'BEACON_NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }],
          securityContext: {
            runAsUser: 0,
            runAsGroup: 0,
            runAsNonRoot: false,
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            capabilities: { drop: ['ALL'], add: ['NET_RAW', 'NET_ADMIN', 'SYS_NICE'] },
          },
          livenessProbe: {
            httpGet: { host: '127.0.0.1', port: Number(metricsPort), path: '/healthz' },
            periodSeconds: 10,
            failureThreshold: 3,
          },
          resources: { requests: { cpu: '20m', memory: '48Mi' }, limits: { memory: '256Mi' } },
          volumeMounts: [{ name: 'membership-key', mountPath: keyInPod, readOnly: true }],
        },
      ],
      volumes: [
        {
          name: 'membership-key',
          hostPath: { path: flags['key-file'] ?? defaultKeyPath, type: 'File' },
        },
      ],
    },
  };
  return yaml.dump(pod, { lineWidth: 120, noRefs: true });
}
