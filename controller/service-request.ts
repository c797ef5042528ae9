// A Service (and its Namespace's labels) as the allocator sees it: which Services Beacon
// serves at all, and the ServiceRequest built from spec and MetalLB's annotations. Pure.
//
// Rules (MetalLB's internal/k8s/controllers/service_controller.go and controller/service.go): spec.loadBalancerIP and the
// loadBalancerIPs annotation are mutually exclusive; the annotation holds at most two
// addresses, of different families; the metallb.io/ spelling of an annotation wins over the
// older metallb.universe.tf/ one.

import type { IPAddress, IPFamily } from '../lib/ip/index.js';
import { tryParseIP } from '../lib/ip/index.js';
import type { Labels } from '../lib/kube/label-selector.js';
import type { IPFamilyPolicy, PortProtocol, ServicePort, ServiceRequest } from './allocator/types.js';
import type { ServiceObject } from '../lib/service/service-object.js';
import { annotations, serviceKey } from '../lib/service/service-object.js';

/** Why a Service's own spec or annotations cannot be served; shaped like an AllocationFailure. */
export interface ServiceRequestProblem {
  readonly reason: 'invalid-request';
  /** The offending field or annotation, e.g. `metadata.annotations[metallb.io/loadBalancerIPs]`. */
  readonly field: string;
  readonly value: string;
  /** One sentence naming the Service, the field and the value, and what would be valid. */
  readonly message: string;
}

export type ServiceRequestResult =
  | { readonly ok: true; readonly request: ServiceRequest }
  | { readonly ok: false; readonly problem: ServiceRequestProblem };

/** The first of the annotation's spellings that is set. */
export function annotation(svc: ServiceObject, names: readonly string[]): string | undefined {
  const all = svc.metadata?.annotations ?? {};
  for (const name of names) if (Object.hasOwn(all, name)) return all[name];
  return undefined;
}

export interface DeprecatedAnnotation {
  /** The older spelling found on the Service, e.g. metallb.universe.tf/address-pool. */
  readonly name: string;
  /** The spelling to use instead, e.g. metallb.io/address-pool. */
  readonly replacement: string;
  /** True when the replacement is set too, so the older value is not read at all. */
  readonly ignored: boolean;
}

/**
 * The metallb.universe.tf/ annotations the Service carries, each with its metallb.io/
 * replacement (MetalLB still reads them and warns with a deprecatedAnnotation Event).
 */
export function deprecatedAnnotations(svc: ServiceObject): DeprecatedAnnotation[] {
  const all = svc.metadata?.annotations ?? {};
  const found: DeprecatedAnnotation[] = [];
  for (const [replacement, name] of [
    annotations.loadBalancerIPs,
    annotations.addressPool,
    annotations.allowSharedIP,
  ])
    if (Object.hasOwn(all, name)) found.push({ name, replacement, ignored: Object.hasOwn(all, replacement) });
  return found;
}

/** The Warning Event's message for one deprecated annotation. */
export function deprecatedAnnotationMessage(d: DeprecatedAnnotation): string {
  return d.ignored
    ? `annotation ${d.name} is deprecated and ignored because ${d.replacement} is also set; remove it`
    : `annotation ${d.name} is deprecated; use ${d.replacement} instead`;
}

export function buildServiceRequest(svc: ServiceObject, namespaceLabels: Labels): ServiceRequestResult {
  const key = serviceKey(svc);
  const fail = (field: string, value: string, why: string): ServiceRequestResult => ({
    ok: false,
    problem: {
      reason: 'invalid-request',
      field,
      value,
      message: `service ${key}: ${field} ${JSON.stringify(value)} ${why}`,
    },
  });

  const requested = requestedIPs(svc);
  if (!requested.ok) return fail(requested.field, requested.value, requested.why);

  const families = serviceFamilies(svc);
  const policy = svc.spec?.ipFamilyPolicy;
  const familyPolicy: IPFamilyPolicy =
    policy === 'PreferDualStack' || policy === 'RequireDualStack' ? policy : 'SingleStack';

  const pool = annotation(svc, annotations.addressPool);
  const sharing = annotation(svc, annotations.allowSharedIP);
  const request: ServiceRequest = {
    key,
    namespace: svc.metadata?.namespace ?? '',
    labels: svc.metadata?.labels ?? {},
    namespaceLabels,
    families,
    familyPolicy,
    requestedIPs: requested.ips,
    ...(pool !== undefined && pool !== '' ? { requestedPool: pool } : {}),
    sharingKey: sharing ?? '',
    ports: servicePorts(svc),
    backendKey: backendKey(svc),
  };
  return { ok: true, request };
}

type Requested = { ok: true; ips: IPAddress[] } | { ok: false; field: string; value: string; why: string };

function requestedIPs(svc: ServiceObject): Requested {
  const specIP = svc.spec?.loadBalancerIP ?? '';
  const all = svc.metadata?.annotations ?? {};
  const annName = annotations.loadBalancerIPs.find((n) => Object.hasOwn(all, n));
  const annValue = annName === undefined ? '' : (all[annName] ?? '');
  const annField = `metadata.annotations[${annName ?? annotations.loadBalancerIPs[0]}]`;

  if (specIP !== '' && annValue !== '') {
    return {
      ok: false,
      field: annField,
      value: annValue,
      why: `cannot be combined with spec.loadBalancerIP "${specIP}"; set only one of them`,
    };
  }
  if (specIP !== '') {
    const ip = tryParseIP(specIP);
    if (ip === undefined)
      return { ok: false, field: 'spec.loadBalancerIP', value: specIP, why: 'is not an IP address' };
    return { ok: true, ips: [ip] };
  }
  if (annValue === '') return { ok: true, ips: [] };

  const parts = annValue.split(',').map((s) => s.trim());
  const ips: IPAddress[] = [];
  for (const part of parts) {
    const ip = tryParseIP(part);
    if (ip === undefined)
      return {
        ok: false,
        field: annField,
        value: annValue,
        why: `holds "${part}", which is not an IP address`,
      };
    ips.push(ip);
  }
  if (ips.length > 2)
    return {
      ok: false,
      field: annField,
      value: annValue,
      why: 'lists more than two addresses; give at most one IPv4 and one IPv6 address',
    };
  if (ips.length === 2 && ips[0]!.family === ips[1]!.family)
    return {
      ok: false,
      field: annField,
      value: annValue,
      why: 'lists two addresses of the same family; give at most one IPv4 and one IPv6 address',
    };
  return { ok: true, ips };
}

/** spec.ipFamilies, else the families of spec.clusterIPs, else IPv4. */
function serviceFamilies(svc: ServiceObject): IPFamily[] {
  const fromSpec = (svc.spec?.ipFamilies ?? []).flatMap((f): IPFamily[] =>
    f === 'IPv4' ? [4] : f === 'IPv6' ? [6] : [],
  );
  if (fromSpec.length > 0) return dedupe(fromSpec);
  const fromIPs = (svc.spec?.clusterIPs ?? []).flatMap((ip): IPFamily[] => {
    const parsed = tryParseIP(ip);
    return parsed === undefined ? [] : [parsed.family];
  });
  return fromIPs.length > 0 ? dedupe(fromIPs) : [4];
}

function dedupe(families: IPFamily[]): IPFamily[] {
  return [...new Set(families)].slice(0, 2);
}

function servicePorts(svc: ServiceObject): ServicePort[] {
  return (svc.spec?.ports ?? []).flatMap((p): ServicePort[] => {
    if (p.port === undefined) return [];
    const protocol: PortProtocol = p.protocol === 'UDP' || p.protocol === 'SCTP' ? p.protocol : 'TCP';
    return [{ protocol, port: p.port }];
  });
}

/**
 * '' for externalTrafficPolicy Cluster (any backend will do); for Local, the selector in a
 * canonical form (keys sorted), since Services sharing an IP must then reach the same pods.
 */
export function backendKey(svc: ServiceObject): string {
  if (svc.spec?.externalTrafficPolicy !== 'Local') return '';
  const selector = svc.spec.selector ?? {};
  return Object.keys(selector)
    .sort()
    .map((k) => `${k}=${selector[k]}`)
    .join(',');
}
