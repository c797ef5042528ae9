// ServiceL2Status objects (crds/metallb.io_servicel2statuses.yaml): one per Service this node
// announces, generateName `l2-`, status.interfaces the interfaces its L2Advertisements allow
// (the shared per-Service writer does the rest: speaker/status/service-status-writer.ts).
//
// Resynced every minute, not five (speaker/status/status-writer.ts): a node that took this one
// for gone during a membership flap deletes this node's object when it takes the Service over
// (below), and this node, owner again, has nothing new to write, so only a resync brings the
// object back. An L2 node holds its share of the Services' objects, so the list is small.
//
// A SIGKILLed speaker cannot delete its objects. In a cluster its Pod's ownerReference (set
// from POD_NAME/POD_UID, ProtocolContext.owner) lets the garbage collector do it; outside one the
// node that takes a Service over deletes the Service's objects of nodes membership says are
// gone.

import {
  ServiceStatusWriter,
  type ServiceStatus,
  type StatusWriterOptions,
} from '../status/service-status-writer.js';
import { nodeLabel, serviceNameLabel, serviceNamespaceLabel, splitKey } from '../status/status-objects.js';
import type { AnnouncedService } from './ownership/announced.js';

interface L2Status extends ServiceStatus {
  interfaces?: { name?: string }[];
}

export interface L2StatusWriterOptions extends Omit<StatusWriterOptions, 'minIntervalMs'> {
  /** Whether `node` is dead or gone for membership (its leftovers may be deleted). */
  isGone: (node: string) => boolean;
}

export class L2StatusWriter extends ServiceStatusWriter<AnnouncedService, L2Status> {
  constructor(opts: L2StatusWriterOptions) {
    // Every change is written at once (an owner change is what users look for).
    super(
      { resyncMs: 60_000, ...opts, minIntervalMs: 0 },
      {
        kind: 'ServiceL2Status',
        plural: 'servicel2statuses',
        generateName: 'l2-',
        status: (svc) => ({ interfaces: svc.interfaces.map((name) => ({ name })) }),
        fingerprint: (svc) => svc.interfaces.join(','),
        writtenFingerprint: (status) =>
          (status?.interfaces ?? [])
            .map((i) => i.name ?? '')
            .sort()
            .join(','),
        afterCreate: async (key, objects) => {
          const [ns, name] = splitKey(key);
          for (const obj of await objects.list(
            `${serviceNameLabel}=${name},${serviceNamespaceLabel}=${ns}`,
          )) {
            const node = obj.metadata?.labels?.[nodeLabel];
            const objName = obj.metadata?.name;
            if (node === undefined || node === opts.node || objName === undefined) continue;
            if (!opts.isGone(node)) continue;
            opts.log.info('deleting the ServiceL2Status of a gone speaker', {
              service: key,
              node,
              name: objName,
            });
            await objects.delete(objName);
          }
        },
      },
    );
  }
}
