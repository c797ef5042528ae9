import { execFileSync } from 'node:child_process';
import net from 'node:net';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { connectTcpMd5, serverFd, setTcpMd5 } from './index.js';

// TCP_MD5SIG needs no privilege, and these connections stay on loopback.
describe('TCP MD5 signatures (RFC 2385) on loopback', () => {
  const servers: net.Server[] = [];
  const sockets: net.Socket[] = [];

  beforeAll(() => {
    execFileSync(fileURLToPath(new URL('./build.sh', import.meta.url)), { stdio: 'inherit' });
  });

  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  });

  /** A listener that records accepted connections and greets each one. */
  async function listen(host: string, peer: string, key: string) {
    const accepted: net.Socket[] = [];
    const server = net.createServer((s) => {
      accepted.push(s);
      sockets.push(s);
      s.write('OPEN');
    });
    servers.push(server);
    server.listen(0, host);
    await once(server, 'listening');
    setTcpMd5(serverFd(server), peer, key);
    return { port: (server.address() as net.AddressInfo).port, accepted };
  }

  it('connects when both sides use the same key, and data flows', async () => {
    const { port, accepted } = await listen('127.0.0.1', '127.0.0.1', 's3cret');
    const socket = await connectTcpMd5({ peer: '127.0.0.1', port, key: 's3cret', timeoutMs: 2000 });
    sockets.push(socket);
    const [data] = (await once(socket, 'data')) as [Buffer];
    expect(data.toString()).toBe('OPEN');
    expect(accepted).toHaveLength(1);
    expect(socket.remotePort).toBe(port);
  });

  it('does not connect within 1 s when the keys differ', async () => {
    const { port, accepted } = await listen('127.0.0.1', '127.0.0.1', 's3cret');
    const started = Date.now();
    await expect(
      connectTcpMd5({ peer: '127.0.0.1', port, key: 'wrong', timeoutMs: 1000 }),
    ).rejects.toMatchObject({
      code: 'ETIMEDOUT',
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(990);
    expect(accepted).toHaveLength(0);
  });

  it('does not connect when the client sends no signature to a keyed listener', async () => {
    const { port, accepted } = await listen('127.0.0.1', '127.0.0.1', 's3cret');
    await expect(connectTcpMd5({ peer: '127.0.0.1', port, key: '', timeoutMs: 1000 })).rejects.toMatchObject({
      code: 'ETIMEDOUT',
    });
    expect(accepted).toHaveLength(0);
  });

  it('works over IPv6', async () => {
    const { port, accepted } = await listen('::1', '::1', 'v6-key');
    const socket = await connectTcpMd5({ peer: '::1', port, key: 'v6-key', timeoutMs: 2000 });
    sockets.push(socket);
    await once(socket, 'data');
    expect(accepted[0]?.remoteAddress).toBe('::1');
  });

  it('keys an IPv4 peer on a dual-stack listener through its v4-mapped address', async () => {
    const { port, accepted } = await listen('::', '127.0.0.1', 'mapped');
    const socket = await connectTcpMd5({ peer: '127.0.0.1', port, key: 'mapped', timeoutMs: 2000 });
    sockets.push(socket);
    await once(socket, 'data');
    expect(accepted[0]?.remoteAddress).toBe('::ffff:127.0.0.1');
  });

  it('binds the requested source address and applies the TTL (ebgpMultiHop)', async () => {
    const { port, accepted } = await listen('127.0.0.1', '127.0.0.2', 'k');
    const socket = await connectTcpMd5({
      peer: '127.0.0.1',
      port,
      key: 'k',
      localAddress: '127.0.0.2',
      ttl: 2,
      timeoutMs: 2000,
    });
    sockets.push(socket);
    await once(socket, 'data');
    expect(socket.localAddress).toBe('127.0.0.2');
    expect(accepted[0]?.remoteAddress).toBe('127.0.0.2');
  });

  it('rejects with ECONNREFUSED when nothing listens and no key is used', async () => {
    // With a key, the kernel's unsigned RST would be dropped (RFC 2385 §2.0) and the connect
    // would time out instead, as the wrong-key case shows.
    const { port } = await listen('127.0.0.1', '127.0.0.1', 'k');
    await new Promise((r) => servers.pop()?.close(r));
    await expect(connectTcpMd5({ peer: '127.0.0.1', port, key: '', timeoutMs: 2000 })).rejects.toMatchObject({
      code: 'ECONNREFUSED',
      syscall: 'connect',
    });
  });

  it('rejects bad arguments with errors that name the value', async () => {
    await expect(connectTcpMd5({ peer: 'router1', port: 179, key: 'k', timeoutMs: 100 })).rejects.toThrow(
      'peer "router1" is not an IPv4 or IPv6 address',
    );
    expect(() => setTcpMd5(0, '127.0.0.1', 'x'.repeat(81))).toThrow(RangeError);
    expect(() => setTcpMd5(0, '127.0.0.1', 'k')).toThrow(expect.objectContaining({ syscall: 'setsockopt' }));
  });
});
