// The main thread's record of the BFD worker's sessions: the messages each request becomes,
// the states the worker reports, and what a lost worker means for each session.
import { BfdSessionTable, workerLostDiagName } from './worker-protocol.js';
import type { BfdStateChange } from './sessions.js';

const profile = { receiveIntervalMs: 100, transmitIntervalMs: 100, detectMultiplier: 3, passiveMode: false };

function change(peer: string, from: string, to: string): BfdStateChange {
  return {
    peer,
    local: '10.0.0.1',
    from,
    to,
    diag: 0,
    diagName: 'No Diagnostic',
    remoteAdminDown: false,
    at: 1,
  };
}

describe('BfdSessionTable', () => {
  test('turns requests into messages with canonical addresses', () => {
    const t = new BfdSessionTable();
    expect(t.add('FD00:0::2', 'fd00::1', profile)).toEqual({
      type: 'add',
      peer: 'fd00::2',
      local: 'fd00::1',
      profile,
    });
    expect(t.has('fd00::2')).toBe(true);
    const slower = { ...profile, transmitIntervalMs: 300 };
    expect(t.update('fd00:0:0::2', slower)).toEqual({ type: 'update', peer: 'fd00::2', profile: slower });
    expect(t.remove('fd00::2')).toEqual({ type: 'remove', peer: 'fd00::2' });
    expect(t.remove('fd00::2')).toBeUndefined();
    expect(t.has('fd00::2')).toBe(false);
  });

  test('refuses a second session to a peer, a local address of another family, an unknown peer', () => {
    const t = new BfdSessionTable();
    t.add('10.0.0.2', '10.0.0.1', profile);
    expect(() => t.add('10.0.0.2', '10.0.0.1', profile)).toThrow(
      'BFD peer 10.0.0.2: a session already exists',
    );
    expect(() => t.add('10.0.0.3', 'fd00::1', profile)).toThrow(
      'BFD peer 10.0.0.3: local address fd00::1 is of another address family',
    );
    expect(() => t.update('10.0.0.9', profile)).toThrow('BFD peer 10.0.0.9: no such session');
    expect(() => t.add('not-an-ip', '10.0.0.1', profile)).toThrow('"not-an-ip" is not an IP address');
  });

  test('follows the states the worker reports, and drops reports for sessions no longer wanted', () => {
    const t = new BfdSessionTable();
    t.add('10.0.0.2', '10.0.0.1', profile);
    expect(t.state('10.0.0.2')).toBe('Down');
    expect(t.onState(change('10.0.0.2', 'Down', 'Init'))).toBe(true);
    expect(t.onState(change('10.0.0.2', 'Init', 'Up'))).toBe(true);
    expect(t.isUp('10.0.0.2')).toBe(true);
    t.remove('10.0.0.2');
    expect(t.onState(change('10.0.0.2', 'Up', 'AdminDown'))).toBe(false);
    expect(t.state('10.0.0.2')).toBeUndefined();
  });

  test('a lost worker reports its Up and Init sessions down; a new one is given every session wanted', () => {
    const t = new BfdSessionTable();
    t.add('10.0.0.2', '10.0.0.1', profile);
    t.add('10.0.0.3', '10.0.0.1', profile);
    t.add('10.0.0.4', '10.0.0.1', { ...profile, passiveMode: true });
    t.onState(change('10.0.0.2', 'Init', 'Up'));
    t.onState(change('10.0.0.3', 'Down', 'Init'));
    const lost = t.workerLost(42);
    expect(lost).toEqual([
      {
        peer: '10.0.0.2',
        local: '10.0.0.1',
        from: 'Up',
        to: 'Down',
        diag: 0,
        diagName: workerLostDiagName,
        remoteAdminDown: false,
        at: 42,
      },
      expect.objectContaining({ peer: '10.0.0.3', from: 'Init', to: 'Down' }),
    ]);
    expect(t.replay()).toEqual([
      { type: 'add', peer: '10.0.0.2', local: '10.0.0.1', profile },
      { type: 'add', peer: '10.0.0.3', local: '10.0.0.1', profile },
      { type: 'add', peer: '10.0.0.4', local: '10.0.0.1', profile: { ...profile, passiveMode: true } },
    ]);
    expect(t.peers().map((p) => t.state(p))).toEqual(['Down', 'Down', 'Down']);
    // Lost again before anything came Up: nothing more to report down.
    expect(t.workerLost(43)).toEqual([]);
    // A session removed while no worker ran is not given to the next one.
    t.remove('10.0.0.3');
    expect(t.replay().map((m) => (m.type === 'add' ? m.peer : m.type))).toEqual(['10.0.0.2', '10.0.0.4']);
  });
});
