// kube-proxy in IPVS mode binds every Service IP, LoadBalancer IPs included, to its dummy
// interface kube-ipvs0 on every node. With the kernel's default net.ipv4.conf.all.arp_ignore=0
// (answer for any local address, whichever interface the request came in on) every node's
// kernel then answers ARP for those IPs beside the one speaker that owns them, and the client
// takes whichever answer came last. MetalLB documents that IPVS needs kube-proxy's strictARP
// (https://metallb.universe.tf/installation/#preparation), which sets arp_ignore=1 (answer
// only for addresses of the receiving interface) and arp_announce=2 in the node's network
// namespace. The speaker can see both: the interface, and the sysctl of its own (the node's)
// network namespace, as a hostNetwork Pod.

import fs from 'node:fs';

export const IPVS_INTERFACE = 'kube-ipvs0';
const ARP_IGNORE_ALL = '/proc/sys/net/ipv4/conf/all/arp_ignore';

/**
 * The warning to log when kube-proxy runs in IPVS mode without strictARP, or undefined.
 * `arpIgnoreAll` undefined (unreadable) is no evidence either way: no warning.
 */
export function strictArpProblem(
  linkNames: readonly string[],
  arpIgnoreAll: number | undefined,
): string | undefined {
  if (!linkNames.includes(IPVS_INTERFACE) || arpIgnoreAll === undefined || arpIgnoreAll >= 1)
    return undefined;
  return (
    `${IPVS_INTERFACE} exists (kube-proxy in IPVS mode) but net.ipv4.conf.all.arp_ignore is ${arpIgnoreAll}: ` +
    'this node’s kernel answers ARP for every LoadBalancer IP too, beside the owning speaker; ' +
    'set strictARP: true in kube-proxy’s configuration (ipvs.strictARP)'
  );
}

/** net.ipv4.conf.all.arp_ignore of this process's network namespace; undefined if unreadable. */
export function readArpIgnoreAll(
  read: (file: string) => string = (f) => fs.readFileSync(f, 'utf8'),
): number | undefined {
  try {
    const value = Number(read(ARP_IGNORE_ALL).trim());
    return Number.isInteger(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Logs the strictARP warning once per process, on the first interface snapshot that shows it. */
export class StrictArpCheck {
  private warned = false;

  constructor(
    private readonly warn: (message: string) => void,
    private readonly arpIgnoreAll: () => number | undefined = readArpIgnoreAll,
  ) {}

  /** Called with each interface snapshot's link names; reads the sysctl only when IPVS is there. */
  check(linkNames: readonly string[]): void {
    if (this.warned || !linkNames.includes(IPVS_INTERFACE)) return;
    const problem = strictArpProblem(linkNames, this.arpIgnoreAll());
    if (problem === undefined) return;
    this.warned = true;
    this.warn(problem);
  }
}
