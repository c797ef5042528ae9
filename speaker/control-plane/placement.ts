// Where each VIP is answered: on the interfaces that hold an address on the VIP's subnet (of
// --interface only, when given). A VIP off every such subnet is refused with a problem naming
// the flag and value: answering ARP for an address the segment does not route to this link
// would only draw traffic that cannot arrive, and usually means a typo in --vip. Pure.

import { prefixMask, tryParseIP } from '../../lib/ip/index.js';
import {
  DEFAULT_EXCLUDED_INTERFACES,
  eligibleInterfaces,
  type InterfaceSnapshot,
} from '../layer2/responder/interfaces.js';
import type { ConfigProblem } from './config.js';

export interface VipPlacement {
  /** VIP → the interface names that answer for it (never empty). */
  readonly placed: ReadonlyMap<string, readonly string[]>;
  readonly problems: readonly ConfigProblem[];
}

export function placeVips(
  vips: readonly string[],
  snapshot: InterfaceSnapshot,
  iface: string | undefined,
): VipPlacement {
  // A named interface is used even when its name matches MetalLB's exclusions (veth*, ...).
  const exclude = iface !== undefined ? [] : DEFAULT_EXCLUDED_INTERFACES;
  const usable = eligibleInterfaces(snapshot, { exclude }).filter(
    (i) => iface === undefined || i.name === iface,
  );
  const problems: ConfigProblem[] = [];
  const placed = new Map<string, string[]>();
  if (iface !== undefined && usable.length === 0)
    problems.push({
      flag: 'interface',
      value: iface,
      message: 'no such interface that is up and can answer ARP/NDP; no VIP is served',
    });
  for (const vip of vips) {
    const ip = tryParseIP(vip);
    if (ip === undefined) continue;
    const names = usable
      .filter((i) => (ip.family === 4 ? i.arp : i.linkLocal !== undefined))
      .filter((i) =>
        snapshot.addresses.some((a) => {
          if (a.index !== i.index || a.family !== ip.family) return false;
          const own = tryParseIP(a.address);
          if (own === undefined) return false;
          const mask = prefixMask(a.family, a.prefixLength);
          return (own.value & mask) === (ip.value & mask);
        }),
      )
      .map((i) => i.name);
    if (names.length > 0) placed.set(vip, names);
    else if (usable.length > 0)
      problems.push({
        flag: 'vip',
        value: vip,
        message: `not on the subnet of any address of ${iface !== undefined ? `interface ${iface}` : 'any interface'}; this VIP is not served`,
      });
  }
  return { placed, problems };
}
