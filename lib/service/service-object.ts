// The parts of a core/v1 Service the controller reads and writes, as the API server sends
// them in JSON. Only these fields are typed; the rest of the object passes through untouched.

import type { KubeObject } from '../kube/transport.js';

export interface ServiceCondition {
  readonly type: string;
  readonly status: 'True' | 'False' | 'Unknown';
  readonly reason: string;
  readonly message: string;
  readonly lastTransitionTime: string;
  readonly observedGeneration?: number;
}

export interface LoadBalancerIngress {
  readonly ip?: string;
  readonly hostname?: string;
  readonly ipMode?: string;
}

export interface ServiceObject extends KubeObject {
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec?: {
    type?: string;
    loadBalancerIP?: string;
    loadBalancerClass?: string;
    ipFamilies?: string[];
    ipFamilyPolicy?: string;
    clusterIPs?: string[];
    externalTrafficPolicy?: string;
    selector?: Record<string, string>;
    ports?: { port?: number; protocol?: string; name?: string }[];
  };
  status?: {
    loadBalancer?: { ingress?: LoadBalancerIngress[] };
    conditions?: ServiceCondition[];
  };
}

export interface NamespaceObject extends KubeObject {
  metadata?: { name?: string; labels?: Record<string, string>; resourceVersion?: string };
}

/** The annotations Beacon reads (MetalLB's, both spellings) and the one it writes. */
export const annotations = {
  loadBalancerIPs: ['metallb.io/loadBalancerIPs', 'metallb.universe.tf/loadBalancerIPs'],
  addressPool: ['metallb.io/address-pool', 'metallb.universe.tf/address-pool'],
  allowSharedIP: ['metallb.io/allow-shared-ip', 'metallb.universe.tf/allow-shared-ip'],
  allocatedFromPool: 'metallb.io/ip-allocated-from-pool',
} as const;

export function serviceKey(svc: ServiceObject): string {
  return `${svc.metadata?.namespace ?? ''}/${svc.metadata?.name ?? ''}`;
}

/** The addresses in status.loadBalancer.ingress, as written (hostnames skipped). */
export function ingressIPs(svc: ServiceObject): string[] {
  return (svc.status?.loadBalancer?.ingress ?? []).flatMap((i) => (i.ip ? [i.ip] : []));
}

/**
 * Whether Beacon serves this Service: type LoadBalancer, and spec.loadBalancerClass equal to
 * --lb-class (both unset counts as equal).
 */
export function isServedByUs(svc: ServiceObject, lbClass: string | undefined): boolean {
  if (svc.spec?.type !== 'LoadBalancer') return false;
  const cls = svc.spec.loadBalancerClass;
  return lbClass === undefined || lbClass === '' ? cls === undefined || cls === '' : cls === lbClass;
}

/**
 * The fields of a Service the controller reads (the ServiceObject type), and nothing else: the
 * Service cache holds every Service of the cluster, and a Service as listed carries
 * managedFields, nodePorts, session affinity and more, several times what is read here.
 */
export function projectService(svc: ServiceObject): ServiceObject {
  const m = svc.metadata;
  const s = svc.spec;
  const st = svc.status;
  return {
    ...(svc.apiVersion !== undefined ? { apiVersion: svc.apiVersion } : {}),
    ...(svc.kind !== undefined ? { kind: svc.kind } : {}),
    metadata: m && {
      name: m.name,
      namespace: m.namespace,
      uid: m.uid,
      resourceVersion: m.resourceVersion,
      generation: m.generation,
      labels: m.labels,
      annotations: m.annotations,
    },
    spec: s && {
      type: s.type,
      loadBalancerIP: s.loadBalancerIP,
      loadBalancerClass: s.loadBalancerClass,
      ipFamilies: s.ipFamilies,
      ipFamilyPolicy: s.ipFamilyPolicy,
      clusterIPs: s.clusterIPs,
      externalTrafficPolicy: s.externalTrafficPolicy,
      selector: s.selector,
      ports: s.ports?.map((p) => ({ port: p.port, protocol: p.protocol, name: p.name })),
    },
    status: st && { loadBalancer: st.loadBalancer, conditions: st.conditions },
  };
}
