// Proves the network lab itself: the segment, real routers installing ECMP routes from real
// BGP sessions, the kube-proxy stand-in staying silent on ARP/NDP, the control-plane relay,
// and that the lab leaves nothing behind. Needs root (network namespaces).

import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { testEnv } from '../env/testenv.js';
import { Lab, hostMac, hostSeedV4, hostV4, hostV6, isRoot, labHosts, labNet, parseNexthops } from './lab.js';
import type { LabProcess, NodeHost } from './lab.js';
import { KubeProxy } from './proxy.js';
import { relayRootEndpoint, targetFromUrl } from './relay.js';
import { BirdRouter, FrrRouter, birdConfig, frrConfigs } from './router.js';

// A minimal BGP-4 speaker (RFC 4271) for driving the routers: OPEN with the multiprotocol
// ipv4/unicast (RFC 4760) and 4-byte AS (RFC 6793) capabilities and hold time 3, KEEPALIVE
// every second, and once Established one UPDATE with ORIGIN, a 4-byte AS_PATH, NEXT_HOP self
// and the prefix. Incoming UPDATEs (FRR re-advertises other speakers' routes) are ignored.
// It reconnects when the session drops, and prints `established` each time.
const miniSpeaker = String.raw`
import net from 'node:net';
const [peer, local, asnText, prefix] = process.argv.slice(2);
const asn = Number(asnText);
const [pfx, plenText] = prefix.split('/');
const plen = Number(plenText);
const ip4 = (s) => Buffer.from(s.split('.').map(Number));
const u32 = (n) => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; };
function message(type, body) {
  const head = Buffer.alloc(19, 0xff);
  head.writeUInt16BE(19 + body.length, 16);
  head[18] = type;
  return Buffer.concat([head, body]);
}
function open() {
  const caps = Buffer.concat([
    Buffer.from([1, 4, 0, 1, 0, 1]), // MP: AFI 1 (IPv4), reserved, SAFI 1 (unicast)
    Buffer.from([65, 4]), u32(asn),  // 4-octet AS number
  ]);
  const param = Buffer.concat([Buffer.from([2, caps.length]), caps]); // param type 2: capabilities
  const fixed = Buffer.alloc(10);
  fixed[0] = 4;
  fixed.writeUInt16BE(asn > 0xffff ? 23456 : asn, 1);
  fixed.writeUInt16BE(3, 3); // hold time
  ip4(local).copy(fixed, 5); // BGP identifier
  fixed[9] = param.length;  // optional parameters length
  return message(1, Buffer.concat([fixed, param]));
}
function update() {
  const attrs = Buffer.concat([
    Buffer.from([0x40, 1, 1, 0]),                     // ORIGIN IGP
    Buffer.from([0x40, 2, 6, 2, 1]), u32(asn),        // AS_PATH: AS_SEQUENCE of one 4-byte AS
    Buffer.from([0x40, 3, 4]), ip4(local),            // NEXT_HOP self
  ]);
  const nlri = Buffer.concat([Buffer.from([plen]), ip4(pfx).subarray(0, Math.ceil(plen / 8))]);
  const body = Buffer.alloc(4);
  body.writeUInt16BE(0, 0);
  body.writeUInt16BE(attrs.length, 2);
  return message(2, Buffer.concat([body, attrs, nlri]));
}
const KEEPALIVE = message(4, Buffer.alloc(0));
function connect() {
  const sock = net.connect({ host: peer, port: 179, localAddress: local });
  let buf = Buffer.alloc(0);
  let established = false;
  let timer;
  sock.on('connect', () => {
    sock.write(open());
    timer = setInterval(() => sock.write(KEEPALIVE), 1000);
  });
  sock.on('data', (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    while (buf.length >= 19) {
      const len = buf.readUInt16BE(16);
      if (buf.length < len) break;
      const type = buf[18];
      const body = buf.subarray(19, len);
      buf = buf.subarray(len);
      if (type === 1) sock.write(KEEPALIVE);
      else if (type === 3) console.log('notification ' + body[0] + '/' + body[1]);
      else if (type === 4 && !established) {
        established = true;
        sock.write(update());
        console.log('established');
      }
    }
  });
  sock.on('error', (err) => console.log('error ' + err.message));
  sock.on('close', () => {
    clearInterval(timer);
    setTimeout(connect, 300);
  });
}
connect();
process.on('SIGTERM', () => process.exit(0));
`;

const root = isRoot();
if (!root) process.stderr.write('test/e2e/lab.test.ts: SKIPPED, the network lab needs root\n');
const describeRoot = root ? describe : describe.skip;

describeRoot('network lab', () => {
  const lab = new Lab({ prefix: 'bcnt-' });
  const proxy = new KubeProxy(lab);
  const routers: Array<BirdRouter | FrrRouter> = [];
  let speakerScript = '';

  function startSpeakers(nodes: NodeHost[], prefix: string): LabProcess[] {
    return nodes.map((node) =>
      lab.spawn(
        node,
        process.execPath,
        [speakerScript, hostV4('router'), hostV4(node), String(labNet.nodeAsn), prefix],
        { stdio: 'pipe' },
      ),
    );
  }

  async function curlFromClient(url: string, extra: string[] = []): Promise<string> {
    const res = await lab.exec('client', 'curl', ['-sS', '--max-time', '3', ...extra, url]);
    return res.stdout.trim();
  }

  beforeAll(async () => {
    // Ctrl-C or a killed Jest worker must not leave namespaces behind either: the guardian
    // tears the lab down when this process is gone.
    await lab.up({ guard: true });
    speakerScript = path.join(lab.dir, 'mini-bgp-speaker.mjs');
    fs.writeFileSync(speakerScript, miniSpeaker);
  });

  afterAll(async () => {
    // Always runs: stop what we started, then the lab, and prove nothing is left.
    for (const r of routers) await r.stop().catch(() => undefined);
    await proxy.stop().catch(() => undefined);
    await lab.down();
    lab.assertClean();
  });

  it('connects every host to every other over IPv4, IPv6 and the seed subnet', async () => {
    const failures: string[] = [];
    await Promise.all(
      labHosts.map(async (src) => {
        for (const dst of labHosts)
          for (const ip of [hostV4(dst), hostV6(dst), hostSeedV4(dst)]) {
            const res = await lab.exec(src, 'ping', ['-q', '-c1', '-W1', ip], { check: false });
            if (res.code !== 0) failures.push(`${src} -> ${ip}`);
          }
      }),
    );
    expect(failures).toEqual([]);
    const mac = await lab.exec('node2', 'cat', ['/sys/class/net/eth0/address']);
    expect(mac.stdout.trim()).toBe(hostMac('node2'));
  });

  it('unplugs and plugs a host at its bridge port', async () => {
    await lab.unplug('node3');
    try {
      const res = await lab.exec('client', 'ping', ['-q', '-c1', '-W1', hostV4('node3')], { check: false });
      expect(res.code).not.toBe(0);
    } finally {
      await lab.plug('node3');
    }
    await lab.exec('client', 'ping', ['-q', '-c1', '-W2', hostV4('node3')]);
    await lab.exec('client', 'ping', ['-q', '-c1', '-W2', hostV6('node3')]);
  });

  it('routes the BGP service ranges from the client via the router', async () => {
    expect(await lab.routeNexthops(labNet.bgpRangeV4, 'client')).toEqual([hostV4('router')]);
    expect(await lab.routeNexthops(labNet.bgpRangeV6, 'client')).toEqual([hostV6('router')]);
  });

  it('parses single-path and multipath routes from ip route', () => {
    expect(parseNexthops('10.77.100.10 via 10.77.0.11 dev eth0 proto bird metric 32\n')).toEqual([
      '10.77.0.11',
    ]);
    const multipath = [
      '10.77.100.10 nhid 8 proto bgp metric 20 ',
      '\tnexthop via 10.77.0.12 dev eth0 weight 1 ',
      '\tnexthop via 10.77.0.11 dev eth0 weight 1 ',
    ].join('\n');
    expect(parseNexthops(multipath)).toEqual(['10.77.0.11', '10.77.0.12']);
    expect(parseNexthops('10.77.100.10 via inet6 fe80::1 dev eth0\n')).toEqual(['fe80::1']);
    expect(parseNexthops('')).toEqual([]);
  });

  it('generates router configs with ECMP, BFD, passwords and both families', () => {
    const cfg = {
      peers: [
        { address: '10.77.0.11', asn: 64512, password: 's3cret' },
        { address: 'fd00:77::12', asn: 64513 },
      ],
      bfd: { intervalMs: 50, multiplier: 4 },
    };
    const bird = birdConfig(cfg, '/tmp/x.log');
    expect(bird).toContain('merge paths on limit 16;');
    expect(bird).toContain('error wait time 1, 5;');
    expect(bird).toContain('password "s3cret";');
    expect(bird).toContain('min rx interval 50 ms');
    expect(bird).toContain('neighbor fd00:77::12 as 64513;');
    expect(bird).toMatch(/ipv6 \{ import all; export none; \};/);
    const frr = frrConfigs(cfg, '/tmp');
    expect(frr.bgpd).toContain('no bgp ebgp-requires-policy');
    expect(frr.bgpd).toContain('neighbor 10.77.0.11 password s3cret');
    expect(frr.bgpd).toContain('neighbor fd00:77::12 bfd profile lab');
    expect(frr.bgpd).toMatch(
      /address-family ipv6 unicast\n {2}maximum-paths 16\n {2}neighbor fd00:77::12 activate/,
    );
    expect(frr.bfdd).toContain('detect-multiplier 4');
  });

  it('starts BIRD and FRR with BFD, TCP-MD5 and IPv4 + IPv6 peers', async () => {
    const cfg = {
      peers: [
        { address: hostV4('node1'), asn: labNet.nodeAsn, password: 's3cret' },
        { address: hostV6('node2'), asn: labNet.nodeAsn + 1 },
      ],
      bfd: { intervalMs: 100, multiplier: 3 },
      maxPaths: 8,
    };
    const bird = new BirdRouter(lab, cfg);
    routers.push(bird);
    try {
      await bird.start();
      const protocols = await bird.showProtocols();
      expect(protocols).toMatch(/peer1_10_77_0_11\s+BGP/);
      expect(protocols).toMatch(/peer2_fd00_77__12\s+BGP/);
      expect(protocols).toMatch(/\bBFD\b/);
    } finally {
      await bird.stop();
    }
    const frr = new FrrRouter(lab, cfg);
    routers.push(frr);
    try {
      await frr.start();
      const running = await frr.vtysh('show running-config');
      expect(running).toContain(`neighbor ${hostV6('node2')} remote-as ${labNet.nodeAsn + 1}`);
      expect(running).toContain('maximum-paths 8');
      expect(running).toMatch(/profile lab/);
      expect(await frr.vtysh('show bfd peers brief')).toContain(hostV4('node1'));
    } finally {
      await frr.stop();
    }
  });

  it('BIRD installs a prefix announced by two speakers as one ECMP route', async () => {
    const bird = new BirdRouter(lab, {
      peers: (['node1', 'node2'] as const).map((n) => ({ address: hostV4(n), asn: labNet.nodeAsn })),
    });
    routers.push(bird);
    try {
      await bird.start();
      const prefix = '10.77.100.10/32';
      const speakers = startSpeakers(['node1', 'node2'], prefix);
      await Promise.all(speakers.map((s) => s.waitForOutput(/^established/)));
      await bird.waitForNexthops(prefix, [hostV4('node1'), hostV4('node2')]);
      expect(await bird.established()).toHaveLength(2);
      expect(await bird.showRouteAll(prefix)).toContain('10.77.100.10/32');

      // The whole path: client -> router -> (ECMP) a node serving the Service IP.
      await proxy.addServiceIP('10.77.100.10', 80);
      expect(['node1', 'node2']).toContain(await curlFromClient('http://10.77.100.10/'));

      // A speaker that goes away takes its next hop with it.
      await speakers[0]?.stop();
      await bird.waitForNexthops(prefix, [hostV4('node2')]);
      await speakers[1]?.stop();
    } finally {
      await bird.stop();
      await proxy.removeServiceIP('10.77.100.10');
    }
  });

  it('FRR installs a prefix announced by two speakers as one ECMP route', async () => {
    const frr = new FrrRouter(lab, {
      peers: (['node2', 'node3'] as const).map((n) => ({ address: hostV4(n), asn: labNet.nodeAsn })),
    });
    routers.push(frr);
    try {
      await frr.start();
      const prefix = '10.77.100.20/32';
      const speakers = startSpeakers(['node2', 'node3'], prefix);
      await Promise.all(speakers.map((s) => s.waitForOutput(/^established/)));
      await frr.waitForNexthops(prefix, [hostV4('node2'), hostV4('node3')]);
      expect((await frr.established()).sort()).toEqual([hostV4('node2'), hostV4('node3')]);
      expect(await frr.vtysh('show ip route 10.77.100.20/32')).toMatch(/bgp/i);
      await Promise.all(speakers.map((s) => s.stop()));
      await frr.waitForNexthops(prefix, []);
    } finally {
      await frr.stop();
    }
  });

  it("keeps the nodes' kernels silent on ARP and NDP for proxy Service IPs", async () => {
    const vip4 = '192.168.10.222'; // the layer 2 example's Service IP
    const vip6 = 'fd00:77::200:1';
    await proxy.addServiceIP(vip4, 80);
    await proxy.addServiceIP(vip6, 80);

    const silent = await lab.exec('client', 'arping', ['-I', 'eth0', '-c', '2', '-w', '2', vip4], {
      check: false,
    });
    expect(silent.code).toBe(1);
    expect(silent.stdout).toMatch(/Received 0 response/);
    const real = await lab.exec('client', 'arping', [
      '-I',
      'eth0',
      '-c',
      '1',
      '-w',
      '2',
      hostSeedV4('node1'),
    ]);
    expect(real.stdout.toLowerCase()).toContain(hostMac('node1'));

    const silent6 = await lab.exec('client', 'ndisc6', ['-r', '2', '-w', '500', vip6, 'eth0'], {
      check: false,
    });
    expect(silent6.code).not.toBe(0);
    const real6 = await lab.exec('client', 'ndisc6', ['-r', '2', '-w', '500', hostV6('node1'), 'eth0']);
    expect(real6.stdout.toLowerCase()).toContain(hostMac('node1'));

    // Once the client knows where to go (the speaker's job), the node serves the Service.
    await lab.exec('client', 'ip', ['neigh', 'replace', vip4, 'lladdr', hostMac('node2'), 'dev', 'eth0']);
    await lab.exec('client', 'ip', [
      '-6',
      'neigh',
      'replace',
      vip6,
      'lladdr',
      hostMac('node3'),
      'dev',
      'eth0',
    ]);
    try {
      expect(await curlFromClient(`http://${vip4}/`)).toBe('node2');
      expect(await curlFromClient(`http://[${vip6}]/`, ['-g'])).toBe('node3');
    } finally {
      await lab.exec('client', 'ip', ['neigh', 'del', vip4, 'dev', 'eth0'], { check: false });
      await lab.exec('client', 'ip', ['-6', 'neigh', 'del', vip6, 'dev', 'eth0'], { check: false });
    }
    await proxy.removeServiceIP(vip4);
    await proxy.removeServiceIP(vip6);
    const addrs = await lab.exec('node1', 'ip', ['addr', 'show', 'kube-ipvs0']);
    expect(addrs.stdout).not.toContain(vip4);
  });

  it('reaches the control plane from the nodes at the same 127.0.0.1 address', async () => {
    const env = testEnv();
    const relay = await relayRootEndpoint(lab, targetFromUrl(env.server));
    expect(relay.url()).toBe(env.server);
    for (const node of ['node1', 'node3'] as const) {
      const res = await lab.exec(node, 'curl', [
        '-sS',
        '--max-time',
        '5',
        '--cacert',
        env.caFile,
        `${env.server}/readyz`,
      ]);
      expect(res.stdout.trim()).toBe('ok');
    }
  });

  it('runs a second lab with another prefix independently', async () => {
    const other = new Lab({ prefix: 'bcnu-' });
    try {
      await other.up();
      const res = await other.exec('client', 'ping', ['-q', '-c1', '-W1', hostV4('node1')]);
      expect(res.code).toBe(0);
      expect(lab.existingNamespaces()).toHaveLength(6);
    } finally {
      await other.down();
    }
    other.assertClean();
    // The first lab is untouched.
    expect(lab.existingNamespaces()).toHaveLength(6);
    await lab.exec('client', 'ping', ['-q', '-c1', '-W1', hostV4('node3')]);
  });

  it('leaves nothing behind after up and down, twice in a row', async () => {
    const scratch = new Lab({ prefix: 'bcnv-' });
    for (let round = 0; round < 2; round++) {
      await scratch.up();
      scratch.spawn('node1', 'sleep', ['300']);
      expect(scratch.leftovers().length).toBeGreaterThan(0);
      await scratch.down();
      expect(scratch.leftovers()).toEqual([]);
      await scratch.down(); // idempotent
      const listed = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
      expect(listed.split('\n').filter((l) => l.startsWith('bcnv-'))).toEqual([]);
    }
  });
});
