// The Kubernetes objects the speaker reads, and their mapping to the planners' input (pure).
// Services become L2Service (the type both planners take), Nodes become SpeakerNode (an
// L2Node plus the addresses membership and BGP need), EndpointSlices become the set of nodes
// with an endpoint that counts, per Service.

import {
  ingressIPs,
  isServedByUs,
  serviceKey,
  type ServiceObject,
} from '../../lib/service/service-object.js';
import type { KubeObject } from '../../lib/kube/transport.js';
import { tryParseIP, type IPAddress } from '../../lib/ip/index.js';
import { poolAnnotation, type L2Node, type L2Service } from '../layer2/plan/types.js';

export interface NodeObject extends KubeObject {
  metadata?: { name?: string; labels?: Record<string, string>; resourceVersion?: string; uid?: string };
  status?: {
    conditions?: { type?: string; status?: string }[];
    addresses?: { type?: string; address?: string }[];
  };
}

export interface EndpointSliceObject extends KubeObject {
  metadata?: {
    name?: string;
    namespace?: string;
    labels?: Record<string, string>;
    resourceVersion?: string;
  };
  endpoints?: {
    nodeName?: string;
    conditions?: { ready?: boolean; serving?: boolean; terminating?: boolean };
  }[];
}

/** A Node as the speaker sees it: the planners' view plus its InternalIPs. */
export interface SpeakerNode extends L2Node {
  readonly uid?: string;
  /** status.addresses of type InternalIP, parsed; IPv4 first. */
  readonly internalIPs: readonly IPAddress[];
}

/** The Service a LoadBalancer implementation of our class should announce, or undefined. */
export function toL2Service(svc: ServiceObject, lbClass: string | undefined): L2Service | undefined {
  if (!isServedByUs(svc, lbClass)) return undefined;
  const ips: IPAddress[] = [];
  for (const text of ingressIPs(svc)) {
    const ip = tryParseIP(text);
    if (ip !== undefined) ips.push(ip);
  }
  const pool = svc.metadata?.annotations?.[poolAnnotation];
  return {
    key: serviceKey(svc),
    ips,
    ...(pool !== undefined && pool !== '' ? { pool } : {}),
    labels: svc.metadata?.labels ?? {},
    externalTrafficPolicy: svc.spec?.externalTrafficPolicy === 'Local' ? 'Local' : 'Cluster',
  };
}

export function toSpeakerNode(node: NodeObject): SpeakerNode {
  const internalIPs: IPAddress[] = [];
  for (const a of node.status?.addresses ?? []) {
    if (a.type !== 'InternalIP' || a.address === undefined) continue;
    const ip = tryParseIP(a.address);
    if (ip !== undefined) internalIPs.push(ip);
  }
  internalIPs.sort((a, b) => (a.family === b.family ? 0 : a.family === 4 ? -1 : 1));
  return {
    name: node.metadata?.name ?? '',
    ...(node.metadata?.uid ? { uid: node.metadata.uid } : {}),
    labels: node.metadata?.labels ?? {},
    networkUnavailable: (node.status?.conditions ?? []).some(
      (c) => c.type === 'NetworkUnavailable' && c.status === 'True',
    ),
    internalIPs,
  };
}

/** The label EndpointSlices carry with the name of their Service. */
export const serviceNameLabel = 'kubernetes.io/service-name';

/** An endpoint counts as MetalLB counts it: `serving` true, or `serving` unset and `ready`
 * unset or true. */
function counts(ep: NonNullable<EndpointSliceObject['endpoints']>[number]): boolean {
  const c = ep.conditions ?? {};
  return c.serving !== undefined ? c.serving : c.ready === undefined || c.ready;
}

/** The nodes one EndpointSlice has an endpoint that counts on, without duplicates. */
export function sliceServingNodes(slice: EndpointSliceObject): string[] {
  const nodes = new Set<string>();
  for (const ep of slice.endpoints ?? []) if (ep.nodeName !== undefined && counts(ep)) nodes.add(ep.nodeName);
  return [...nodes];
}

/**
 * Service key → nodes with at least one endpoint that counts (see `counts`), over every slice.
 */
export function servingNodes(slices: readonly EndpointSliceObject[]): Map<string, Set<string>> {
  const result = new Map<string, Set<string>>();
  for (const slice of slices) {
    const service = slice.metadata?.labels?.[serviceNameLabel];
    if (!service) continue;
    const key = `${slice.metadata?.namespace ?? ''}/${service}`;
    for (const node of sliceServingNodes(slice)) {
      let nodes = result.get(key);
      if (nodes === undefined) result.set(key, (nodes = new Set()));
      nodes.add(node);
    }
  }
  return result;
}

// What the speaker keeps of each watched object (the Reflector's `project`): the fields read
// above, by toL2Service, isServedByUs and ingressIPs, and what an Event or an owner reference
// names (uid, resourceVersion). At 10,000 Services the rest (managedFields, ports, selectors,
// cluster IPs, endpoint addresses) was most of the speaker's heap.

const keptMetadata = (
  m: { name?: string; namespace?: string; resourceVersion?: string; uid?: string } | undefined,
) => ({
  ...(m?.name !== undefined ? { name: m.name } : {}),
  ...(m?.namespace !== undefined ? { namespace: m.namespace } : {}),
  ...(m?.resourceVersion !== undefined ? { resourceVersion: m.resourceVersion } : {}),
  ...(m?.uid !== undefined ? { uid: m.uid } : {}),
});

export function projectService(svc: ServiceObject): ServiceObject {
  const m = svc.metadata;
  const pool = m?.annotations?.[poolAnnotation];
  const spec = svc.spec;
  return {
    ...(svc.apiVersion !== undefined ? { apiVersion: svc.apiVersion } : {}),
    ...(svc.kind !== undefined ? { kind: svc.kind } : {}),
    metadata: {
      ...keptMetadata(m),
      ...(m?.labels !== undefined ? { labels: m.labels } : {}),
      ...(pool !== undefined ? { annotations: { [poolAnnotation]: pool } } : {}),
    },
    spec: {
      ...(spec?.type !== undefined ? { type: spec.type } : {}),
      ...(spec?.loadBalancerClass !== undefined ? { loadBalancerClass: spec.loadBalancerClass } : {}),
      ...(spec?.externalTrafficPolicy !== undefined
        ? { externalTrafficPolicy: spec.externalTrafficPolicy }
        : {}),
    },
    status: {
      loadBalancer: {
        ingress: (svc.status?.loadBalancer?.ingress ?? []).flatMap((i) => (i.ip ? [{ ip: i.ip }] : [])),
      },
    },
  };
}

export function projectNode(node: NodeObject): NodeObject {
  return {
    metadata: {
      ...keptMetadata(node.metadata),
      ...(node.metadata?.labels !== undefined ? { labels: node.metadata.labels } : {}),
    },
    status: {
      conditions: (node.status?.conditions ?? [])
        .filter((c) => c.type === 'NetworkUnavailable')
        .map((c) => ({ type: c.type, status: c.status })),
      addresses: (node.status?.addresses ?? []).map((a) => ({ type: a.type, address: a.address })),
    },
  };
}

export function projectEndpointSlice(slice: EndpointSliceObject): EndpointSliceObject {
  const service = slice.metadata?.labels?.[serviceNameLabel];
  return {
    metadata: {
      ...keptMetadata(slice.metadata),
      ...(service !== undefined ? { labels: { [serviceNameLabel]: service } } : {}),
    },
    endpoints: (slice.endpoints ?? []).map((ep) => ({
      ...(ep.nodeName !== undefined ? { nodeName: ep.nodeName } : {}),
      ...(ep.conditions !== undefined ? { conditions: ep.conditions } : {}),
    })),
  };
}
