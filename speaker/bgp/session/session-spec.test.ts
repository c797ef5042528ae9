// What a BGPPeer's timers and peer AS become on the session: MetalLB's defaults and the CRD's
// "0 counts as unset" rules.

import type { BGPPeer } from '../../../lib/config/types.js';
import { sessionKey, sessionSpec, sessionTimers } from './session-spec.js';

const peer = (over: Partial<BGPPeer> = {}): BGPPeer => ({
  ref: { kind: 'BGPPeer', namespace: 'metallb-system', name: 'router' },
  myASN: 64512,
  peerASN: 64500,
  peerAddress: '10.77.0.1',
  peerPort: 179,
  nodeSelectors: [],
  enableGracefulRestart: false,
  ebgpMultiHop: false,
  ...over,
});

describe('session timers', () => {
  it.each([
    ['neither set: 90 s, keepalives at a third', {}, { holdTime: 90 }],
    ['holdTime only', { holdTime: 3 }, { holdTime: 3 }],
    [
      'keepaliveTime only: hold time 3 x keepaliveTime',
      { keepaliveTime: 10 },
      { holdTime: 30, keepaliveTime: 10 },
    ],
    ['both', { holdTime: 9, keepaliveTime: 1 }, { holdTime: 9, keepaliveTime: 1 }],
    ['holdTime 0: no keepalives at all', { holdTime: 0 }, { holdTime: 0 }],
    ['keepaliveTime 0 alone: hold time 0', { keepaliveTime: 0 }, { holdTime: 0 }],
    ['keepaliveTime 0 with a hold time: a third of it', { holdTime: 30, keepaliveTime: 0 }, { holdTime: 30 }],
  ])('%s', (_name, given, want) => {
    expect(sessionTimers(given)).toEqual(want);
  });

  it('never hands the session a keepaliveTime of 0 (which it refuses)', () => {
    expect(sessionSpec(peer({ keepaliveTime: 0 }), undefined, 'node1').keepaliveTime).toBeUndefined();
  });
});

describe('peer AS', () => {
  it('reads peerASN 0 as unset, so dynamicASN applies', () => {
    const s = sessionSpec(peer({ peerASN: 0, dynamicASN: 'internal' }), undefined, 'node1');
    expect(s.peerAsn).toBeUndefined();
    expect(s.dynamicAsn).toBe('internal');
  });
});

describe('session identity', () => {
  it('changes with enableGracefulRestart, so a changed BGPPeer resets its session (new OPEN)', () => {
    const on = sessionSpec(peer({ enableGracefulRestart: true }), undefined, 'node1');
    const off = sessionSpec(peer(), undefined, 'node1');
    expect(sessionKey(on)).not.toBe(sessionKey(off));
  });
});
