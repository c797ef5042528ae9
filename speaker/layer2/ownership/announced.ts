// What this node does with the IPs it may answer (pure): the IPs the responder answers for, on
// which interfaces, and the Services it announces (for ServiceL2Status, Events and
// metallb_speaker_announced).

import type { OwnedIp } from '../responder/responder.js';
import type { L2Plan } from '../plan/index.js';

export interface AnnouncedService {
  /** "namespace/name". */
  readonly key: string;
  /** The Service's IPs this node answers for, sorted. */
  readonly ips: readonly string[];
  /** Interfaces the L2Advertisements restrict it to; empty: every eligible interface. */
  readonly interfaces: readonly string[];
}

export interface Announcements {
  readonly owned: readonly OwnedIp[];
  /** Service key → what this node announces of it; Services it does not announce are absent. */
  readonly services: ReadonlyMap<string, AnnouncedService>;
}

/** `answerable`: the IPs this node owns and may answer now (ring-ownership.ts). */
export function announcements(plan: L2Plan, answerable: ReadonlySet<string>, self: string): Announcements {
  const owned: OwnedIp[] = [];
  const byService = new Map<string, { ips: string[]; interfaces: Set<string> }>();
  for (const ip of plan.ips) {
    if (!answerable.has(ip.ip)) continue;
    const set = ip.interfaces.get(self) ?? 'all';
    owned.push(set === 'all' ? { ip: ip.ip } : { ip: ip.ip, interfaces: set });
    for (const key of ip.services) {
      let entry = byService.get(key);
      if (entry === undefined) byService.set(key, (entry = { ips: [], interfaces: new Set() }));
      entry.ips.push(ip.ip);
      if (set !== 'all') for (const name of set) entry.interfaces.add(name);
    }
  }
  const services = new Map<string, AnnouncedService>();
  for (const [key, e] of byService)
    services.set(key, { key, ips: e.ips.sort(), interfaces: [...e.interfaces].sort() });
  return { owned, services };
}

/** Stable text of an owned set, to skip a responder reconcile when nothing changed. */
export function ownedKey(owned: readonly OwnedIp[]): string {
  return owned
    .map((o) => `${o.ip}@${(o.interfaces ?? []).join(',')}`)
    .sort()
    .join(' ');
}
