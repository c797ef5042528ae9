import { type InterfaceSnapshot, eligibleInterfaces, interfacesForIp, sameSnapshot } from './interfaces.js';
import { testLink } from '../../../test/support/links.js';

const link = testLink;

const snapshot: InterfaceSnapshot = {
  links: [
    link(1, 'lo', { broadcast: false }),
    link(2, 'eth0'),
    link(3, 'eth1'),
    link(4, 'eth2', { up: false }),
    link(5, 'bond-member', { master: 9 }),
    link(6, 'kube-ipvs0', { noarp: true }),
    link(7, 'docker0'),
    link(8, 'wg0', { broadcast: false, noarp: true }),
    link(10, 'tun0', { broadcast: false }),
  ],
  addresses: [
    { index: 1, family: 4, address: '127.0.0.1', prefixLength: 8 },
    { index: 2, family: 4, address: '10.77.0.11', prefixLength: 24 },
    { index: 2, family: 6, address: 'fe80::77:ff:fe00:11', prefixLength: 64 },
    { index: 2, family: 6, address: 'fd00:77::11', prefixLength: 64 },
    { index: 3, family: 4, address: '192.168.10.11', prefixLength: 24 },
    { index: 3, family: 6, address: 'fe80::1', prefixLength: 64 },
    { index: 7, family: 4, address: '172.17.0.1', prefixLength: 16 },
    { index: 10, family: 6, address: 'fe80::10', prefixLength: 64 },
  ],
};

const names = (list: { name: string }[]): string[] => list.map((i) => i.name);

describe('eligible interfaces', () => {
  it('keeps up, unenslaved, ARP-capable interfaces and drops excluded names', () => {
    expect(names(eligibleInterfaces(snapshot))).toEqual(['eth0', 'eth1', 'tun0']);
  });

  it('marks ARP on broadcast links and NDP on links with an IPv6 link-local address', () => {
    const byName = new Map(eligibleInterfaces(snapshot).map((i) => [i.name, i]));
    expect(byName.get('eth0')).toMatchObject({ arp: true, linkLocal: 'fe80::77:ff:fe00:11' });
    expect(byName.get('tun0')).toMatchObject({ arp: false, linkLocal: 'fe80::10' });
  });

  it('uses the configured exclusions instead of the defaults', () => {
    expect(names(eligibleInterfaces(snapshot, { exclude: [/^eth/] }))).toEqual(['docker0', 'tun0']);
  });
});

describe('interfaces for a Service IP', () => {
  it('prefers the interface whose subnet holds the IP', () => {
    expect(names(interfacesForIp(snapshot, '192.168.10.222'))).toEqual(['eth1']);
    expect(names(interfacesForIp(snapshot, '10.77.0.200'))).toEqual(['eth0']);
    expect(names(interfacesForIp(snapshot, 'fd00:77::200:10'))).toEqual(['eth0']);
  });

  it('answers on every ARP-capable interface when no subnet matches', () => {
    expect(names(interfacesForIp(snapshot, '203.0.113.5'))).toEqual(['eth0', 'eth1']);
  });

  it('needs a link-local address for IPv6', () => {
    expect(names(interfacesForIp(snapshot, '2001:db8::5'))).toEqual(['eth0', 'eth1', 'tun0']);
  });

  it('restricts to L2Advertisement.interfaces, even against a subnet match elsewhere', () => {
    expect(names(interfacesForIp(snapshot, '192.168.10.222', { allowed: ['eth0'] }))).toEqual(['eth0']);
    expect(names(interfacesForIp(snapshot, '192.168.10.222', { allowed: ['docker0', 'eth2'] }))).toEqual([]);
    expect(names(interfacesForIp(snapshot, '192.168.10.222', { allowed: [] }))).toEqual(['eth1']);
  });

  it('gives nothing for a text that is not an IP', () => {
    expect(interfacesForIp(snapshot, 'not-an-ip')).toEqual([]);
  });
});

describe('snapshot comparison', () => {
  it('ignores order but sees a flag change', () => {
    const reordered = { links: [...snapshot.links].reverse(), addresses: [...snapshot.addresses].reverse() };
    expect(sameSnapshot(snapshot, reordered)).toBe(true);
    const down = {
      ...snapshot,
      links: snapshot.links.map((l) => (l.name === 'eth0' ? { ...l, up: false } : l)),
    };
    expect(sameSnapshot(snapshot, down)).toBe(false);
  });
});
