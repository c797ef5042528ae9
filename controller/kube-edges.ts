// The controller's writers, over ApiRequester: Service status and annotation patches and the
// leader-election Lease. Thin: each turns one call into one request.

import type { LeaseClient, LeaseRecord } from '../lib/kube/leader-election.js';
import type { ApiRequester } from '../lib/kube/api-request.js';
import type { ServiceWriter, WrittenService } from './service-reconciler.js';

const seg = encodeURIComponent;

function written(obj: unknown): WrittenService {
  const metadata = (obj as { metadata?: { resourceVersion?: unknown; annotations?: unknown } } | undefined)
    ?.metadata;
  const rv = metadata?.resourceVersion;
  const annotations = metadata?.annotations;
  return {
    ...(typeof rv === 'string' ? { resourceVersion: rv } : {}),
    annotations:
      typeof annotations === 'object' && annotations !== null ? (annotations as Record<string, string>) : {},
  };
}

export function serviceWriter(api: ApiRequester): ServiceWriter {
  return {
    patchStatus: async (ns, name, body) =>
      written(
        await api.patch(`/api/v1/namespaces/${seg(ns)}/services/${seg(name)}/status`, 'strategic', body),
      ),
    patchMetadata: async (ns, name, body) =>
      written(await api.patch(`/api/v1/namespaces/${seg(ns)}/services/${seg(name)}`, 'merge', body)),
  };
}

interface LeaseObject {
  metadata?: { resourceVersion?: string };
  spec?: Partial<LeaseRecord>;
}

export function leaseClient(api: ApiRequester, namespace: string, name: string): LeaseClient {
  const base = `/apis/coordination.k8s.io/v1/namespaces/${seg(namespace)}/leases`;
  const body = (record: LeaseRecord, resourceVersion?: string) => ({
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name, namespace, ...(resourceVersion !== undefined ? { resourceVersion } : {}) },
    spec: record,
  });
  return {
    async get() {
      let lease: LeaseObject;
      try {
        lease = (await api.request('GET', `${base}/${seg(name)}`)) as LeaseObject;
      } catch (err) {
        if ((err as { status?: number }).status === 404) return undefined;
        throw err;
      }
      const spec = lease.spec ?? {};
      return {
        resourceVersion: lease.metadata?.resourceVersion ?? '',
        record: {
          holderIdentity: spec.holderIdentity ?? '',
          leaseDurationSeconds: spec.leaseDurationSeconds ?? 0,
          ...(spec.acquireTime !== undefined ? { acquireTime: spec.acquireTime } : {}),
          ...(spec.renewTime !== undefined ? { renewTime: spec.renewTime } : {}),
          leaseTransitions: spec.leaseTransitions ?? 0,
        },
      };
    },
    async create(record) {
      await api.request('POST', base, body(record));
    },
    async update(record, resourceVersion) {
      await api.request('PUT', `${base}/${seg(name)}`, body(record, resourceVersion));
    },
  };
}
