import type { InterfaceSnapshot } from '../layer2/responder/interfaces.js';
import { placeVips } from './placement.js';
import { testLink } from '../../test/support/links.js';

const link = testLink;

const snapshot: InterfaceSnapshot = {
  links: [link(1, 'lo', { broadcast: false }), link(2, 'eth0'), link(3, 'eth1')],
  addresses: [
    { index: 2, family: 4, address: '10.77.0.11', prefixLength: 24 },
    { index: 2, family: 6, address: 'fe80::1', prefixLength: 64 },
    { index: 2, family: 6, address: 'fd00:77::11', prefixLength: 64 },
    { index: 3, family: 4, address: '192.168.5.1', prefixLength: 24 },
  ],
};

describe('VIP placement', () => {
  it('answers each VIP on the interfaces with an address on its subnet', () => {
    const p = placeVips(['10.77.0.50', 'fd00:77::50', '192.168.5.50'], snapshot, undefined);
    expect(p.problems).toEqual([]);
    expect([...p.placed]).toEqual([
      ['10.77.0.50', ['eth0']],
      ['fd00:77::50', ['eth0']],
      ['192.168.5.50', ['eth1']],
    ]);
  });

  it('refuses a VIP off every subnet, naming the flag and value, and keeps the others', () => {
    const p = placeVips(['10.77.0.50', '172.16.0.1'], snapshot, undefined);
    expect([...p.placed.keys()]).toEqual(['10.77.0.50']);
    expect(p.problems).toEqual([
      {
        flag: 'vip',
        value: '172.16.0.1',
        message: expect.stringContaining('not on the subnet of any address'),
      },
    ]);
  });

  it('uses only --interface when given, and says when it does not exist', () => {
    const p = placeVips(['192.168.5.50'], snapshot, 'eth0');
    expect(p.placed.size).toBe(0);
    expect(p.problems[0]).toMatchObject({ flag: 'vip', value: '192.168.5.50' });
    expect(p.problems[0]?.message).toContain('interface eth0');
    const q = placeVips(['10.77.0.50'], snapshot, 'eth9');
    expect(q.problems).toEqual([
      { flag: 'interface', value: 'eth9', message: expect.stringContaining('no such') },
    ]);
  });
});
