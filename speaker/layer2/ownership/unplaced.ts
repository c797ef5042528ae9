// MetalLB's `announceFailed`, decided without I/O: the IPs this node owns but cannot answer
// for, because no interface here is usable for them (the L2Advertisements name interfaces the
// node lacks, or --ignore-interfaces excludes them). Each is reported once per IP and
// interface list, and again only after it has been answered somewhere here in between.

import type { OwnedIp } from '../responder/responder.js';

export interface Unplaced {
  readonly ip: string;
  /** The interfaces its L2Advertisements allow; empty: any. */
  readonly interfaces: readonly string[];
  /** One sentence for the Warning Event. */
  readonly reason: string;
}

export class UnplacedIPs {
  /** "ip|interfaces" of the IPs reported and still unanswered. */
  private reported = new Set<string>();

  /** `placement`: IP → the interfaces it is answered on (the responder's view). Returns the newly unanswerable IPs. */
  update(owned: readonly OwnedIp[], placement: ReadonlyMap<string, readonly string[]>): Unplaced[] {
    const now = new Set<string>();
    const fresh: Unplaced[] = [];
    for (const o of owned) {
      if ((placement.get(o.ip)?.length ?? 0) > 0) continue;
      const interfaces = o.interfaces ?? [];
      const id = `${o.ip}|${interfaces.join(',')}`;
      now.add(id);
      if (this.reported.has(id)) continue;
      fresh.push({
        ip: o.ip,
        interfaces,
        reason:
          interfaces.length > 0
            ? `none of the interfaces its L2Advertisements allow (${interfaces.join(', ')}) exists and is usable here`
            : 'no interface here is usable for it (up, not excluded, on its subnet or ARP/NDP capable)',
      });
    }
    this.reported = now;
    return fresh;
  }
}
