// The VIPs as local addresses, so this node's kernel accepts connections to them once the
// responder draws the traffic here. They go on `lo` as host routes (/32, /128) on every
// control-plane node, from start to stop, so a take-over never waits for an address to appear
// (a SYN that arrived before it would be dropped, and the client retries only after a second).
//
// The kernel must not answer ARP for them itself: by default (arp_ignore=0) Linux answers ARP
// for any local address on any interface, so every node would answer the VIP and nothing would
// fence a stalled one. arp_ignore=1 on the VIP interfaces makes the kernel answer only for
// addresses of the interface the request came in on; arp_announce=2 keeps the VIP out of the
// sender address of the kernel's own ARP requests (Linux ip-sysctl.rst). IPv6 needs nothing:
// Linux answers Neighbor Solicitations only for addresses of the receiving interface.

import fs from 'node:fs';
import { createRtNetlink } from 'netlink';
import { tryParseIP } from '../../lib/ip/index.js';
import { parseIPv4Bytes, parseIPv6Bytes } from '../../lib/ip/bytes.js';
import { interfaceIndex } from '../native/index.js';

const NLM_F_REPLACE = 0x100;
const NLM_F_CREATE = 0x400;
const AF_INET = 2;
const AF_INET6 = 10;

export interface LocalAddressResult {
  readonly vip: string;
  readonly error?: string;
}

async function change(vip: string, add: boolean): Promise<LocalAddressResult> {
  const ip = tryParseIP(vip);
  const bytes = ip === undefined ? undefined : ip.family === 4 ? parseIPv4Bytes(vip) : parseIPv6Bytes(vip);
  if (ip === undefined || bytes === undefined) return { vip, error: 'not an IP address' };
  const socket = createRtNetlink();
  try {
    const data = {
      family: ip.family === 4 ? AF_INET : AF_INET6,
      prefixlen: ip.family === 4 ? 32 : 128,
      index: interfaceIndex('lo'),
      ...(ip.family === 6 ? { flags: { nodad: true as const } } : {}),
    };
    const attrs = { local: bytes, address: bytes };
    if (add) await socket.newAddress(data, attrs, { flags: NLM_F_CREATE | NLM_F_REPLACE, timeout: 2000 });
    else await socket.delAddress(data, attrs, { timeout: 2000 });
    return { vip };
  } catch (err) {
    const message = (err as Error).message;
    // Removing what is not there is done.
    if (!add && /ADDRNOTAVAIL|address not available|EADDRNOTAVAIL/i.test(message)) return { vip };
    return { vip, error: message };
  } finally {
    socket.socket.close();
  }
}

export async function addLocalVips(vips: readonly string[]): Promise<LocalAddressResult[]> {
  return Promise.all(vips.map((v) => change(v, true)));
}

export async function removeLocalVips(vips: readonly string[]): Promise<LocalAddressResult[]> {
  return Promise.all(vips.map((v) => change(v, false)));
}

/** Sets arp_ignore=1 and arp_announce=2 on `iface` where they are lower; returns what it changed. */
export function quietKernelArp(iface: string): string[] {
  const changed: string[] = [];
  for (const [name, want] of [
    ['arp_ignore', 1],
    ['arp_announce', 2],
  ] as const) {
    const file = `/proc/sys/net/ipv4/conf/${iface}/${name}`;
    const now = Number(fs.readFileSync(file, 'utf8').trim());
    if (now >= want) continue;
    fs.writeFileSync(file, `${want}\n`);
    changed.push(`${name}=${want}`);
  }
  return changed;
}
