import { answeredVips } from './answered.js';

const placed = new Map([
  ['10.0.0.100', ['eth0']],
  ['10.0.0.101', ['eth0']],
]);

describe('the VIPs a node answers', () => {
  it('are the owned and placed ones while a candidate and within the lease', () => {
    const base = { owned: ['10.0.0.101', '10.0.0.100', '10.9.9.9'], placed, candidate: true, until: 1000 };
    expect(answeredVips({ ...base, now: 999 })).toEqual(['10.0.0.100', '10.0.0.101']);
    expect(answeredVips({ ...base, now: 1000 })).toEqual([]);
    expect(answeredVips({ ...base, now: 0, candidate: false })).toEqual([]);
    expect(answeredVips({ ...base, now: 0, until: Number.NEGATIVE_INFINITY })).toEqual([]);
  });
});
