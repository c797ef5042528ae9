// The Adj-RIB-Out: attributes fixed by the session, and only the difference is sent.

import { AdjRibOut, pathAttributes } from './speaker-rib.js';
import type { RibSession } from './speaker-rib.js';
import { formatPrefix } from '../wire/prefix.js';

const ebgp: RibSession = {
  localAsn: 64512,
  external: true,
  families: [4, 6],
  nextHop4: '10.77.0.11',
  nextHop6: 'fd00:77::11',
};
const ibgp: RibSession = { ...ebgp, external: false };

describe('AdjRibOut', () => {
  it('prepends our AS to external peers and sends LOCAL_PREF only to internal ones', () => {
    const route = { prefix: '10.77.100.10/32', localPref: 200, communities: [2, 1] };
    expect(pathAttributes(route, ebgp, 4)).toEqual({
      origin: 0,
      asPath: [{ type: 'sequence', asns: [64512] }],
      nextHop: '10.77.0.11',
      communities: [1, 2],
    });
    expect(pathAttributes(route, ibgp, 4)).toMatchObject({ asPath: [], localPref: 200 });
  });

  it('always sends LOCAL_PREF to internal peers: 100 when no advertisement sets one (RFC 4271 §5.1.5)', () => {
    const route = { prefix: '10.77.100.10/32' };
    expect(pathAttributes(route, ibgp, 4).localPref).toBe(100);
    expect(pathAttributes({ prefix: 'fd00:77::100:10/128' }, ibgp, 6).localPref).toBe(100);
    expect(pathAttributes(route, ebgp, 4).localPref).toBeUndefined();
  });

  it('announces IPv6 through MP_REACH with the global and link-local next hops', () => {
    const a = pathAttributes({ prefix: 'fd00:77::100:10/128' }, { ...ebgp, linkLocal6: 'fe80::11' }, 6);
    expect(a.mpReach).toEqual({ family: 6, nextHop: 'fd00:77::11', linkLocalNextHop: 'fe80::11', nlri: [] });
    expect(a.nextHop).toBeUndefined();
  });

  it('groups equal attributes, resends nothing unchanged and withdraws what is gone', () => {
    const rib = new AdjRibOut();
    rib.setDesired([
      { prefix: '10.77.100.10/32' },
      { prefix: '10.77.100.11/32' },
      { prefix: 'fd00:77::100:10/128' },
    ]);
    const first = rib.diff(ebgp);
    expect(first.withdraw).toEqual([]);
    expect(first.announce.map((g) => g.prefixes.map(formatPrefix))).toEqual([
      ['10.77.100.10/32', '10.77.100.11/32'],
      ['fd00:77::100:10/128'],
    ]);
    expect(rib.diff(ebgp)).toEqual({ withdraw: [], announce: [] });
    rib.setDesired([{ prefix: '10.77.100.10/32', communities: [5] }]);
    const next = rib.diff(ebgp);
    expect(next.withdraw.map(formatPrefix).sort()).toEqual(['10.77.100.11/32', 'fd00:77::100:10/128']);
    expect(next.announce).toHaveLength(1);
    rib.reset();
    expect(rib.diff(ebgp).announce).toHaveLength(1);
  });

  it('after a change of some prefixes, sends those only, and everything again after a reset', () => {
    const rib = new AdjRibOut();
    rib.setDesired(Array.from({ length: 100 }, (_, i) => ({ prefix: `10.77.100.${i}/32` })));
    expect(rib.diff(ebgp).announce[0]?.prefixes).toHaveLength(100);
    rib.update([
      ['10.77.100.5/32', undefined],
      ['10.77.100.6/32', { prefix: '10.77.100.6/32', communities: [7] }],
      ['10.77.100.7/32', { prefix: '10.77.100.7/32' }], // unchanged: nothing to send
      ['10.77.101.1/32', { prefix: '10.77.101.1/32' }],
      ['10.77.101.2/32', undefined], // never announced: nothing to withdraw
    ]);
    const changes = rib.diff(ebgp);
    expect(changes.withdraw.map(formatPrefix)).toEqual(['10.77.100.5/32']);
    expect(changes.announce.map((g) => g.prefixes.map(formatPrefix))).toEqual([
      ['10.77.100.6/32'],
      ['10.77.101.1/32'],
    ]);
    expect(rib.diff(ebgp)).toEqual({ withdraw: [], announce: [] });
    expect(rib.sentCount).toBe(100);
    rib.reset();
    rib.update([['10.77.101.3/32', { prefix: '10.77.101.3/32' }]]);
    expect(rib.diff(ebgp).announce.flatMap((g) => g.prefixes)).toHaveLength(101);
  });

  it('skips a family the session did not negotiate', () => {
    const rib = new AdjRibOut();
    rib.setDesired([{ prefix: '10.77.100.10/32' }, { prefix: 'fd00:77::100:10/128' }]);
    expect(
      rib.diff({ ...ebgp, families: [4] }).announce.flatMap((g) => g.prefixes.map(formatPrefix)),
    ).toEqual(['10.77.100.10/32']);
  });
});
