import { parseIP } from '../../../lib/ip/index.js';
import type { IPPlan, L2Plan } from '../plan/index.js';
import { announcements, ownedKey } from './announced.js';

function ipPlan(ip: string, services: string[], interfaces: Record<string, 'all' | string[]>): IPPlan {
  return {
    ip,
    address: parseIP(ip),
    services,
    eligible: Object.keys(interfaces).sort(),
    weights: new Map(),
    interfaces: new Map(Object.entries(interfaces)),
  };
}

const answerable = (...ips: string[]): ReadonlySet<string> => new Set(ips);

describe('what a node announces of the IPs it may answer', () => {
  const plan: L2Plan = {
    ips: [
      ipPlan('192.168.10.222', ['default/myapp'], { node1: 'all', node2: ['eth1'] }),
      ipPlan('fd00:77::200:10', ['default/myapp'], { node1: ['eth0'], node2: ['eth1'] }),
      ipPlan('192.168.10.223', ['default/other', 'default/shared'], { node1: 'all' }),
    ],
    notAnnounced: new Map(),
  };

  it('answers only for the IPs it owns, restricted to its interfaces from the plan', () => {
    const a = announcements(plan, answerable('192.168.10.222', 'fd00:77::200:10'), 'node2');
    expect(a.owned).toEqual([
      { ip: '192.168.10.222', interfaces: ['eth1'] },
      { ip: 'fd00:77::200:10', interfaces: ['eth1'] },
    ]);
    expect([...a.services.values()]).toEqual([
      { key: 'default/myapp', ips: ['192.168.10.222', 'fd00:77::200:10'], interfaces: ['eth1'] },
    ]);
  });

  it('announces every Service sharing an owned IP, and none when it owns nothing', () => {
    const a = announcements(plan, answerable('192.168.10.223'), 'node1');
    expect(a.owned).toEqual([{ ip: '192.168.10.223' }]);
    expect([...a.services.keys()]).toEqual(['default/other', 'default/shared']);
    expect(a.services.get('default/other')?.interfaces).toEqual([]);
    expect(announcements(plan, answerable(), 'node1').services.size).toBe(0);
  });

  it('keys owned sets by IP and interfaces, whatever the order', () => {
    expect(ownedKey([{ ip: 'b' }, { ip: 'a', interfaces: ['eth0'] }])).toBe(
      ownedKey([{ ip: 'a', interfaces: ['eth0'] }, { ip: 'b' }]),
    );
    expect(ownedKey([{ ip: 'a', interfaces: ['eth0'] }])).not.toBe(
      ownedKey([{ ip: 'a', interfaces: ['eth1'] }]),
    );
  });
});
