// The layer 2 mode's decisions, without I/O (announcements.ts applies them): the node's local
// health, what changes when the set of IPs this node may answer changes, what changes in the
// announced Services, when a duplicate responder is reported, and the text of the Events.

import { formatIP } from '../../lib/ip/index.js';
import type { EventTarget } from '../../lib/kube/events.js';
import type { ServiceObject } from '../../lib/service/service-object.js';
import type { ClusterSnapshot } from '../cluster/view.js';
import type { LocalHealth, Peer } from './membership/types.js';
import type { AnnouncedService } from './ownership/announced.js';
import { eligibleInterfaces, type InterfaceSnapshot } from './responder/interfaces.js';
import type { OwnedIp } from './responder/responder.js';

/** A conflict on one IP is reported at most this often (a duplicate answers every request). */
export const conflictReportMs = 30_000;

/** Membership peers: every Node's first InternalIP (IPv4 first, as objects.ts sorts them). */
export function peersOf(cluster: ClusterSnapshot): Peer[] {
  const peers: Peer[] = [];
  for (const n of cluster.nodes) {
    const ip = n.internalIPs[0];
    if (ip !== undefined) peers.push({ name: n.name, address: formatIP(ip) });
  }
  return peers;
}

/** What this node knows of its packet sockets. */
export interface SocketState {
  /** The last probe opened a packet socket (CAP_NET_RAW). */
  readonly rawSocketOk: boolean;
  /** The responder reported a socket it could not open since that probe. */
  readonly responderFailed: boolean;
}

/**
 * The health peers learn through membership: linkUp = an eligible interface has carrier;
 * responderOk = a packet socket can be opened and the responder reports no socket failure.
 */
export function localHealth(
  interfaces: InterfaceSnapshot,
  exclude: readonly RegExp[],
  sockets: SocketState,
): LocalHealth {
  const up = new Set(eligibleInterfaces(interfaces, { exclude }).map((i) => i.index));
  const linkUp = interfaces.links.some((l) => up.has(l.index) && l.running);
  return { linkUp, responderOk: sockets.rawSocketOk && !sockets.responderFailed };
}

/** The responder's log line that means it could not open a packet socket (health goes down). */
export const socketFailureMessage = 'opening packet socket failed';

/** The IPs that became answerable here and those that stopped being, in `after`'s order. */
export function ownedChange(
  before: readonly OwnedIp[],
  after: readonly OwnedIp[],
): { gained: string[]; lost: string[] } {
  const was = new Set(before.map((o) => o.ip));
  const is = new Set(after.map((o) => o.ip));
  return {
    gained: after.filter((o) => !was.has(o.ip)).map((o) => o.ip),
    lost: [...was].filter((ip) => !is.has(ip)),
  };
}

/**
 * When the previous owner of a gained IP was lost (the start of its failover), if another node
 * owned it and membership saw it go.
 */
export function failoverStart(
  previousOwner: string | undefined,
  self: string,
  lostAt: (node: string) => number | undefined,
): number | undefined {
  return previousOwner !== undefined && previousOwner !== self ? lostAt(previousOwner) : undefined;
}

/** One `metallb_speaker_announced` series of this node. */
export interface AnnouncedSeries {
  readonly service: string;
  readonly ip: string;
}

export interface ServiceChanges {
  /** Something ServiceL2Status shows changed: write the whole set. */
  readonly changed: boolean;
  /** Services this node begins announcing (a `nodeAssigned` Event each). */
  readonly assigned: readonly string[];
  /** Series to remove, then series to set to 1. */
  readonly remove: readonly AnnouncedSeries[];
  readonly set: readonly AnnouncedSeries[];
}

/** From the Services announced before to those announced now. */
export function serviceChanges(
  before: ReadonlyMap<string, AnnouncedService>,
  next: ReadonlyMap<string, AnnouncedService>,
): ServiceChanges {
  let changed = next.size !== before.size;
  const assigned: string[] = [];
  const remove: AnnouncedSeries[] = [];
  const set: AnnouncedSeries[] = [];
  for (const [key, svc] of next) {
    const prev = before.get(key);
    if (
      prev !== undefined &&
      prev.ips.join() === svc.ips.join() &&
      prev.interfaces.join() === svc.interfaces.join()
    )
      continue;
    changed = true;
    if (prev === undefined) assigned.push(key);
    for (const ip of prev?.ips ?? []) remove.push({ service: key, ip });
    for (const ip of svc.ips) set.push({ service: key, ip });
  }
  for (const [key, prev] of before) {
    if (next.has(key)) continue;
    changed = true;
    for (const ip of prev.ips) remove.push({ service: key, ip });
  }
  return { changed, assigned, remove, set };
}

/**
 * Which duplicate responders are reported (a log line and an Event): per IP whatever the MAC,
 * since the MAC is whatever the sender chose, at most once per `intervalMs` (the responder
 * already limits its own reports; this keeps Events rarer still).
 */
export class ConflictReports {
  private readonly last = new Map<string, number>();

  constructor(private readonly intervalMs = conflictReportMs) {}

  /** Whether a conflict on `ip` seen at `now` (ms) is reported; if so, it counts as reported. */
  report(ip: string, now: number): boolean {
    const last = this.last.get(ip);
    if (last !== undefined && now - last < this.intervalMs) return false;
    this.last.set(ip, now);
    return true;
  }
}

/** The Service an Event is about, with its uid when the cluster view has the object. */
export function serviceTarget(key: string, obj: ServiceObject | undefined): EventTarget {
  const i = key.indexOf('/');
  return {
    apiVersion: 'v1',
    kind: 'Service',
    namespace: key.slice(0, i),
    name: key.slice(i + 1),
    ...(obj?.metadata?.uid ? { uid: obj.metadata.uid } : {}),
  };
}

/** The Events' text (reasons as MetalLB's speaker records them, plus `ipConflict`). */
export const eventText = {
  nodeAssigned: (self: string): string =>
    `announcing from node ${JSON.stringify(self)} with protocol "layer2"`,
  announceFailed: (ip: string, self: string, reason: string): string =>
    `${ip} is not announced from node ${JSON.stringify(self)}: ${reason}`,
  ipConflict: (ip: string, mac: string, iface: string, self: string): string =>
    `${ip} is answered by another station too (MAC ${mac} on ${iface} of node ${JSON.stringify(self)}): ` +
    'two hosts answer ARP/NDP for it; check for a static address or another load balancer',
};
