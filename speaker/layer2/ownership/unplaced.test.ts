import { UnplacedIPs } from './unplaced.js';

describe('owned IPs with no interface to answer on (announceFailed)', () => {
  it('reports an owned IP without placement once, naming the interfaces it was allowed', () => {
    const u = new UnplacedIPs();
    const owned = [{ ip: '10.77.0.240', interfaces: ['eth9'] }, { ip: '192.168.10.222' }];
    const placement = new Map([
      ['10.77.0.240', []],
      ['192.168.10.222', ['eth0']],
    ]);
    expect(u.update(owned, placement)).toEqual([
      {
        ip: '10.77.0.240',
        interfaces: ['eth9'],
        reason: 'none of the interfaces its L2Advertisements allow (eth9) exists and is usable here',
      },
    ]);
    expect(u.update(owned, placement)).toEqual([]);
  });

  it('reports again when the interface list changes, or after the IP was answered in between', () => {
    const u = new UnplacedIPs();
    const none = new Map([['10.77.0.240', []]]);
    expect(u.update([{ ip: '10.77.0.240' }], none).map((x) => x.reason)).toEqual([
      'no interface here is usable for it (up, not excluded, on its subnet or ARP/NDP capable)',
    ]);
    expect(u.update([{ ip: '10.77.0.240', interfaces: ['eth9'] }], none)).toHaveLength(1);
    expect(
      u.update([{ ip: '10.77.0.240', interfaces: ['eth9'] }], new Map([['10.77.0.240', ['eth9']]])),
    ).toEqual([]);
    expect(u.update([{ ip: '10.77.0.240', interfaces: ['eth9'] }], none)).toHaveLength(1);
  });
});
