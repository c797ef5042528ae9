// BGPSessionState's pure parts: the object name is a valid, stable, distinct DNS-1123 name;
// the status says what the session manager reports; a write is needed only when it changed.

import { NO_BFD, sameStatus, sessionStateName, sessionStateStatus } from './session-state.js';
import type { SessionStatus } from '../session/sessions.js';

const dns1123 = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/;

const session = (over: Partial<SessionStatus> = {}): SessionStatus => ({
  name: 'router-v4',
  peer: '10.77.0.1:179',
  address: '10.77.0.1',
  state: 'Established',
  established: true,
  announced: 2,
  bfd: false,
  since: Date.UTC(2026, 0, 2, 3, 4, 5, 678),
  ...over,
});

describe('sessionStateName', () => {
  it('joins node and BGPPeer names that are already valid unchanged', () => {
    expect(sessionStateName('node1', 'router-v4')).toBe('node1-router-v4');
    expect(sessionStateName('node-1.example.com', 'peer.a')).toBe('node-1.example.com-peer.a');
  });

  it('turns characters a name cannot hold into valid ones and keeps different inputs apart', () => {
    const a = sessionStateName('Node_1', 'Router');
    const b = sessionStateName('node-1', 'router');
    expect(a).toMatch(dns1123);
    expect(a).not.toBe(b);
    expect(sessionStateName('-x-', '_')).toMatch(dns1123);
  });

  it('keeps a long pair within 253 characters, stable, and distinct from a pair with the same prefix', () => {
    const node = 'n'.repeat(200);
    const a = sessionStateName(node, `${'p'.repeat(100)}a`);
    const b = sessionStateName(node, `${'p'.repeat(100)}b`);
    for (const n of [a, b]) {
      expect(n.length).toBeLessThanOrEqual(253);
      expect(n).toMatch(dns1123);
    }
    expect(a).not.toBe(b);
    expect(sessionStateName(node, `${'p'.repeat(100)}a`)).toBe(a);
  });
});

describe('sessionStateStatus', () => {
  it('reports the FSM state, prefixes, "name (address)" and an RFC 3339 transition time', () => {
    expect(sessionStateStatus('node1', session(), undefined)).toEqual({
      node: 'node1',
      peer: 'router-v4 (10.77.0.1)',
      bgpStatus: 'Established',
      bfdStatus: NO_BFD,
      lastTransitionTime: '2026-01-02T03:04:05Z',
      prefixesSent: 2,
    });
  });

  it('shows the BFD state for a peer with a bfdProfile, Down until its BFD session exists', () => {
    expect(sessionStateStatus('node1', session({ bfd: true }), 'Up').bfdStatus).toBe('Up');
    expect(sessionStateStatus('node1', session({ bfd: true }), undefined).bfdStatus).toBe('Down');
    // Without a profile a stray BFD state is not shown.
    expect(sessionStateStatus('node1', session(), 'Up').bfdStatus).toBe(NO_BFD);
  });

  it('carries the last error, cut to the CRD’s 1024 characters', () => {
    const s = sessionStateStatus(
      'node1',
      session({ state: 'Active', lastError: 'x'.repeat(5000) }),
      undefined,
    );
    expect(s.bgpStatus).toBe('Active');
    expect(s.lastError).toHaveLength(1024);
    expect(
      sessionStateStatus('node1', session({ lastError: 'TCP connection failed' }), undefined).lastError,
    ).toBe('TCP connection failed');
  });
});

describe('sameStatus', () => {
  const base = sessionStateStatus('node1', session(), undefined);

  it('needs no write when nothing changed', () => {
    expect(sameStatus(base, sessionStateStatus('node1', session(), undefined))).toBe(true);
  });

  it('needs a write when any field changed, an error appeared, or nothing was written yet', () => {
    for (const over of [
      { state: 'Idle' },
      { announced: 3 },
      { since: 0 },
      { lastError: 'NOTIFICATION received' },
      { address: '10.77.0.2' },
    ] as Partial<SessionStatus>[])
      expect(sameStatus(base, sessionStateStatus('node1', session(over), undefined))).toBe(false);
    expect(sameStatus(base, sessionStateStatus('node1', session({ bfd: true }), 'Up'))).toBe(false);
    expect(sameStatus(undefined, base)).toBe(false);
  });
});
