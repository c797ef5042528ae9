// What the speaker gives each announcement protocol, and what it gets back (like MetalLB's
// speaker drives layer 2 and BGP through one small interface). Both protocols run side by side,
// as in MetalLB: an IP is announced in L2 when an L2Advertisement covers it, over BGP when a
// BGPAdvertisement does, or both. Each protocol subscribes to the configuration and the
// cluster view and converges on every change; main.ts only starts and stops them.

import type { Registry } from 'prom-client';
import type { ConfigSource } from '../lib/config/source.js';
import type { FlagSpec } from '../lib/flags.js';
import type { EventRecorder } from '../lib/kube/events.js';
import type { KubeClient } from '../lib/kube/client.js';
import type { Logger } from '../lib/log.js';
import type { ClusterView } from './cluster/view.js';
import type { OwnerReference } from './status/status-objects.js';

export interface ProtocolContext {
  /** This speaker's Node name (--node-name). */
  readonly node: string;
  /** The namespace Beacon runs in (--namespace): its Secrets, Leases and status objects. */
  readonly namespace: string;
  readonly flags: Readonly<Record<string, string | undefined>>;
  readonly log: Logger;
  readonly registry: Registry;
  /** The API client: reads (list, watch) and writes. */
  readonly kube: KubeClient;
  readonly events: EventRecorder;
  /** Synced before start: `config.current()` and `cluster.current()` are defined. */
  readonly config: ConfigSource;
  readonly cluster: ClusterView;
  /** The speaker's Pod (POD_NAME, POD_UID), owner of its status objects; none outside a Pod. */
  readonly owner?: OwnerReference;
}

export interface RunningProtocol {
  /**
   * SIGTERM: hand over or withdraw what this node announces, then release every socket and
   * timer. Resolves when the protocol has done what it can; never rejects.
   */
  stop(): Promise<void>;
}

export interface Protocol {
  readonly name: 'layer2' | 'bgp';
  /** The protocol's own command-line flags (added to beacon-speaker's). */
  readonly flags: readonly FlagSpec[];
  start(ctx: ProtocolContext): Promise<RunningProtocol>;
}
