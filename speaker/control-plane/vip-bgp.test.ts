import { resolveConfig } from './config.js';
import { routerSessions, vipRoutes } from './vip-bgp.js';

describe('control-plane VIP in BGP mode', () => {
  const { config } = resolveConfig(
    {
      vip: '10.77.100.50,fd00:77::100:50',
      mode: 'bgp',
      'bgp-asn': '64512',
      'bgp-routers': '10.77.0.1:64500,[fd00:77::1]:64500:1179',
      'bgp-bfd': '100msx3',
      'key-file': '/k',
    },
    {},
    'cp1',
  );

  it('announces every VIP as a host route while a candidate, nothing otherwise', () => {
    expect(vipRoutes(config.vips, true)).toEqual([
      { prefix: '10.77.100.50/32' },
      { prefix: 'fd00:77::100:50/128' },
    ]);
    expect(vipRoutes(config.vips, false)).toEqual([]);
  });

  it('has one session per router, with BFD when asked', () => {
    const specs = routerSessions(config.bgp!, '10.77.0.11');
    expect(specs.map((s) => [s.peerAddress, s.peerAsn, s.port, s.localAsn, s.holdTime, s.routerId])).toEqual([
      ['10.77.0.1', 64500, 179, 64512, 3, '10.77.0.11'],
      ['fd00:77::1', 64500, 1179, 64512, 3, '10.77.0.11'],
    ]);
    expect(specs[0]?.bfdProfile).toMatchObject({
      receiveInterval: 100,
      transmitInterval: 100,
      detectMultiplier: 3,
    });
  });

  it.each([
    [{ 'bgp-routers': '10.77.0.1:64500' }, '--bgp-asn ""'],
    [{ 'bgp-asn': '64512' }, '--bgp-routers ""'],
    [{ 'bgp-asn': '64512', 'bgp-routers': 'router:64500' }, '--bgp-routers "router:64500"'],
    [{ 'bgp-asn': '64512', 'bgp-routers': '10.77.0.1:64500', 'bgp-bfd': 'fast' }, '--bgp-bfd "fast"'],
  ])('refuses %j naming the flag and value', (flags, named) => {
    expect(() => resolveConfig({ vip: '10.77.100.50', mode: 'bgp', ...flags }, {}, 'cp1')).toThrow(named);
  });
});
