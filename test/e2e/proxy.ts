// A kube-proxy stand-in for the lab nodes, shaped like kube-proxy in IPVS mode with strictARP:
// each Service IP sits on a NOARP device `kube-ipvs0` on every node, and the nodes run with
// arp_ignore=1 / arp_announce=2, so a node's kernel never answers ARP for a Service IP on eth0.
// Answering ARP/NDP is then the speaker's job alone, which is what the e2e tests must observe.
// Each node serves every Service IP:port with a tiny HTTP server that answers its node name.
//
// The kernel here has no `dummy` driver; `ifb` is the NOARP stand-in when dummy is missing.
// For IPv6 the address is a /128 on kube-ipvs0: Linux answers NS only for addresses on the
// interface the NS arrived on (ndisc_recv_ns looks the target up strictly on that device),
// which lab.test.ts verifies.

import { nodeHosts, type Lab, type LabProcess, type NodeHost } from './lab.js';

export const proxyDevice = 'kube-ipvs0';

const serverSource = `
import http from 'node:http';
const [name, ip, port] = process.argv.slice(-3);
const server = http.createServer((req, res) => {
  res.setHeader('content-type', 'text/plain');
  res.setHeader('connection', 'close');
  res.end(name + '\\n');
});
server.listen({ host: ip, port: Number(port) }, () => console.log('listening ' + ip + ' ' + port));
process.on('SIGTERM', () => process.exit(0));
`;

export interface ServiceEndpoint {
  ip: string;
  port: number;
}

export class KubeProxy {
  private readonly prepared = new Set<NodeHost>();
  private readonly servers = new Map<string, LabProcess[]>();
  private readonly ips = new Map<string, number>(); // ip -> number of ports served

  constructor(
    private readonly lab: Lab,
    readonly nodes: readonly NodeHost[] = nodeHosts,
  ) {}

  /** Puts `ip` on kube-ipvs0 of every node and serves ip:port there with the node's name. */
  async addServiceIP(ip: string, port = 80): Promise<void> {
    const key = endpointKey(ip, port);
    if (this.servers.has(key)) return;
    const v6 = ip.includes(':');
    await Promise.all(
      this.nodes.map(async (node) => {
        await this.prepare(node);
        if (!this.ips.has(ip)) {
          const args = v6
            ? ['-6', 'addr', 'add', `${ip}/128`, 'dev', proxyDevice, 'nodad']
            : ['addr', 'add', `${ip}/32`, 'dev', proxyDevice];
          const res = await this.lab.exec(node, 'ip', args, { check: false });
          if (res.code !== 0 && !/File exists/.test(res.stderr))
            throw new Error(`adding ${ip} on ${this.lab.ns(node)}: ${res.stderr}`);
        }
      }),
    );
    this.ips.set(ip, (this.ips.get(ip) ?? 0) + 1);
    const procs = this.nodes.map((node) =>
      this.lab.spawn(
        node,
        process.execPath,
        ['--input-type=module', '-e', serverSource, node, ip, String(port)],
        {
          stdio: 'pipe',
        },
      ),
    );
    this.servers.set(key, procs);
    await Promise.all(procs.map((p) => p.waitForOutput(/^listening/)));
  }

  /** Stops serving ip:port (every port when `port` is omitted) and, when unused, removes the IP. */
  async removeServiceIP(ip: string, port?: number): Promise<void> {
    const keys = [...this.servers.keys()].filter((k) =>
      port === undefined ? k.startsWith(`${ip}|`) : k === endpointKey(ip, port),
    );
    for (const key of keys) {
      await Promise.all((this.servers.get(key) ?? []).map((p) => p.stop()));
      this.servers.delete(key);
      this.ips.set(ip, (this.ips.get(ip) ?? 1) - 1);
    }
    if ((this.ips.get(ip) ?? 0) <= 0) {
      this.ips.delete(ip);
      const plen = ip.includes(':') ? 128 : 32;
      await Promise.all(
        this.nodes.map((node) =>
          this.lab.exec(node, 'ip', ['addr', 'del', `${ip}/${plen}`, 'dev', proxyDevice], { check: false }),
        ),
      );
    }
  }

  /** The Service endpoints currently served. */
  endpoints(): ServiceEndpoint[] {
    return [...this.servers.keys()].map((k) => {
      const [ip = '', port = '0'] = k.split('|');
      return { ip, port: Number(port) };
    });
  }

  /** Stops every server and removes every Service IP. */
  async stop(): Promise<void> {
    for (const ip of [...this.ips.keys()]) await this.removeServiceIP(ip);
  }

  private async prepare(node: NodeHost): Promise<void> {
    if (this.prepared.has(node)) return;
    this.prepared.add(node);
    const exists = await this.lab.exec(node, 'ip', ['link', 'show', proxyDevice], { check: false });
    if (exists.code !== 0) {
      const dummy = await this.lab.exec(node, 'ip', ['link', 'add', proxyDevice, 'type', 'dummy'], {
        check: false,
      });
      if (dummy.code !== 0) await this.lab.exec(node, 'ip', ['link', 'add', proxyDevice, 'type', 'ifb']);
    }
    await this.lab.exec(node, 'ip', ['link', 'set', proxyDevice, 'up']);
    // strictARP: answer ARP only for addresses on the receiving interface, and source our
    // own ARP requests from the best local address of the outgoing interface.
    await this.lab.exec(node, 'sysctl', [
      '-qw',
      'net.ipv4.conf.all.arp_ignore=1',
      'net.ipv4.conf.all.arp_announce=2',
      'net.ipv4.conf.default.arp_ignore=1',
      'net.ipv4.conf.default.arp_announce=2',
      'net.ipv4.conf.eth0.arp_ignore=1',
      'net.ipv4.conf.eth0.arp_announce=2',
      `net.ipv4.conf.${proxyDevice}.arp_ignore=1`,
      `net.ipv4.conf.${proxyDevice}.arp_announce=2`,
    ]);
  }
}

function endpointKey(ip: string, port: number): string {
  return `${ip}|${port}`;
}
