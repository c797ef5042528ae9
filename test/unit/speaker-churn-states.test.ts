// The speaker-churn harness counts a BGP or BFD session drop when BIRD's reading of it changes;
// BIRD's "since" column jitters by a millisecond between reads of an unchanged session.

import { sameState } from '../bench/speaker-churn.js';

describe('speaker-churn drop detection', () => {
  test('a since time that moves by a millisecond is the same unchanged session', () => {
    expect(sameState('up 00:20:35.870 Established', 'up 00:20:35.871 Established')).toBe(true);
    expect(sameState('Up 23:59:59.999', 'Up 00:00:00.000')).toBe(true);
  });

  test('a new state, new info or a since time that moved on is a change', () => {
    expect(sameState('up 00:20:35.870 Established', 'start 00:20:36.100 Connect')).toBe(false);
    expect(sameState('up 00:20:35.870 Established', 'up 00:20:41.002 Established')).toBe(false);
    expect(sameState('Up 10:00:00.000', 'Down 10:00:00.000')).toBe(false);
  });
});
