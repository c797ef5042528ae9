// The Kubernetes objects the demo writes itself because no kubelet or kube-controller-manager
// runs here: the Node objects (a kubelet would register them) and the Service's EndpointSlice
// (the EndpointSlice controller would write it from the Pods).

import { hostSeedV4, hostV4, nodeHosts, type NodeHost } from '../e2e/lab.js';

interface NodeAddress {
  type: 'InternalIP' | 'Hostname';
  address: string;
}

/** What a kubelet reports for a lab node: both of its IPv4 addresses and its hostname. */
export function nodeAddresses(node: NodeHost): NodeAddress[] {
  return [
    { type: 'InternalIP', address: hostV4(node) },
    { type: 'InternalIP', address: hostSeedV4(node) },
    { type: 'Hostname', address: node },
  ];
}

export function nodeLabels(node: NodeHost): Record<string, string> {
  return { 'kubernetes.io/hostname': node, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64' };
}

/** The Node object (metadata and spec); the status goes through the status subresource. */
export function nodeObject(node: NodeHost): object {
  return { apiVersion: 'v1', kind: 'Node', metadata: { name: node, labels: nodeLabels(node) }, spec: {} };
}

/** A status patch for the `status` subresource: the addresses and a Ready condition. */
export function nodeStatusPatch(node: NodeHost, now: Date): object {
  const time = now.toISOString().replace(/\.\d+Z$/, 'Z');
  return {
    status: {
      addresses: nodeAddresses(node),
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'KubeletReady',
          message: 'no kubelet runs in the Beacon demo: set Ready by the demo',
          lastHeartbeatTime: time,
          lastTransitionTime: time,
        },
      ],
    },
  };
}

/**
 * One EndpointSlice for a Service with a ready backend on every node. The backends are the
 * nodes' own addresses: the kube-proxy stand-in serves the Service on each node itself.
 */
export function endpointSliceObject(opts: {
  service: string;
  namespace: string;
  port: { name: string; port: number; protocol: 'TCP' | 'UDP' };
  nodes?: readonly NodeHost[];
}): object {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: `${opts.service}-demo`,
      namespace: opts.namespace,
      labels: {
        'kubernetes.io/service-name': opts.service,
        'endpointslice.kubernetes.io/managed-by': 'beacon-demo',
      },
    },
    addressType: 'IPv4',
    endpoints: (opts.nodes ?? nodeHosts).map((node) => ({
      addresses: [hostV4(node)],
      conditions: { ready: true, serving: true, terminating: false },
      nodeName: node,
    })),
    ports: [opts.port],
  };
}
