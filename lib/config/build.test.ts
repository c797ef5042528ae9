import { buildConfig, parseCommunity, type ConfigInput } from './build.js';
import { problemText } from './types.js';

const ns = 'metallb-system';
let clock = 0;
function obj(
  kind: string,
  name: string,
  spec: object,
  extra: { labels?: Record<string, string>; namespace?: string } = {},
) {
  clock++;
  return {
    apiVersion: 'metallb.io/v1beta1',
    kind,
    metadata: {
      name,
      namespace: extra.namespace ?? ns,
      labels: extra.labels ?? {},
      creationTimestamp: `2026-11-22T00:00:${String(clock).padStart(2, '0')}Z`,
    },
    spec,
  };
}
const pool = (name: string, addresses: string[], more: object = {}, labels?: Record<string, string>) =>
  obj('IPAddressPool', name, { addresses, ...more }, labels ? { labels } : {});

function input(parts: Partial<ConfigInput>): ConfigInput {
  return {
    namespace: ns,
    pools: [],
    l2Advertisements: [],
    bgpAdvertisements: [],
    peers: [],
    communities: [],
    bfdProfiles: [],
    secrets: [],
    ...parts,
  };
}

describe('buildConfig: pools', () => {
  it('accepts the layer 2 example with MetalLB defaults', () => {
    const c = buildConfig(
      input({
        pools: [pool('first-pool', ['192.168.10.200-192.168.10.250'])],
        l2Advertisements: [obj('L2Advertisement', 'example', { ipAddressPools: ['first-pool'] })],
      }),
    );
    expect(c.problems).toEqual([]);
    const p = c.pools.get('first-pool')!;
    expect(p).toMatchObject({
      autoAssign: true,
      avoidBuggyIPs: false,
      addresses: ['192.168.10.200-192.168.10.250'],
    });
    expect(p.ranges[0]).toEqual({ family: 4, first: 0xc0a80ac8n, last: 0xc0a80afan });
    expect(c.l2Advertisements[0]?.pools).toEqual(['first-pool']);
  });

  it('disables a pool with an unparsable address and names object, field and value', () => {
    const c = buildConfig(
      input({ pools: [pool('bad', ['10.0.0.0/24', '10.0.0.9-10.0.0.1']), pool('good', ['10.1.0.0/24'])] }),
    );
    expect([...c.pools.keys()]).toEqual(['good']);
    expect(c.problems.map(problemText)).toEqual([
      'IPAddressPool metallb-system/bad: spec.addresses[1] "10.0.0.9-10.0.0.1": range start is after its end',
    ]);
  });

  it('keeps the older of two overlapping pools, disables the newer, and names both on both', () => {
    const older = pool('older', ['10.0.0.0/24']);
    const newer = pool('newer2', ['10.2.0.0/24', '10.0.0.100-10.0.0.110']);
    const c2 = buildConfig(input({ pools: [newer, older, pool('other', ['10.3.0.0/24'])] }));
    expect([...c2.pools.keys()].sort()).toEqual(['older', 'other']);
    const errors = c2.problems.filter((p) => p.severity === 'error');
    expect(errors.map(problemText)).toEqual([
      'IPAddressPool metallb-system/newer2: spec.addresses[1] "10.0.0.100-10.0.0.110": overlaps 10.0.0.0/24 of IPAddressPool metallb-system/older, which is older and stays in force; pools must not overlap',
    ]);
    expect(errors[0]?.related).toEqual([{ kind: 'IPAddressPool', namespace: ns, name: 'older' }]);
    const warning = c2.problems.find((p) => p.severity === 'warning');
    expect(warning?.ref.name).toBe('older');
    expect(warning?.message).toContain('newer2');
  });

  it('detects overlap between an IPv6 CIDR and an IPv6 range, but not across families', () => {
    const c = buildConfig(
      input({
        pools: [pool('v6', ['fd00::/120']), pool('v4', ['10.0.0.0/24']), pool('v6b', ['fd00::10-fd00::20'])],
      }),
    );
    expect([...c.pools.keys()].sort()).toEqual(['v4', 'v6']);
  });

  it('warns when host bits are set and uses the network', () => {
    const c = buildConfig(input({ pools: [pool('p', ['10.0.0.5/24'])] }));
    expect(c.pools.has('p')).toBe(true);
    expect(c.problems[0]).toMatchObject({
      severity: 'warning',
      field: 'spec.addresses[0]',
      value: '10.0.0.5/24',
    });
  });

  it('ignores objects outside the configured namespace', () => {
    const c = buildConfig(
      input({
        pools: [obj('IPAddressPool', 'elsewhere', { addresses: ['10.0.0.0/24'] }, { namespace: 'default' })],
      }),
    );
    expect(c.pools.size).toBe(0);
  });

  it('reads serviceAllocation and rejects a malformed selector', () => {
    const c = buildConfig(
      input({
        pools: [
          pool('a', ['10.0.0.0/24'], { serviceAllocation: { priority: 5, namespaces: ['team-a'] } }),
          pool('b', ['10.0.1.0/24'], {
            serviceAllocation: {
              serviceSelectors: [{ matchExpressions: [{ key: 'x', operator: 'Sometimes', values: [] }] }],
            },
          }),
        ],
      }),
    );
    expect(c.pools.get('a')?.serviceAllocation).toMatchObject({ priority: 5, namespaces: ['team-a'] });
    expect(c.pools.has('b')).toBe(false);
    expect(c.problems[0]?.field).toBe('spec.serviceAllocation.serviceSelectors[0]');
  });
});

describe('buildConfig: advertisements', () => {
  const pools = [pool('a', ['10.0.0.0/24'], {}, { tier: 'web' }), pool('b', ['10.0.1.0/24'])];

  it('applies an advertisement with no pool list to every pool, and selects pools by label', () => {
    const c = buildConfig(
      input({
        pools,
        l2Advertisements: [
          obj('L2Advertisement', 'all', {}),
          obj('L2Advertisement', 'web', { ipAddressPoolSelectors: [{ matchLabels: { tier: 'web' } }] }),
        ],
      }),
    );
    expect(c.l2Advertisements.map((a) => a.pools)).toEqual([['a', 'b'], ['a']]);
  });

  it('keeps advertising the pools that exist when one named pool is missing, with a warning', () => {
    const c = buildConfig(
      input({ pools, l2Advertisements: [obj('L2Advertisement', 'ad', { ipAddressPools: ['a', 'typo'] })] }),
    );
    expect(c.l2Advertisements[0]?.pools).toEqual(['a']);
    expect(c.problems.map(problemText)).toEqual([
      'L2Advertisement metallb-system/ad: spec.ipAddressPools[1] "typo": there is no IPAddressPool metallb-system/typo',
    ]);
  });

  it('resolves community aliases and literal communities', () => {
    const c = buildConfig(
      input({
        pools,
        communities: [
          obj('Community', 'aliases', { communities: [{ name: 'no-export', value: '65535:65281' }] }),
        ],
        bgpAdvertisements: [
          obj('BGPAdvertisement', 'ad', { communities: ['no-export', '64512:7', 'large:64512:1:2'] }),
        ],
      }),
    );
    expect(c.problems).toEqual([]);
    expect(c.bgpAdvertisements[0]?.communities).toEqual([
      { kind: 'standard', value: 65535 * 65536 + 65281 },
      { kind: 'standard', value: 64512 * 65536 + 7 },
      { kind: 'large', global: 64512, local1: 1, local2: 2 },
    ]);
    expect(c.bgpAdvertisements[0]).toMatchObject({ aggregationLength: 32, aggregationLengthV6: 128 });
  });

  it('disables a BGP advertisement whose aggregation is shorter than a block of its pool, naming both', () => {
    const c = buildConfig(
      input({
        pools: [pool('small', ['10.9.0.1-10.9.0.9', 'fd00::/120'])],
        bgpAdvertisements: [
          obj('BGPAdvertisement', 'wide', { ipAddressPools: ['small'], aggregationLength: 29 }),
          obj('BGPAdvertisement', 'wide6', { ipAddressPools: ['small'], aggregationLengthV6: 112 }),
          obj('BGPAdvertisement', 'fits', { ipAddressPools: ['small'], aggregationLength: 30 }),
        ],
      }),
    );
    expect(c.bgpAdvertisements.map((a) => a.ref.name)).toEqual(['fits']);
    expect(c.problems.map(problemText)).toEqual([
      'BGPAdvertisement metallb-system/wide: spec.aggregationLength "29": IPAddressPool metallb-system/small holds 10.9.0.4/30, more specific than a /29: the aggregate would announce addresses outside the pool; use aggregationLength 30 or more',
      'BGPAdvertisement metallb-system/wide6: spec.aggregationLengthV6 "112": IPAddressPool metallb-system/small holds fd00::/120, more specific than a /112: the aggregate would announce addresses outside the pool; use aggregationLengthV6 120 or more',
    ]);
    expect(c.problems[0]?.related).toEqual([{ kind: 'IPAddressPool', namespace: ns, name: 'small' }]);
  });

  it('disables a BGP advertisement whose community alias does not exist', () => {
    const c = buildConfig(
      input({ pools, bgpAdvertisements: [obj('BGPAdvertisement', 'ad', { communities: ['nope'] })] }),
    );
    expect(c.bgpAdvertisements).toEqual([]);
    expect(problemText(c.problems[0]!)).toBe(
      'BGPAdvertisement metallb-system/ad: spec.communities[0] "nope": no Community object defines the alias "nope"',
    );
  });

  it('refuses a duplicate alias in a newer Community object, keeping the older', () => {
    const c = buildConfig(
      input({
        pools,
        communities: [
          obj('Community', 'first', { communities: [{ name: 'x', value: '1:1' }] }),
          obj('Community', 'second', { communities: [{ name: 'x', value: '2:2' }] }),
        ],
        bgpAdvertisements: [obj('BGPAdvertisement', 'ad', { communities: ['x'] })],
      }),
    );
    expect(c.bgpAdvertisements[0]?.communities).toEqual([{ kind: 'standard', value: 65537 }]);
    expect(c.problems[0]).toMatchObject({ ref: { name: 'second' }, related: [{ name: 'first' }] });
  });

  it('disables the newer of two advertisements giving one pool different localPref, naming both', () => {
    const c = buildConfig(
      input({
        pools,
        bgpAdvertisements: [
          obj('BGPAdvertisement', 'first', { ipAddressPools: ['a'], localPref: 100 }),
          obj('BGPAdvertisement', 'second', { ipAddressPools: ['a', 'b'], localPref: 200 }),
          obj('BGPAdvertisement', 'third', { ipAddressPools: ['b'], localPref: 300 }),
        ],
      }),
    );
    expect(c.bgpAdvertisements.map((a) => a.ref.name)).toEqual(['first', 'third']);
    expect(problemText(c.problems[0]!)).toBe(
      'BGPAdvertisement metallb-system/second: spec.localPref "200": conflicts with localPref 100 of BGPAdvertisement metallb-system/first, which gives the same routes of pool a to the same peers from the same nodes; give them different aggregation lengths, peers or nodeSelectors',
    );
    expect(c.problems[0]?.related).toEqual([{ kind: 'BGPAdvertisement', namespace: ns, name: 'first' }]);
  });

  it('keeps advertisements of one pool with different localPref when they give different routes', () => {
    const zone = (z: string) => [{ matchLabels: { zone: z } }];
    const c = buildConfig(
      input({
        pools: [pool('v4', ['10.1.0.0/24']), pool('dual', ['10.2.0.0/24', 'fd00:2::/120'])],
        bgpAdvertisements: [
          // A /32 and a /24 aggregate of the same pool are two different prefixes.
          obj('BGPAdvertisement', 'host', { ipAddressPools: ['v4'], localPref: 100 }),
          obj('BGPAdvertisement', 'aggregate', {
            ipAddressPools: ['v4'],
            localPref: 200,
            aggregationLength: 24,
          }),
          // Nodes of zone a and nodes of zone b: no node gives both.
          obj('BGPAdvertisement', 'zone-a', {
            ipAddressPools: ['dual'],
            localPref: 100,
            nodeSelectors: zone('a'),
          }),
          obj('BGPAdvertisement', 'zone-b', {
            ipAddressPools: ['dual'],
            localPref: 300,
            nodeSelectors: zone('b'),
          }),
          // Both families' lengths differ: different routes in each family.
          obj('BGPAdvertisement', 'dual-aggregate', {
            ipAddressPools: ['dual'],
            localPref: 400,
            aggregationLength: 24,
            aggregationLengthV6: 120,
          }),
        ],
      }),
    );
    expect(c.problems).toEqual([]);
    expect(c.bgpAdvertisements.map((a) => a.ref.name)).toEqual([
      'host',
      'aggregate',
      'zone-a',
      'zone-b',
      'dual-aggregate',
    ]);
  });

  it('refuses different localPref when only one family of a dual-stack pool gets another length', () => {
    const c = buildConfig(
      input({
        pools: [pool('dual', ['10.2.0.0/24', 'fd00:2::/120'])],
        bgpAdvertisements: [
          obj('BGPAdvertisement', 'host', { ipAddressPools: ['dual'], localPref: 100 }),
          obj('BGPAdvertisement', 'v4-only', {
            ipAddressPools: ['dual'],
            localPref: 200,
            aggregationLength: 24,
          }),
        ],
      }),
    );
    expect(c.bgpAdvertisements.map((a) => a.ref.name)).toEqual(['host']);
    expect(c.problems.map((p) => [p.ref.name, p.field, p.value])).toEqual([
      ['v4-only', 'spec.localPref', '200'],
    ]);
  });

  it.each([
    [
      'a pool named twice',
      { ipAddressPools: ['a', 'b', 'a'] },
      'spec.ipAddressPools[2] "a": repeats spec.ipAddressPools[0]; list each entry once',
    ],
    [
      'a community given twice',
      { communities: ['64512:1', '64512:1'] },
      'spec.communities[1] "64512:1": repeats spec.communities[0]; list each entry once',
    ],
    [
      'a peer named twice',
      { peers: ['p', 'p'] },
      'spec.peers[1] "p": repeats spec.peers[0]; list each entry once',
    ],
    [
      'a node selector given twice, in another order',
      {
        nodeSelectors: [{ matchLabels: { zone: 'a', rack: '1' } }, { matchLabels: { rack: '1', zone: 'a' } }],
      },
      'spec.nodeSelectors[1] "{rack=1, zone=a}": repeats spec.nodeSelectors[0]; list each selector once',
    ],
    [
      'a value twice in a node selector',
      { nodeSelectors: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a', 'b', 'a'] }] }] },
      'spec.nodeSelectors[0].matchExpressions[0].values[2] "a": repeats spec.nodeSelectors[0].matchExpressions[0].values[0]; list each entry once',
    ],
    [
      'a pool selector given twice',
      { ipAddressPoolSelectors: [{ matchLabels: { tier: 'x' } }, { matchLabels: { tier: 'x' } }] },
      'spec.ipAddressPoolSelectors[1] "{tier=x}": repeats spec.ipAddressPoolSelectors[0]; list each selector once',
    ],
  ])('disables a BGP advertisement with %s, as MetalLB does', (_what, spec, text) => {
    const c = buildConfig(
      input({
        pools,
        peers: [obj('BGPPeer', 'p', { myASN: 64512, peerASN: 64500, peerAddress: '10.77.0.1' })],
        bgpAdvertisements: [obj('BGPAdvertisement', 'dup', spec), obj('BGPAdvertisement', 'fine', {})],
      }),
    );
    expect(c.bgpAdvertisements.map((a) => a.ref.name)).toEqual(['fine']);
    expect(c.problems.map(problemText)).toEqual([`BGPAdvertisement metallb-system/dup: ${text}`]);
  });

  it('disables an L2 advertisement, a pool and a peer with repeated entries', () => {
    const c = buildConfig(
      input({
        pools: [
          ...pools,
          pool('twice', ['10.99.0.0/24'], { serviceAllocation: { namespaces: ['web', 'web'] } }),
        ],
        l2Advertisements: [
          obj('L2Advertisement', 'l2', {
            ipAddressPools: ['a'],
            nodeSelectors: [{ matchLabels: { x: '1' } }, { matchLabels: { x: '1' } }],
          }),
        ],
        peers: [
          obj('BGPPeer', 'peer', {
            myASN: 64512,
            peerASN: 64500,
            peerAddress: '10.77.0.1',
            nodeSelectors: [
              {
                matchExpressions: [
                  { key: 'k', operator: 'Exists' },
                  { key: 'k', operator: 'Exists' },
                ],
              },
            ],
          }),
        ],
      }),
    );
    expect(c.pools.has('twice')).toBe(false);
    expect(c.l2Advertisements).toEqual([]);
    expect(c.peers.size).toBe(0);
    expect(c.problems.map(problemText).sort()).toEqual([
      'BGPPeer metallb-system/peer: spec.nodeSelectors[0].matchExpressions[1] "k Exists ()": repeats spec.nodeSelectors[0].matchExpressions[0]; list each requirement once',
      'IPAddressPool metallb-system/twice: spec.serviceAllocation.namespaces[1] "web": repeats spec.serviceAllocation.namespaces[0]; list each entry once',
      'L2Advertisement metallb-system/l2: spec.nodeSelectors[1] "{x=1}": repeats spec.nodeSelectors[0]; list each selector once',
    ]);
  });

  it('accepts a service selector given twice, which MetalLB accepts too', () => {
    const twice = [{ matchLabels: { app: 'x' } }, { matchLabels: { app: 'x' } }];
    const c = buildConfig(
      input({
        pools,
        l2Advertisements: [obj('L2Advertisement', 'l2', { serviceSelectors: twice })],
        bgpAdvertisements: [obj('BGPAdvertisement', 'bgp', { serviceSelectors: twice })],
      }),
    );
    expect(c.problems).toEqual([]);
    expect(c.l2Advertisements).toHaveLength(1);
    expect(c.bgpAdvertisements).toHaveLength(1);
  });
});

describe('buildConfig: peers', () => {
  const peer = (name: string, spec: object) =>
    obj('BGPPeer', name, { myASN: 64512, peerASN: 64500, peerAddress: '10.77.0.1', ...spec });

  it('parses durations and defaults', () => {
    const c = buildConfig(input({ peers: [peer('p', { holdTime: '1m30s', keepaliveTime: '30s' })] }));
    expect(c.peers.get('p')).toMatchObject({
      holdTime: 90,
      keepaliveTime: 30,
      peerPort: 179,
      enableGracefulRestart: false,
    });
  });

  it('reads peerASN 0 as unset, so dynamicASN decides the peer AS', () => {
    const c = buildConfig(input({ peers: [peer('p', { peerASN: 0, dynamicASN: 'external' })] }));
    expect(c.problems).toEqual([]);
    expect(c.peers.get('p')?.peerASN).toBeUndefined();
    expect(c.peers.get('p')?.dynamicASN).toBe('external');
    const none = buildConfig(input({ peers: [peer('p', { peerASN: 0 })] }));
    expect(none.peers.has('p')).toBe(false);
    expect(none.problems.map(problemText)[0]).toContain('one of peerASN and dynamicASN is required');
  });

  it('reads a zero hold or keepalive time written through v1beta1 as unset, and keeps a v1beta2 one', () => {
    const managed = (apiVersion: string) => ({
      managedFields: [
        {
          manager: 'client',
          operation: 'Update',
          apiVersion,
          time: '2026-01-01T00:00:00Z',
          fieldsType: 'FieldsV1',
          fieldsV1: { 'f:spec': { 'f:holdTime': {}, 'f:keepaliveTime': {}, 'f:myASN': {} } },
        },
      ],
    });
    const withMeta = (apiVersion: string) => {
      const o = peer('p', { holdTime: '0s', keepaliveTime: '0s' }) as { metadata: object };
      return { ...o, metadata: { ...o.metadata, ...managed(apiVersion) } };
    };
    const v1 = buildConfig(input({ peers: [withMeta('metallb.io/v1beta1')] })).peers.get('p');
    expect(v1?.holdTime).toBeUndefined();
    expect(v1?.keepaliveTime).toBeUndefined();
    const v2 = buildConfig(input({ peers: [withMeta('metallb.io/v1beta2')] })).peers.get('p');
    expect(v2?.holdTime).toBe(0);
  });

  it('resolves a password Secret and a BFD profile', () => {
    const c = buildConfig(
      input({
        peers: [peer('p', { passwordSecret: { name: 'bgp-auth', namespace: ns }, bfdProfile: 'fast' })],
        bfdProfiles: [obj('BFDProfile', 'fast', { receiveInterval: 100, transmitInterval: 100 })],
        secrets: [
          {
            metadata: { name: 'bgp-auth', namespace: ns },
            type: 'kubernetes.io/basic-auth',
            data: { password: Buffer.from('s3cret').toString('base64') },
          },
        ],
      }),
    );
    expect(c.problems).toEqual([]);
    expect(c.peers.get('p')).toMatchObject({
      password: 's3cret',
      bfdProfile: { receiveInterval: 100, detectMultiplier: 3 },
    });
  });

  it.each([
    [
      { bfdProfile: 'missing' },
      'BGPPeer metallb-system/p: spec.bfdProfile "missing": there is no BFDProfile metallb-system/missing',
    ],
    [
      { passwordSecret: { name: 'nope' } },
      'BGPPeer metallb-system/p: spec.passwordSecret.name "nope": there is no Secret metallb-system/nope',
    ],
    [
      { passwordSecret: { name: 'opaque' } },
      'BGPPeer metallb-system/p: spec.passwordSecret.name "opaque": Secret metallb-system/opaque is of type "Opaque"; a BGP password Secret must be of type kubernetes.io/basic-auth',
    ],
    [
      { passwordSecret: { name: 'opaque', namespace: 'tenant-a' } },
      'BGPPeer metallb-system/p: spec.passwordSecret.namespace "tenant-a": a BGP password Secret must be in the BGPPeer\'s namespace metallb-system',
    ],
    [
      { vrf: 'red' },
      'BGPPeer metallb-system/p: spec.vrf "red": vrf is not supported by Beacon\'s BGP speaker',
    ],
    [
      { holdTime: '2s' },
      'BGPPeer metallb-system/p: spec.holdTime "2s": must be 0 or at least 3s (RFC 4271 §4.2)',
    ],
    [
      { holdTime: 'soon' },
      'BGPPeer metallb-system/p: spec.holdTime "soon": not a duration (e.g. "90s", "1m30s")',
    ],
    [
      { peerAddress: '10.77.0.300' },
      'BGPPeer metallb-system/p: spec.peerAddress "10.77.0.300": not an IP address',
    ],
  ])('disables a peer with %j and says why', (spec, text) => {
    const opaque = {
      metadata: { name: 'opaque', namespace: ns },
      type: 'Opaque',
      data: { password: Buffer.from('s3cret').toString('base64') },
    };
    const c = buildConfig(
      input({ peers: [peer('p', spec), peer('ok', { peerAddress: '10.77.0.2' })], secrets: [opaque] }),
    );
    expect([...c.peers.keys()]).toEqual(['ok']);
    expect(c.problems.map(problemText)).toEqual([text]);
  });

  it('does not report a password Secret it is not allowed to read (the controller)', () => {
    const c = buildConfig({
      ...input({ peers: [peer('p', { passwordSecret: { name: 's' } })] }),
      secrets: undefined,
    });
    expect(c.problems).toEqual([]);
    expect(c.peers.has('p')).toBe(true);
  });
});

describe('parseCommunity', () => {
  it.each([
    ['65000:100', { kind: 'standard', value: 65000 * 65536 + 100 }],
    ['large:4200000000:1:2', { kind: 'large', global: 4200000000, local1: 1, local2: 2 }],
    ['65536:1', undefined],
    ['large:1:2', undefined],
    ['abc', undefined],
  ])('%s', (text, want) => expect(parseCommunity(text)).toEqual(want));
});
