// A BGPPeer and this node's Node object become one session spec with MetalLB's defaults;
// which changes reset a session and which do not.

import type { BFDProfile, BGPPeer } from '../../../lib/config/types.js';
import { parseIP } from '../../../lib/ip/index.js';
import type { SpeakerNode } from '../../cluster/objects.js';
import { defaultRouterId, peerLabel, sessionKey, sessionSpec } from './session-spec.js';

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

const node: SpeakerNode = {
  name: 'node1',
  labels: {},
  networkUnavailable: false,
  internalIPs: [parseIP('10.77.0.11'), parseIP('fd00:77::11')],
};

describe('sessionSpec', () => {
  it("defaults the router ID to the node's first IPv4 InternalIP and the hold time to 90 s", () => {
    const s = sessionSpec(peer(), node, 'node1');
    expect(s).toEqual({
      name: 'router',
      peerAddress: '10.77.0.1',
      port: 179,
      localAsn: 64512,
      peerAsn: 64500,
      routerId: '10.77.0.11',
      holdTime: 90,
      gracefulRestart: false,
    });
  });

  it('takes every session field from the BGPPeer', () => {
    const s = sessionSpec(
      peer({
        routerID: '1.2.3.4',
        holdTime: 9,
        keepaliveTime: 3,
        connectTime: 5,
        sourceAddress: '10.77.0.11',
        password: 'secret',
        ebgpMultiHop: true,
        enableGracefulRestart: true,
      }),
      node,
      'node1',
    );
    expect(s).toMatchObject({
      routerId: '1.2.3.4',
      holdTime: 9,
      keepaliveTime: 3,
      connectRetryMs: 5000,
      localAddress: '10.77.0.11',
      password: 'secret',
      ttl: 255,
      gracefulRestart: true,
    });
  });

  it('carries dynamicASN (internal or external) instead of a peer AS', () => {
    const { peerASN: _, ...noAsn } = peer();
    for (const dynamicASN of ['internal', 'external'] as const) {
      const s = sessionSpec({ ...noAsn, dynamicASN }, node, 'node1');
      expect(s.peerAsn).toBeUndefined();
      expect(s.dynamicAsn).toBe(dynamicASN);
    }
    // A peerASN wins.
    expect(sessionSpec({ ...peer(), dynamicASN: 'external' }, node, 'node1')).toMatchObject({
      peerAsn: 64500,
    });
    expect(sessionSpec({ ...peer(), dynamicASN: 'external' }, node, 'node1').dynamicAsn).toBeUndefined();
  });

  it('falls back to an IPv4 source address, then to a CRC32 of the node name', () => {
    const v6only: SpeakerNode = { ...node, internalIPs: [parseIP('fd00:77::11')] };
    expect(defaultRouterId(peer({ sourceAddress: '10.1.1.1' }), v6only, 'node1')).toBe('10.1.1.1');
    const id = defaultRouterId(peer(), undefined, 'node1');
    expect(id).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(id).not.toBe('0.0.0.0');
    expect(defaultRouterId(peer(), undefined, 'node2')).not.toBe(id);
  });

  it('resets the session when a session field changes, not for the BFD profile', () => {
    const base = sessionKey(sessionSpec(peer(), node, 'node1'));
    expect(sessionKey(sessionSpec(peer({ password: 'x' }), node, 'node1'))).not.toBe(base);
    expect(sessionKey(sessionSpec(peer({ holdTime: 30 }), node, 'node1'))).not.toBe(base);
    const bfdProfile: BFDProfile = {
      ref: { kind: 'BFDProfile', namespace: 'metallb-system', name: 'fast' },
      receiveInterval: 100,
      transmitInterval: 100,
      detectMultiplier: 3,
      echoInterval: 50,
      echoMode: false,
      passiveMode: false,
      minimumTtl: 254,
    };
    expect(sessionKey(sessionSpec(peer({ bfdProfile }), node, 'node1'))).toBe(base);
  });

  it('labels metrics ip:port, IPv6 in brackets', () => {
    expect(peerLabel({ peerAddress: '10.77.0.1', port: 179 })).toBe('10.77.0.1:179');
    expect(peerLabel({ peerAddress: 'fd00:77::1', port: 179 })).toBe('[fd00:77::1]:179');
  });
});
