// What the client sees of a Service IP on the lab segment: who answers ARP for it, what an
// HTTP request gets, and the client's neighbour entry. Parsers are pure (tested by the demo's
// e2e test through the real tools' output).

import { hostMac, nodeHosts, type Lab, type NodeHost } from '../e2e/lab.js';

export interface ArpAnswer {
  mac: string;
  /** The lab node owning that MAC, if any. */
  node: NodeHost | undefined;
}

export function nodeOfMac(mac: string): NodeHost | undefined {
  return nodeHosts.find((n) => hostMac(n) === mac.toLowerCase());
}

/** The distinct MACs in iputils `arping` output (`Unicast reply from 1.2.3.4 [02:77:...]`). */
export function parseArping(output: string): ArpAnswer[] {
  const macs = new Set<string>();
  for (const m of output.matchAll(/reply from \S+ \[([0-9A-Fa-f:]{17})\]/g))
    if (m[1]) macs.add(m[1].toLowerCase());
  return [...macs].sort().map((mac) => ({ mac, node: nodeOfMac(mac) }));
}

/** One gratuitous ARP seen on the client's wire: a node announcing that `ip` is at `mac`. */
export interface GratuitousArp {
  /** tcpdump's timestamp, epoch ms. */
  at: number;
  mac: string;
  node: NodeHost | undefined;
  ip: string;
}

/**
 * A line of `tcpdump -e -tt` if it is a gratuitous ARP: a request whose sender IP is its target
 * IP, or a reply broadcast to everyone (RFC 5227 section 3 names both "ARP Announcement"); an
 * answer to one station's request is not one. For example
 * `1700000000.123456 02:77:00:00:00:0c > ff:ff:ff:ff:ff:ff, ethertype ARP ... Request who-has 192.168.10.222 tell 192.168.10.222, ...`
 */
export function parseGratuitousLine(line: string): GratuitousArp | undefined {
  const m =
    /^(\d+\.\d+) ([0-9a-f:]{17}) > (?:.*?Request who-has (\d+\.\d+\.\d+\.\d+) tell \3,|ff:ff:ff:ff:ff:ff, .*?Reply (\d+\.\d+\.\d+\.\d+) is-at )/.exec(
      line,
    );
  const ip = m?.[3] ?? m?.[4];
  if (!m?.[1] || !m[2] || !ip) return undefined;
  return { at: Number(m[1]) * 1000, mac: m[2], node: nodeOfMac(m[2]), ip };
}

export interface Neighbour {
  line: string;
  mac: string | undefined;
  state: string | undefined;
}

/** `ip neigh show <ip> dev eth0` → `192.168.10.222 lladdr 02:77:00:00:00:0b REACHABLE`. */
export function parseNeighbour(output: string): Neighbour | undefined {
  const line = output.trim().split('\n')[0]?.trim();
  if (!line) return undefined;
  const mac = /\blladdr ([0-9a-f:]{17})/i.exec(line)?.[1]?.toLowerCase();
  const state = /\b([A-Z]+)\s*$/.exec(line)?.[1];
  return { line, mac, state };
}

/** ARP requests from the client for `ip` until someone answers or `timeoutMs` is over. */
export async function arpFromClient(lab: Lab, ip: string, timeoutMs: number): Promise<ArpAnswer[]> {
  const deadline = Date.now() + timeoutMs;
  do {
    const res = await lab.exec('client', 'arping', ['-c', '2', '-w', '2', '-I', 'eth0', ip], {
      check: false,
      timeoutMs: 5000,
    });
    const answers = parseArping(res.stdout);
    if (answers.length > 0) return answers;
  } while (Date.now() < deadline);
  return [];
}

export interface CurlResult {
  code: number;
  body: string;
}

export async function curlFromClient(lab: Lab, url: string): Promise<CurlResult> {
  const res = await lab.exec('client', 'curl', ['-s', '--max-time', '2', url], {
    check: false,
    timeoutMs: 5000,
  });
  return { code: res.code, body: res.stdout };
}

export async function clientNeighbour(lab: Lab, ip: string): Promise<Neighbour | undefined> {
  const res = await lab.exec('client', 'ip', ['neigh', 'show', ip, 'dev', 'eth0'], { check: false });
  return parseNeighbour(res.stdout);
}
