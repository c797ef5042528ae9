// The metallb.io CRDs against the real API server: MetalLB's own YAML applies unchanged, every
// sample applies, defaults are filled in, and every single-object rule is enforced by the schema
// (OpenAPI + CEL) with an error that names the field and the value, so no webhook is needed.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../env/control-plane.js';
import { testEnv } from '../env/testenv.js';

const env = testEnv();
const beaconNs = 'metallb-system';
const samplesDir = path.join(repoRoot, 'manifests/samples');

// The layer 2 example, verbatim: MetalLB's layer 2 quick start as users paste it.
const layer2Example = `apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata:
  name: first-pool
  namespace: metallb-system
spec:
  addresses:
  - 192.168.10.200-192.168.10.250
---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata:
  name: example
  namespace: metallb-system
spec:
  ipAddressPools:
  - first-pool
`;

type Kind =
  | 'IPAddressPool'
  | 'L2Advertisement'
  | 'BGPAdvertisement'
  | 'Community'
  | 'BFDProfile'
  | 'BGPPeer'
  | 'BGPPeer/v1beta1'
  | 'ServiceL2Status'
  | 'ServiceBGPStatus'
  | 'BGPSessionState';

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string };
  spec?: Record<string, unknown>;
}

let tmp = '';
let fileCount = 0;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'beacon-crds-'));
});

afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

function manifest(kind: Kind, name: string, spec?: Record<string, unknown>, namespace = beaconNs): Manifest {
  const [k, version] = kind.split('/') as [string, string | undefined];
  const apiVersion = `metallb.io/${version ?? (k === 'BGPPeer' ? 'v1beta2' : 'v1beta1')}`;
  return { apiVersion, kind: k, metadata: { name, namespace }, ...(spec === undefined ? {} : { spec }) };
}

function writeTemp(content: string): string {
  const file = path.join(tmp, `m${fileCount++}.yaml`);
  fs.writeFileSync(file, content);
  return file;
}

/** kubectl apply of a manifest (JSON is YAML); resolves to kubectl's output. */
async function apply(m: Manifest | string): Promise<string> {
  const file = writeTemp(typeof m === 'string' ? m : JSON.stringify(m));
  return env.kubectl(['apply', '-f', file]);
}

/** Resolves to the error kubectl reports; fails the test if the write was accepted. */
async function refusal(write: Promise<unknown>): Promise<string> {
  return write.then(
    () => {
      throw new Error('the API server accepted a write it should have refused');
    },
    (err: unknown) => (err instanceof Error ? err.message : String(err)),
  );
}

async function remove(m: Manifest): Promise<void> {
  await env.kubectl([
    'delete',
    m.kind.toLowerCase() +
      (m.apiVersion.endsWith('v1beta1') && m.kind === 'BGPPeer' ? '.v1beta1.metallb.io' : ''),
    m.metadata.name,
    '-n',
    m.metadata.namespace,
    '--ignore-not-found',
  ]);
}

async function getJson(m: Manifest): Promise<Manifest & { status?: Record<string, unknown> }> {
  const resource = `${m.kind.toLowerCase()}.${m.apiVersion.split('/')[1] ?? ''}.metallb.io`;
  const out = await env.kubectl(['get', resource, m.metadata.name, '-n', m.metadata.namespace, '-o', 'json']);
  return JSON.parse(out) as Manifest & { status?: Record<string, unknown> };
}

async function patchStatus(m: Manifest, status: Record<string, unknown>): Promise<string> {
  return env.kubectl([
    'patch',
    m.kind.toLowerCase(),
    m.metadata.name,
    '-n',
    m.metadata.namespace,
    '--subresource=status',
    '--type=merge',
    '-p',
    JSON.stringify({ status }),
  ]);
}

describe('MetalLB configuration applies unchanged', () => {
  const seedFile = path.join(samplesDir, 'seed-002.yaml');

  afterEach(async () => {
    await env.kubectl(['delete', '-f', seedFile, '--ignore-not-found']);
  });

  it('keeps the layer 2 example verbatim in manifests/samples', () => {
    expect(fs.readFileSync(seedFile, 'utf8')).toBe(layer2Example);
  });

  it('applies the layer 2 example and lists the pool with its printer columns', async () => {
    const out = await apply(layer2Example);
    expect(out).toContain('ipaddresspool.metallb.io/first-pool created');
    expect(out).toContain('l2advertisement.metallb.io/example created');

    const table = await env.kubectl(['get', 'ipaddresspool', '-n', beaconNs]);
    const [header, ...rows] = table.trimEnd().split('\n');
    expect(header?.split(/\s{2,}/)).toEqual([
      'NAME',
      'AUTO ASSIGN',
      'AVOID BUGGY IPS',
      'ADDRESSES',
      'IPV4 IN USE',
      'IPV4 AVAILABLE',
      'AGE',
    ]);
    const row = rows.find((r) => r.startsWith('first-pool '));
    expect(row?.split(/\s+/).slice(0, 4)).toEqual([
      'first-pool',
      'true',
      'false',
      '["192.168.10.200-192.168.10.250"]',
    ]);

    const wide = await env.kubectl(['get', 'ipaddresspool', '-n', beaconNs, '-o', 'wide']);
    expect(wide.split('\n')[0]).toMatch(/IPV6 IN USE\s+IPV6 AVAILABLE/);
  });

  it('shows the pool counters the controller writes through the status subresource', async () => {
    await apply(layer2Example);
    const pool = manifest('IPAddressPool', 'first-pool');
    await patchStatus(pool, { assignedIPv4: 2, availableIPv4: 49, assignedIPv6: 0, availableIPv6: 0 });
    const row = (await env.kubectl(['get', 'ipaddresspool', 'first-pool', '-n', beaconNs, '--no-headers']))
      .trim()
      .split(/\s+/);
    expect(row.slice(4, 6)).toEqual(['2', '49']);
  });
});

describe('samples', () => {
  const files = fs
    .readdirSync(samplesDir)
    .filter((f) => f.endsWith('.yaml'))
    .sort();

  it('cover every kind', () => {
    const kinds = new Set(
      files.flatMap((f) =>
        [
          ...fs.readFileSync(path.join(samplesDir, f), 'utf8').matchAll(/^apiVersion: (\S+)\nkind: (\S+)/gm),
        ].map((m) => `${m[2]}/${m[1]}`),
      ),
    );
    expect([...kinds].sort()).toEqual([
      'BFDProfile/metallb.io/v1beta1',
      'BGPAdvertisement/metallb.io/v1beta1',
      'BGPPeer/metallb.io/v1beta1',
      'BGPPeer/metallb.io/v1beta2',
      'BGPSessionState/metallb.io/v1beta1',
      'Community/metallb.io/v1beta1',
      'IPAddressPool/metallb.io/v1beta1',
      'L2Advertisement/metallb.io/v1beta1',
      'ServiceBGPStatus/metallb.io/v1beta1',
      'ServiceL2Status/metallb.io/v1beta1',
    ]);
  });

  it.each(files)('%s applies cleanly into metallb-system', async (file) => {
    const full = path.join(samplesDir, file);
    try {
      const out = await env.kubectl(['apply', '-f', full]);
      const created = out.trim().split('\n');
      expect(created.length).toBeGreaterThan(0);
      for (const line of created) expect(line).toMatch(/ created$/);
      const listed = await env.kubectl(['get', '-f', full, '-o', 'name']);
      expect(listed.trim().split('\n')).toHaveLength(created.length);
    } finally {
      await env.kubectl(['delete', '-f', full, '--ignore-not-found']);
    }
  });
});

describe('defaults', () => {
  const objects: Manifest[] = [];
  afterEach(async () => {
    for (const m of objects.splice(0)) await remove(m);
  });

  async function created(m: Manifest): Promise<Record<string, unknown>> {
    objects.push(m);
    await apply(m);
    return (await getJson(m)).spec ?? {};
  }

  it('fills in MetalLB’s defaults for pools, advertisements and peers', async () => {
    expect(await created(manifest('IPAddressPool', 'defaults-pool', { addresses: ['10.9.0.0/24'] }))).toEqual(
      {
        addresses: ['10.9.0.0/24'],
        autoAssign: true,
        avoidBuggyIPs: false,
      },
    );
    expect(await created(manifest('BGPAdvertisement', 'defaults-bgp-ad', {}))).toEqual({
      aggregationLength: 32,
      aggregationLengthV6: 128,
    });
    expect(
      await created(
        manifest('BGPPeer', 'defaults-peer', { myASN: 64500, peerASN: 64501, peerAddress: '10.9.0.1' }),
      ),
    ).toEqual({
      myASN: 64500,
      peerASN: 64501,
      peerAddress: '10.9.0.1',
      peerPort: 179,
      disableMP: false,
      dualStackAddressFamily: false,
    });
  });

  it('fills in the BFD defaults, even for a profile without a spec', async () => {
    expect(await created(manifest('BFDProfile', 'defaults-bfd'))).toEqual({
      receiveInterval: 300,
      transmitInterval: 300,
      detectMultiplier: 3,
      echoInterval: 50,
      echoMode: false,
      passiveMode: false,
      minimumTtl: 254,
    });
  });

  it('keeps an explicit autoAssign false and aggregation lengths', async () => {
    const pool = await created(
      manifest('IPAddressPool', 'explicit-pool', { addresses: ['10.9.1.0/24'], autoAssign: false }),
    );
    expect(pool.autoAssign).toBe(false);
    const ad = await created(manifest('BGPAdvertisement', 'explicit-ad', { aggregationLength: 0 }));
    expect(ad.aggregationLength).toBe(0);
  });
});

describe('BGPPeer versions (conversion strategy None)', () => {
  const peer = manifest('BGPPeer', 'versions-peer', {
    myASN: 64500,
    dynamicASN: 'external',
    interface: 'eth1',
    connectTime: '10s',
  });
  afterEach(async () => {
    await remove(peer);
  });

  it('serves a v1beta2 peer through v1beta1 with the newer fields intact, also after a v1beta1 update', async () => {
    await apply(peer);
    const old = manifest('BGPPeer/v1beta1', 'versions-peer');
    const asV1beta1 = await getJson(old);
    expect(asV1beta1.apiVersion).toBe('metallb.io/v1beta1');
    expect(asV1beta1.spec).toMatchObject({ dynamicASN: 'external', interface: 'eth1', connectTime: '10s' });

    await env.kubectl([
      'label',
      'bgppeers.v1beta1.metallb.io',
      'versions-peer',
      '-n',
      beaconNs,
      'touched=yes',
    ]);
    const after = await getJson(peer);
    expect(after.spec).toMatchObject({ dynamicASN: 'external', interface: 'eth1', connectTime: '10s' });
  });
});

describe('values fixed at creation', () => {
  const objects: Manifest[] = [];
  afterEach(async () => {
    for (const m of objects.splice(0)) await remove(m);
  });

  it('lets enableGracefulRestart change on a BGPPeer (the speaker resets the session)', async () => {
    const spec = { myASN: 64500, peerASN: 64501, peerAddress: '10.9.2.1', enableGracefulRestart: true };
    const peer = manifest('BGPPeer', 'gr-peer', spec);
    objects.push(peer);
    await apply(peer);
    await apply({ ...peer, spec: { ...spec, enableGracefulRestart: false } });
    await apply({ ...peer, spec: { ...spec, enableGracefulRestart: undefined, holdTime: '30s' } });
  });

  it.each(['ServiceL2Status', 'ServiceBGPStatus'] as const)(
    'refuses to change or drop node, serviceName and serviceNamespace of a %s',
    async (kind) => {
      const status = manifest(kind, `immutable-${kind.toLowerCase()}`);
      objects.push(status);
      await apply(status);
      await patchStatus(status, {
        node: 'node-1',
        serviceName: 'myapp',
        serviceNamespace: 'default',
        ...(kind === 'ServiceL2Status' ? { interfaces: [{ name: 'eth0' }] } : { peers: ['peer-a'] }),
      });
      // What may change: the interfaces / peers.
      await patchStatus(
        status,
        kind === 'ServiceL2Status' ? { interfaces: [] } : { peers: ['peer-a', 'peer-b'] },
      );

      for (const [field, value] of [
        ['node', 'node-2'],
        ['serviceName', 'other'],
        ['serviceNamespace', 'other'],
      ] as const) {
        const changed = await refusal(patchStatus(status, { [field]: value }));
        expect(changed).toContain(`status.${field}`);
        expect(changed).toContain(`${field} is immutable`);
        const dropped = await refusal(patchStatus(status, { [field]: null }));
        expect(dropped).toContain(`status.${field}`);
      }
      expect((await getJson(status)).status).toMatchObject({ node: 'node-1', serviceName: 'myapp' });
    },
  );

  it('answers "is my peering up" in kubectl get bgpsessionstates, with node and peer immutable', async () => {
    const state = manifest('BGPSessionState', 'node-1-router');
    objects.push(state);
    await apply(state);
    await patchStatus(state, {
      node: 'node-1',
      peer: 'router (10.77.0.1)',
      bgpStatus: 'Established',
      bfdStatus: 'Up',
      prefixesSent: 3,
      lastTransitionTime: '2026-11-22T10:00:00Z',
    });
    const table = await env.kubectl(['get', 'bgpsessionstates', '-n', beaconNs]);
    const [header, row] = table.trimEnd().split('\n');
    expect(header?.split(/\s{2,}/)).toEqual(['NAME', 'NODE', 'PEER', 'BGP', 'BFD', 'PREFIXES', 'SINCE']);
    expect(row?.split(/\s{2,}/).slice(0, 6)).toEqual([
      'node-1-router',
      'node-1',
      'router (10.77.0.1)',
      'Established',
      'Up',
      '3',
    ]);
    expect(await refusal(patchStatus(state, { node: 'node-2' }))).toContain('node is immutable');
    expect(await refusal(patchStatus(state, { peer: null }))).toContain('status.peer');
  });
});

// One row per single-object rule: the write, and what kubectl's error must say (the field path,
// and the offending value where the message can carry it).
interface Row {
  rule: string;
  kind: Kind;
  spec: Record<string, unknown>;
  says: string[];
}

const peer = { myASN: 64500, peerASN: 64501, peerAddress: '10.0.0.1' };
const sel = (expr: Record<string, unknown>) => [{ matchExpressions: [expr] }];

const rows: Row[] = [
  // IPAddressPool
  {
    rule: 'pool range start after its end (IPv4)',
    kind: 'IPAddressPool',
    spec: { addresses: ['10.0.0.0/24', '10.0.0.9-10.0.0.1'] },
    says: ['spec.addresses[1]', '"10.0.0.9-10.0.0.1": range start is after its end'],
  },
  {
    rule: 'pool range start after its end (IPv6)',
    kind: 'IPAddressPool',
    spec: { addresses: ['fc00::1:0 - fc00::ff'] },
    says: ['spec.addresses[0]', '"fc00::1:0 - fc00::ff": range start is after its end'],
  },
  {
    rule: 'pool range across IP families',
    kind: 'IPAddressPool',
    spec: { addresses: ['10.0.0.1-fc00::1'] },
    says: ['spec.addresses[0]', '"10.0.0.1-fc00::1": range start and end are of different IP families'],
  },
  {
    rule: 'pool address that is neither CIDR nor range (bare IP)',
    kind: 'IPAddressPool',
    spec: { addresses: ['10.0.0.1'] },
    says: ['spec.addresses[0]', '"10.0.0.1": not a CIDR'],
  },
  {
    rule: 'pool CIDR with a prefix too long',
    kind: 'IPAddressPool',
    spec: { addresses: ['192.168.1.0/24', 'fc00::/129'] },
    says: ['spec.addresses[1]', '"fc00::/129": not a CIDR'],
  },
  {
    rule: 'pool range with a bound that is not an IP',
    kind: 'IPAddressPool',
    spec: { addresses: ['10.0.0.1-10.0.0.300'] },
    says: ['spec.addresses[0]', '"10.0.0.1-10.0.0.300": a range must be two IP addresses'],
  },
  {
    rule: 'pool without addresses',
    kind: 'IPAddressPool',
    spec: { addresses: [] },
    says: ['spec.addresses', 'at least 1 items'],
  },
  {
    rule: 'pool with addresses missing',
    kind: 'IPAddressPool',
    spec: { autoAssign: true },
    says: ['spec.addresses: Required value'],
  },
  {
    rule: 'pool autoAssign that is not a boolean',
    kind: 'IPAddressPool',
    spec: { addresses: ['10.0.0.0/24'], autoAssign: 'yes' },
    says: ['spec.autoAssign', 'boolean'],
  },
  {
    rule: 'pool serviceAllocation namespace listed twice',
    kind: 'IPAddressPool',
    spec: { addresses: ['10.0.0.0/24'], serviceAllocation: { namespaces: ['team-a', 'team-a'] } },
    says: ['spec.serviceAllocation.namespaces[1]', 'Duplicate value: "team-a"'],
  },
  {
    rule: 'pool serviceAllocation namespace that is not a namespace name',
    kind: 'IPAddressPool',
    spec: { addresses: ['10.0.0.0/24'], serviceAllocation: { namespaces: ['Team_A'] } },
    says: ['spec.serviceAllocation.namespaces[0]', '"Team_A"'],
  },
  {
    rule: 'pool serviceAllocation priority that is not an integer',
    kind: 'IPAddressPool',
    spec: { addresses: ['10.0.0.0/24'], serviceAllocation: { priority: 1.5 } },
    says: ['spec.serviceAllocation.priority', 'integer'],
  },
  {
    rule: 'label selector In without values',
    kind: 'IPAddressPool',
    spec: {
      addresses: ['10.0.0.0/24'],
      serviceAllocation: { serviceSelectors: sel({ key: 'app', operator: 'In' }) },
    },
    says: [
      'spec.serviceAllocation.serviceSelectors[0].matchExpressions[0]',
      'key "app": operator In needs at least one value',
    ],
  },
  {
    rule: 'label selector with an unknown operator',
    kind: 'IPAddressPool',
    spec: {
      addresses: ['10.0.0.0/24'],
      serviceAllocation: { namespaceSelectors: sel({ key: 'team', operator: 'Equals', values: ['a'] }) },
    },
    says: [
      'spec.serviceAllocation.namespaceSelectors[0].matchExpressions[0].operator',
      'Unsupported value: "Equals"',
    ],
  },
  // L2Advertisement
  {
    rule: 'L2 interface name with a space',
    kind: 'L2Advertisement',
    spec: { interfaces: ['eth0', 'eth 1'] },
    says: ['spec.interfaces[1]', '"eth 1"'],
  },
  {
    rule: 'L2 interface name longer than IFNAMSIZ',
    kind: 'L2Advertisement',
    spec: { interfaces: ['averyveryverylongname0'] },
    says: ['spec.interfaces[0]', 'Too long'],
  },
  {
    rule: 'L2 preferredNodeSelectors weight below 1',
    kind: 'L2Advertisement',
    spec: { preferredNodeSelectors: [{ weight: 0, preference: { matchLabels: { rack: 'r1' } } }] },
    says: ['spec.preferredNodeSelectors[0].weight', 'Invalid value: 0'],
  },
  {
    rule: 'L2 preferredNodeSelectors weight above 100',
    kind: 'L2Advertisement',
    spec: { preferredNodeSelectors: [{ weight: 101, preference: {} }] },
    says: ['spec.preferredNodeSelectors[0].weight', 'Invalid value: 101'],
  },
  {
    rule: 'L2 nodeSelectors Exists with values',
    kind: 'L2Advertisement',
    spec: { nodeSelectors: sel({ key: 'edge', operator: 'Exists', values: ['x'] }) },
    says: ['spec.nodeSelectors[0].matchExpressions[0]', 'key "edge": operator Exists takes no values'],
  },
  // BGPAdvertisement
  {
    rule: 'BGP aggregationLength above 32',
    kind: 'BGPAdvertisement',
    spec: { aggregationLength: 33 },
    says: ['spec.aggregationLength', 'Invalid value: 33'],
  },
  {
    rule: 'BGP aggregationLength below 0',
    kind: 'BGPAdvertisement',
    spec: { aggregationLength: -1 },
    says: ['spec.aggregationLength', 'Invalid value: -1'],
  },
  {
    rule: 'BGP aggregationLengthV6 above 128',
    kind: 'BGPAdvertisement',
    spec: { aggregationLengthV6: 129 },
    says: ['spec.aggregationLengthV6', 'Invalid value: 129'],
  },
  {
    rule: 'BGP localPref above 32 bits',
    kind: 'BGPAdvertisement',
    spec: { localPref: 4294967296 },
    says: ['spec.localPref', 'Invalid value: 4294967296'],
  },
  {
    rule: 'BGP standard community part above 16 bits',
    kind: 'BGPAdvertisement',
    spec: { communities: ['65535:65282', '65536:1'] },
    says: ['spec.communities[1]', '"65536:1": not a community'],
  },
  {
    rule: 'BGP large community part above 32 bits',
    kind: 'BGPAdvertisement',
    spec: { communities: ['large:1:2:4294967296'] },
    says: ['spec.communities[0]', '"large:1:2:4294967296": not a community'],
  },
  {
    rule: 'BGP community that is neither a community nor an alias',
    kind: 'BGPAdvertisement',
    spec: { communities: ['1234:'] },
    says: ['spec.communities[0]', '"1234:": not a community'],
  },
  {
    rule: 'BGP serviceSelectors with aggregation',
    kind: 'BGPAdvertisement',
    spec: { aggregationLength: 24, serviceSelectors: [{ matchLabels: { app: 'web' } }] },
    says: ['spec.serviceSelectors', 'default aggregationLength'],
  },
  // Community
  {
    rule: 'Community value that is not a community',
    kind: 'Community',
    spec: { communities: [{ name: 'odd', value: '1:2:3' }] },
    says: ['spec.communities[0].value', '"1:2:3": not a community'],
  },
  {
    rule: 'Community alias defined twice',
    kind: 'Community',
    spec: {
      communities: [
        { name: 'dup', value: '1:1' },
        { name: 'dup', value: '1:2' },
      ],
    },
    says: ['spec.communities[1]', 'Duplicate value', '"dup"'],
  },
  {
    rule: 'Community alias with a colon',
    kind: 'Community',
    spec: { communities: [{ name: 'a:b', value: '1:1' }] },
    says: ['spec.communities[0].name', '"a:b"'],
  },
  // BFDProfile
  {
    rule: 'BFD receiveInterval below 10 ms',
    kind: 'BFDProfile',
    spec: { receiveInterval: 5 },
    says: ['spec.receiveInterval', 'Invalid value: 5'],
  },
  {
    rule: 'BFD transmitInterval above 60000 ms',
    kind: 'BFDProfile',
    spec: { transmitInterval: 60001 },
    says: ['spec.transmitInterval', 'Invalid value: 60001'],
  },
  {
    rule: 'BFD echoInterval below 10 ms',
    kind: 'BFDProfile',
    spec: { echoInterval: 9 },
    says: ['spec.echoInterval', 'Invalid value: 9'],
  },
  {
    rule: 'BFD detectMultiplier below 2',
    kind: 'BFDProfile',
    spec: { detectMultiplier: 1 },
    says: ['spec.detectMultiplier', 'Invalid value: 1'],
  },
  {
    rule: 'BFD detectMultiplier above 255',
    kind: 'BFDProfile',
    spec: { detectMultiplier: 256 },
    says: ['spec.detectMultiplier', 'Invalid value: 256'],
  },
  {
    rule: 'BFD minimumTtl out of 1..254',
    kind: 'BFDProfile',
    spec: { minimumTtl: 255 },
    says: ['spec.minimumTtl', 'Invalid value: 255'],
  },
  // BGPPeer v1beta2
  {
    rule: 'peer without myASN',
    kind: 'BGPPeer',
    spec: { peerASN: 64501, peerAddress: '10.0.0.1' },
    says: ['spec.myASN: Required value'],
  },
  {
    rule: 'peer myASN above 32 bits',
    kind: 'BGPPeer',
    spec: { ...peer, myASN: 4294967296 },
    says: ['spec.myASN', 'Invalid value: 4294967296'],
  },
  {
    rule: 'peer peerASN below 0',
    kind: 'BGPPeer',
    spec: { ...peer, peerASN: -1 },
    says: ['spec.peerASN', 'Invalid value: -1'],
  },
  {
    rule: 'peer with both peerASN and dynamicASN',
    kind: 'BGPPeer',
    spec: { ...peer, dynamicASN: 'external' },
    says: ['spec.dynamicASN', 'peerASN and dynamicASN "external" are mutually exclusive'],
  },
  {
    rule: 'peer with neither peerASN nor dynamicASN',
    kind: 'BGPPeer',
    spec: { myASN: 64500, peerAddress: '10.0.0.1' },
    says: ['spec.peerASN', 'one of peerASN or dynamicASN'],
  },
  {
    rule: 'peer dynamicASN that is neither internal nor external',
    kind: 'BGPPeer',
    spec: { myASN: 64500, dynamicASN: 'both', peerAddress: '10.0.0.1' },
    says: ['spec.dynamicASN', 'Unsupported value: "both"'],
  },
  {
    rule: 'peer with both peerAddress and interface',
    kind: 'BGPPeer',
    spec: { ...peer, interface: 'eth1' },
    says: ['spec.interface', 'peerAddress "10.0.0.1" and interface "eth1" are mutually exclusive'],
  },
  {
    rule: 'peer with neither peerAddress nor interface',
    kind: 'BGPPeer',
    spec: { myASN: 64500, peerASN: 64501 },
    says: ['spec.peerAddress', 'one of peerAddress or interface'],
  },
  {
    rule: 'peer peerAddress that is not an IP',
    kind: 'BGPPeer',
    spec: { ...peer, peerAddress: '10.0.0.256' },
    says: ['spec.peerAddress', '"10.0.0.256": not an IP address'],
  },
  {
    rule: 'peer sourceAddress that is not an IP',
    kind: 'BGPPeer',
    spec: { ...peer, sourceAddress: 'fc00::g' },
    says: ['spec.sourceAddress', '"fc00::g": not an IP address'],
  },
  {
    rule: 'peer routerID that is not IPv4',
    kind: 'BGPPeer',
    spec: { ...peer, routerID: 'fc00::1' },
    says: ['spec.routerID', '"fc00::1": a router ID must be an IPv4 address'],
  },
  {
    rule: 'peer peerPort 0',
    kind: 'BGPPeer',
    spec: { ...peer, peerPort: 0 },
    says: ['spec.peerPort', 'Invalid value: 0'],
  },
  {
    rule: 'peer peerPort above 16384',
    kind: 'BGPPeer',
    spec: { ...peer, peerPort: 16385 },
    says: ['spec.peerPort', 'Invalid value: 16385'],
  },
  {
    rule: 'peer with both password and passwordSecret',
    kind: 'BGPPeer',
    spec: { ...peer, password: 'x', passwordSecret: { name: 'bgp-secret', namespace: beaconNs } },
    says: ['spec.passwordSecret', 'password and passwordSecret "bgp-secret" are mutually exclusive'],
  },
  {
    rule: 'peer password longer than TCP MD5 allows',
    kind: 'BGPPeer',
    spec: { ...peer, password: 'p'.repeat(81) },
    says: ['spec.password', 'Too long'],
  },
  {
    rule: 'peer holdTime between 0 and 3s',
    kind: 'BGPPeer',
    spec: { ...peer, holdTime: '2s' },
    says: ['spec.holdTime', '"2s": hold time must be 0 (no keepalives) or between 3s and 65535s'],
  },
  {
    rule: 'peer holdTime above 65535s',
    kind: 'BGPPeer',
    spec: { ...peer, holdTime: '65536s' },
    says: ['spec.holdTime', '"65536s": hold time must be'],
  },
  {
    rule: 'peer holdTime that is not a duration',
    kind: 'BGPPeer',
    spec: { ...peer, holdTime: '90' },
    says: ['spec.holdTime', '"90"', 'should match'],
  },
  {
    rule: 'peer keepaliveTime longer than holdTime',
    kind: 'BGPPeer',
    spec: { ...peer, holdTime: '30s', keepaliveTime: '1m' },
    says: ['spec.keepaliveTime', '"1m": keepaliveTime must not be longer than holdTime "30s"'],
  },
  {
    rule: 'peer keepaliveTime alone giving a hold time below 3s',
    kind: 'BGPPeer',
    spec: { ...peer, keepaliveTime: '500ms' },
    says: ['spec.keepaliveTime', '"500ms": without holdTime'],
  },
  {
    rule: 'peer connectTime below 1s',
    kind: 'BGPPeer',
    spec: { ...peer, connectTime: '0s' },
    says: ['spec.connectTime', '"0s": connect time must be between 1s and 65535s'],
  },
  {
    rule: 'peer connectTime above 65535s',
    kind: 'BGPPeer',
    spec: { ...peer, connectTime: '18h13m' },
    says: ['spec.connectTime', '"18h13m": connect time must be between 1s and 65535s'],
  },
  {
    rule: 'peer connectTime not in whole seconds',
    kind: 'BGPPeer',
    spec: { ...peer, connectTime: '1500ms' },
    says: ['spec.connectTime', '"1500ms": connect time must be a whole number of seconds'],
  },
  {
    rule: 'peer ebgpMultiHop on an iBGP session',
    kind: 'BGPPeer',
    spec: { ...peer, peerASN: 64500, ebgpMultiHop: true },
    says: ['spec.ebgpMultiHop', 'this peer is iBGP'],
  },
  // BGPPeer v1beta1 (MetalLB's deprecated version, its own required fields)
  {
    rule: 'v1beta1 peer without peerASN',
    kind: 'BGPPeer/v1beta1',
    spec: { myASN: 64500, peerAddress: '10.0.0.1' },
    says: ['spec.peerASN: Required value'],
  },
  {
    rule: 'v1beta1 peer without peerAddress',
    kind: 'BGPPeer/v1beta1',
    spec: { myASN: 64500, peerASN: 64501 },
    says: ['spec.peerAddress: Required value'],
  },
  {
    rule: 'v1beta1 peer node selector expression without values',
    kind: 'BGPPeer/v1beta1',
    spec: { ...peer, nodeSelectors: sel({ key: 'rack', operator: 'Exists' }) },
    says: ['spec.nodeSelectors[0].matchExpressions[0].values: Required value'],
  },
  {
    rule: 'v1beta1 peer keepaliveTime longer than holdTime',
    kind: 'BGPPeer/v1beta1',
    spec: { ...peer, holdTime: '9s', keepaliveTime: '10s' },
    says: ['spec.keepaliveTime', '"10s": keepaliveTime must not be longer than holdTime "9s"'],
  },
  {
    rule: 'v1beta1 peer routerID that is not an IP',
    kind: 'BGPPeer/v1beta1',
    spec: { ...peer, routerID: 'router-1' },
    says: ['spec.routerID', '"router-1": a router ID must be an IPv4 address'],
  },
];

describe('single-object rules, enforced without a webhook', () => {
  // Refused writes never create anything; a namespace of their own keeps any surprise away from
  // the configuration that other tests put in metallb-system.
  const ruleNs = `crd-rules-${Math.random().toString(36).slice(2, 8)}`;

  beforeAll(async () => {
    await env.kubectl(['create', 'namespace', ruleNs]);
  });

  afterAll(async () => {
    await env.kubectl(['delete', 'namespace', ruleNs, '--ignore-not-found', '--wait=false']);
  });

  it('accepts the edge cases next to those rules', async () => {
    const pool = manifest(
      'IPAddressPool',
      'edge-cases',
      {
        addresses: [
          '10.0.0.5-10.0.0.5',
          'fc00::ff - fc00::1:0',
          '::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
          '7fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff-8000::',
          '0.0.0.0-255.255.255.255',
          '10.0.0.1/32',
          'fc00::1/128',
        ],
      },
      ruleNs,
    );
    const edgePeer = manifest(
      'BGPPeer',
      'edge-cases',
      { ...peer, holdTime: '0', keepaliveTime: '0s', connectTime: '65535s' },
      ruleNs,
    );
    try {
      await apply(pool);
      await apply(edgePeer);
    } finally {
      await remove(pool);
      await remove(edgePeer);
    }
  });

  it('has a row for at least 35 rules', () => {
    expect(rows.length).toBeGreaterThanOrEqual(35);
    expect(new Set(rows.map((r) => r.rule)).size).toBe(rows.length);
  });

  it.each(rows.map((r, i) => [r.rule, r, i] as const))('refuses %s', async (_rule, row, i) => {
    const m = manifest(row.kind, `bad-${i}`, row.spec, ruleNs);
    try {
      const err = await refusal(apply(m));
      expect(err).toContain(`${m.kind} "bad-${i}" is invalid`);
      for (const part of row.says) expect(err).toContain(part);
    } finally {
      await remove(m);
    }
  });
});
