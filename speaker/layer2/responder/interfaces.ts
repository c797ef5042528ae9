// Which interfaces answer ARP/NDP for a Service IP. The decision is a pure function of a
// snapshot of the node's links and addresses; a thin reader fills the snapshot from rtnetlink
// and a watcher re-reads it whenever the kernel reports a link or address change.
//
// Rules (MetalLB's internal/layer2 and speaker/layer2_controller.go):
//  - the link is administratively up (IFF_UP), has no master (not a bond or bridge port:
//    ARP arriving on a port is handled by the master), and is not NOARP;
//  - its name matches none of the excluded patterns (MetalLB's announcedInterfacesToExclude);
//  - ARP needs IFF_BROADCAST (RFC 826 requests are broadcast); NDP needs an IPv6 link-local
//    address (RFC 4861 §4.4: a node's NDP traffic is tied to its link-local addressing);
//  - when the L2Advertisement lists interfaces, only those;
//  - among what is left, the interfaces with an address on the Service IP's subnet win when
//    there is one; otherwise every remaining interface answers.
import { createRtNetlink, type RtNetlinkSocket } from 'netlink';
import { prefixMask, tryParseIP } from '../../../lib/ip/index.js';
import { formatIPv4, formatIPv6, formatMac } from '../wire/address.js';

export interface LinkState {
  index: number;
  name: string;
  /** IFF_UP. */
  up: boolean;
  /** IFF_RUNNING / IFF_LOWER_UP: carrier. Not an eligibility rule; useful to health checks. */
  running: boolean;
  broadcast: boolean;
  noarp: boolean;
  /** ifindex of the bond or bridge this link is enslaved to. */
  master?: number;
  mac?: string;
}

export interface AddressState {
  index: number;
  family: 4 | 6;
  address: string;
  prefixLength: number;
}

export interface InterfaceSnapshot {
  links: LinkState[];
  addresses: AddressState[];
}

/** MetalLB's default `announcedInterfacesToExclude` (ConfigMap metallb-excludel2). */
export const DEFAULT_EXCLUDED_INTERFACES: readonly RegExp[] = [
  /^docker.*/,
  /^cbr.*/,
  /^dummy.*/,
  /^virbr.*/,
  /^lxcbr.*/,
  /^veth.*/,
  /^lo$/,
  /^cali.*/,
  /^tunl.*/,
  /^flannel.*/,
  /^kube-ipvs.*/,
  /^cni.*/,
  /^nodelocaldns.*/,
  /^lxc.*/,
];

export interface EligibleInterface {
  index: number;
  name: string;
  mac: string;
  /** Can answer ARP (IFF_BROADCAST). */
  arp: boolean;
  /** Can answer NDP: its first IPv6 link-local address. */
  linkLocal?: string;
}

export interface EligibilityOptions {
  /** Name patterns never used; default DEFAULT_EXCLUDED_INTERFACES. */
  exclude?: readonly RegExp[];
}

/** Interfaces that may answer at all, whatever the IP. Sorted by name, for stable output. */
export function eligibleInterfaces(
  snapshot: InterfaceSnapshot,
  options: EligibilityOptions = {},
): EligibleInterface[] {
  const exclude = options.exclude ?? DEFAULT_EXCLUDED_INTERFACES;
  const out: EligibleInterface[] = [];
  for (const link of snapshot.links) {
    if (!link.up || link.noarp || link.master !== undefined || link.mac === undefined) continue;
    if (exclude.some((re) => re.test(link.name))) continue;
    const linkLocal = snapshot.addresses.find(
      (a) => a.index === link.index && a.family === 6 && isLinkLocalV6(a.address),
    )?.address;
    const eligible: EligibleInterface = {
      index: link.index,
      name: link.name,
      mac: link.mac,
      arp: link.broadcast,
    };
    if (linkLocal !== undefined) eligible.linkLocal = linkLocal;
    if (eligible.arp || eligible.linkLocal !== undefined) out.push(eligible);
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

export interface IpInterfaceOptions extends EligibilityOptions {
  /** L2Advertisement.spec.interfaces; empty or absent means any eligible interface. */
  allowed?: readonly string[];
}

/** The interfaces that answer for `ip` (IPv4: ARP-capable; IPv6: NDP-capable). */
export function interfacesForIp(
  snapshot: InterfaceSnapshot,
  ip: string,
  options: IpInterfaceOptions = {},
): EligibleInterface[] {
  const parsed = tryParseIP(ip);
  if (!parsed) return [];
  const allowed = options.allowed && options.allowed.length > 0 ? new Set(options.allowed) : undefined;
  const candidates = eligibleInterfaces(snapshot, options).filter(
    (i) =>
      (allowed === undefined || allowed.has(i.name)) &&
      (parsed.family === 4 ? i.arp : i.linkLocal !== undefined),
  );
  const onSubnet = candidates.filter((i) =>
    snapshot.addresses.some((a) => {
      if (a.index !== i.index || a.family !== parsed.family) return false;
      const own = tryParseIP(a.address);
      if (!own) return false;
      const mask = prefixMask(a.family, a.prefixLength);
      return parsed.family === a.family && (own.value & mask) === (parsed.value & mask);
    }),
  );
  return onSubnet.length > 0 ? onSubnet : candidates;
}

function isLinkLocalV6(address: string): boolean {
  const parsed = tryParseIP(address);
  // fe80::/10 (RFC 4291 §2.5.6)
  return parsed !== undefined && parsed.family === 6 && parsed.value >> 118n === 0x3fan;
}

/** Whether two snapshots describe the same state (order-insensitive). */
export function sameSnapshot(a: InterfaceSnapshot, b: InterfaceSnapshot): boolean {
  return snapshotKey(a) === snapshotKey(b);
}

function snapshotKey(s: InterfaceSnapshot): string {
  const links = s.links.map((l) =>
    JSON.stringify([l.index, l.name, l.up, l.running, l.broadcast, l.noarp, l.master, l.mac]),
  );
  const addrs = s.addresses.map((a) => `${a.index}|${a.address}/${a.prefixLength}`);
  return [...links.sort(), '--', ...addrs.sort()].join('\n');
}

// --- The netlink edge ---------------------------------------------------------------------

/** Reads links and addresses once (RTM_GETLINK / RTM_GETADDR dumps). */
export async function readInterfaceSnapshot(socket: RtNetlinkSocket): Promise<InterfaceSnapshot> {
  // One dump at a time: the kernel refuses a second dump on a socket while one is running.
  const links = await socket.getLinks();
  const addresses = await socket.getAddresses();
  const snapshot: InterfaceSnapshot = { links: [], addresses: [] };
  for (const l of links) {
    const index = l.data.index;
    const name = l.attrs.ifname;
    if (index === undefined || name === undefined) continue;
    const flags = l.data.flags ?? {};
    const link: LinkState = {
      index,
      name,
      up: flags.up === true,
      running: flags.running === true || flags.lowerUp === true,
      broadcast: flags.broadcast === true,
      noarp: flags.noarp === true,
    };
    if (l.attrs.master !== undefined && l.attrs.master !== 0) link.master = l.attrs.master;
    if (l.attrs.address?.length === 6) link.mac = formatMac(l.attrs.address);
    snapshot.links.push(link);
  }
  for (const a of addresses) {
    const index = a.data.index;
    const bytes = a.attrs.local ?? a.attrs.address;
    if (index === undefined || bytes === undefined || a.data.prefixlen === undefined) continue;
    if (a.data.family === 2 && bytes.length === 4) {
      snapshot.addresses.push({
        index,
        family: 4,
        address: formatIPv4(bytes),
        prefixLength: a.data.prefixlen,
      });
    } else if (a.data.family === 10 && bytes.length === 16) {
      snapshot.addresses.push({
        index,
        family: 6,
        address: formatIPv6(bytes),
        prefixLength: a.data.prefixlen,
      });
    }
  }
  return snapshot;
}

export interface InterfaceWatcherOptions {
  /** Called with the first snapshot and then whenever it changes. */
  onChange: (snapshot: InterfaceSnapshot) => void;
  onError?: (err: Error) => void;
  /** Safety rescan even without events (ms); default 1000. Events trigger a rescan at once. */
  rescanMs?: number;
}

/**
 * Keeps an InterfaceSnapshot current: subscribes to RTNLGRP_LINK and the IPv4/IPv6 address
 * groups, re-dumps on any message (coalesced), and rescans periodically in case an event was
 * lost (netlink multicast drops messages under ENOBUFS).
 */
export class InterfaceWatcher {
  private current: InterfaceSnapshot | undefined;
  private scanning = false;
  private rescanQueued = false;
  private closed = false;
  private readonly timer: NodeJS.Timeout;

  private constructor(
    private readonly socket: RtNetlinkSocket,
    private readonly options: InterfaceWatcherOptions,
  ) {
    this.timer = setInterval(() => this.rescan(), options.rescanMs ?? 1000);
  }

  /** Starts watching; resolves with the first snapshot (already passed to onChange). */
  static async start(options: InterfaceWatcherOptions): Promise<InterfaceWatcher> {
    const socket = createRtNetlink();
    socket.addMembership('LINK');
    socket.addMembership('IPV4_IFADDR');
    socket.addMembership('IPV6_IFADDR');
    const watcher = new InterfaceWatcher(socket, options);
    socket.on('message', () => watcher.rescan());
    await watcher.scan();
    return watcher;
  }

  get snapshot(): InterfaceSnapshot {
    return this.current ?? { links: [], addresses: [] };
  }

  rescan(): void {
    if (this.closed) return;
    if (this.scanning) {
      this.rescanQueued = true;
      return;
    }
    void this.scan();
  }

  private async scan(): Promise<void> {
    this.scanning = true;
    try {
      const next = await readInterfaceSnapshot(this.socket);
      if (this.closed) return;
      if (!this.current || !sameSnapshot(this.current, next)) {
        this.current = next;
        this.options.onChange(next);
      }
    } catch (err) {
      this.options.onError?.(err instanceof Error ? err : new Error(String(err)));
    } finally {
      this.scanning = false;
      if (this.rescanQueued && !this.closed) {
        this.rescanQueued = false;
        void this.scan();
      }
    }
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    this.socket.socket.close();
  }
}
