// ServiceBGPStatus objects (crds/metallb.io_servicebgpstatuses.yaml): one per Service this
// node announces over BGP, generateName `bgp-`, status.peers the BGPPeers its IPs go to (the
// planner's `announced`); the shared per-Service writer does the rest
// (speaker/status/service-status-writer.ts).

import {
  ServiceStatusWriter,
  type ServiceStatus,
  type StatusWriterOptions,
} from '../../status/service-status-writer.js';

interface ServiceBGPStatusStatus extends ServiceStatus {
  peers?: string[];
}

export class ServiceBgpStatusWriter extends ServiceStatusWriter<readonly string[], ServiceBGPStatusStatus> {
  constructor(opts: StatusWriterOptions) {
    super(opts, {
      kind: 'ServiceBGPStatus',
      plural: 'servicebgpstatuses',
      generateName: 'bgp-',
      status: (peers) => ({ peers: [...peers] }),
      fingerprint: (peers) => peers.join(','),
      writtenFingerprint: (status) => (status?.peers ?? []).join(','),
    });
  }
}
