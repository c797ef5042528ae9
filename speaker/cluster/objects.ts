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

/**
 * Service key → nodes with at least one endpoint that counts, as MetalLB counts it:
 * `serving` true, or `serving` unset and `ready` unset or true.
 */
export function servingNodes(slices: readonly EndpointSliceObject[]): Map<string, Set<string>> {
  const result = new Map<string, Set<string>>();
  for (const slice of slices) {
    const service = slice.metadata?.labels?.[serviceNameLabel];
    if (!service) continue;
    const key = `${slice.metadata?.namespace ?? ''}/${service}`;
    for (const ep of slice.endpoints ?? []) {
      if (ep.nodeName === undefined) continue;
      const c = ep.conditions ?? {};
      const counts = c.serving !== undefined ? c.serving : c.ready === undefined || c.ready;
      if (!counts) continue;
      let nodes = result.get(key);
      if (nodes === undefined) result.set(key, (nodes = new Set()));
      nodes.add(ep.nodeName);
    }
  }
  return result;
}
