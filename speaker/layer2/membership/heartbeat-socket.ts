// The membership transport: UDP datagrams on the memberlist port (7946, as MetalLB), one IPv4
// and (when the node has IPv6) one IPv6 socket. Authentication is the codec's (HMAC); this
// edge only moves bytes.

import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { Logger } from '../../../lib/log.js';

export class HeartbeatSocket {
  private readonly sockets: { v4?: dgram.Socket; v6?: dgram.Socket } = {};

  private constructor(private readonly log: Logger) {}

  /** Binds the port on every address of both families; IPv4 must work, IPv6 may be absent. */
  static async open(port: number, onDatagram: (msg: Buffer) => void, log: Logger): Promise<HeartbeatSocket> {
    const hs = new HeartbeatSocket(log);
    hs.sockets.v4 = await bind('udp4', port, onDatagram, log);
    try {
      hs.sockets.v6 = await bind('udp6', port, onDatagram, log);
    } catch (err) {
      log.info('no IPv6 membership socket', { port, error: (err as Error).message });
    }
    return hs;
  }

  /** Resolves once the kernel has the datagram (close() before that would drop it). */
  send(address: string, port: number, datagram: Buffer): Promise<void> {
    const socket = isIPv6(address) ? this.sockets.v6 : this.sockets.v4;
    if (socket === undefined) return Promise.resolve();
    return new Promise((resolve) => {
      socket.send(datagram, port, address, (err) => {
        // A peer whose route is gone (EHOSTUNREACH, ENETUNREACH) is what liveness detects:
        // logged at debug, not treated as our failure.
        if (err) this.log.debug('heartbeat send failed', { peer: address, error: err.message });
        resolve();
      });
    });
  }

  close(): void {
    for (const s of [this.sockets.v4, this.sockets.v6]) s?.close();
    delete this.sockets.v4;
    delete this.sockets.v6;
  }
}

function bind(
  type: 'udp4' | 'udp6',
  port: number,
  onDatagram: (msg: Buffer) => void,
  log: Logger,
): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket({ type, ipv6Only: type === 'udp6', reuseAddr: false });
    socket.once('error', reject);
    socket.on('message', (msg) => onDatagram(msg));
    socket.bind(port, () => {
      socket.off('error', reject);
      socket.on('error', (err) => log.warn('membership socket error', { error: err.message }));
      resolve(socket);
    });
  });
}
