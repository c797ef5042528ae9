import { candidacy } from './candidate.js';

const all = { apiReady: true, linkUp: true, responderOk: true, stopping: false };

describe('VIP candidacy', () => {
  it('is a candidate only with a ready API server, a link, packet sockets, and not stopping', () => {
    expect(candidacy(all)).toEqual({ candidate: true, reasons: [] });
    expect(candidacy({ ...all, apiReady: false })).toEqual({
      candidate: false,
      reasons: ['API server not ready'],
    });
    expect(candidacy({ ...all, linkUp: false }).candidate).toBe(false);
    expect(candidacy({ ...all, responderOk: false }).candidate).toBe(false);
    expect(candidacy({ ...all, stopping: true, apiReady: false }).reasons).toEqual([
      'stopping',
      'API server not ready',
    ]);
  });
});
