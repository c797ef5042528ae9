import { ControlPlaneConfigError, parseConfigFile, parseDuration, resolveConfig } from './config.js';

describe('control-plane configuration', () => {
  it('takes flags over the file over the defaults', () => {
    const file = parseConfigFile(
      'vip: [10.0.0.100, "fd00::100"]\nport: 7443\npeers:\n  - {name: cp2, address: 10.0.0.12}\n  - cp3=10.0.0.13\n',
      'f.yaml',
    );
    const { config, problems } = resolveConfig({ port: '6443', 'key-file': '/k' }, file, 'cp1');
    expect(problems).toEqual([]);
    expect(config.node).toBe('cp1');
    expect(config.vips).toEqual(['10.0.0.100', 'fd00::100']);
    expect(config.port).toBe(6443);
    expect(config.peers).toEqual([
      { name: 'cp2', address: '10.0.0.12' },
      { name: 'cp3', address: '10.0.0.13' },
    ]);
    expect(config.mode).toBe('l2');
    expect(config.membershipPort).toBe(7947);
    expect(config.health).toEqual({
      url: 'https://127.0.0.1:6443',
      intervalMs: 200,
      timeoutMs: 500,
      timeoutMinMs: 100,
      fall: 2,
      rise: 2,
    });
  });

  it('reads JSON files too', () => {
    expect(parseConfigFile('{"vip": "10.0.0.1", "mode": "bgp"}', 'f.json')).toEqual({
      vip: '10.0.0.1',
      mode: 'bgp',
    });
  });

  it('drops a VIP that does not parse, naming the flag and value, and keeps the others', () => {
    const { config, problems } = resolveConfig({ vip: '10.0.0.100,10.0.0.300', 'key-file': '/k' }, {}, 'cp1');
    expect(config.vips).toEqual(['10.0.0.100']);
    expect(problems).toEqual([
      { flag: 'vip', value: '10.0.0.300', message: expect.stringContaining('not an IP') },
    ]);
  });

  it('leaves this node out of its own peers', () => {
    const { config } = resolveConfig({ vip: '10.0.0.1', peers: 'cp1=10.0.0.11,cp2=10.0.0.12' }, {}, 'cp1');
    expect(config.peers.map((p) => p.name)).toEqual(['cp2']);
  });

  it('says that nothing is answered without a key file', () => {
    const { problems } = resolveConfig({ vip: '10.0.0.1' }, {}, 'cp1');
    expect(problems).toEqual([
      { flag: 'key-file', value: '', message: expect.stringContaining('no membership key') },
    ]);
  });

  it.each([
    [{ mode: 'vrrp' }, '--mode "vrrp"'],
    [{ port: '70000' }, '--port "70000"'],
    [{ 'health-url': 'http://127.0.0.1:6443' }, '--health-url "http://127.0.0.1:6443"'],
    [{ 'health-url': 'not a url' }, '--health-url "not a url"'],
    [{ 'health-interval': 'soon' }, '--health-interval "soon"'],
    [{ 'health-timeout-min': '800ms' }, '--health-timeout-min "800ms"'],
    [{ peers: 'cp2=nowhere' }, '--peers "cp2=nowhere"'],
    [{ peers: 'cp2=10.0.0.2,cp2=10.0.0.3' }, '--peers "cp2=10.0.0.3"'],
  ])('refuses %j naming the flag and value', (flags, named) => {
    expect(() => resolveConfig({ vip: '10.0.0.1', ...flags }, {}, 'cp1')).toThrow(ControlPlaneConfigError);
    expect(() => resolveConfig({ vip: '10.0.0.1', ...flags }, {}, 'cp1')).toThrow(named);
  });

  it('refuses unknown keys and non-mappings in a file', () => {
    expect(() => parseConfigFile('vips: 10.0.0.1', 'f.yaml')).toThrow('unknown key "vips"');
    expect(() => parseConfigFile('- 10.0.0.1', 'f.yaml')).toThrow('want a mapping');
    expect(() => parseConfigFile('vip: [', 'f.yaml')).toThrow('not YAML or JSON');
  });

  it('parses durations', () => {
    expect(parseDuration('200ms')).toBe(200);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseDuration('150')).toBe(150);
    expect(parseDuration('1m')).toBeUndefined();
  });
});
