import {
  explainStall,
  parseLastCpu,
  parseSchedstat,
  parseSteal,
  StallWatch,
  type ThreadSample,
} from './stall-watch.js';

const sample = (over: Partial<ThreadSample>): ThreadSample => ({
  at: 0,
  runNs: 0,
  waitNs: 0,
  stealMs: [0, 0],
  cpu: 0,
  gcMs: 0,
  ...over,
});

describe('explainStall', () => {
  it('says nothing about a gap within the threshold', () => {
    expect(explainStall(sample({ at: 1000 }), sample({ at: 1090 }), 100)).toBeUndefined();
  });

  it('splits a gap into running, waiting for a core, steal and the rest', () => {
    const before = sample({ at: 1000, runNs: 5e6, waitNs: 1e6, stealMs: [100, 40], cpu: 1 });
    const after = sample({ at: 1300, runNs: 25e6, waitNs: 151e6, stealMs: [100, 120], cpu: 1, gcMs: 12 });
    expect(explainStall(before, after, 100)).toEqual({
      gapMs: 300,
      ranMs: 20,
      waitedForCpuMs: 150,
      stolenMs: 80,
      gcMs: 12,
      otherMs: 50,
    });
  });

  it('counts steal of the CPU the thread left or came back on, never more than the gap', () => {
    const before = sample({ at: 0, stealMs: [0, 0], cpu: 0 });
    const after = sample({ at: 200, stealMs: [10, 900], cpu: 1 });
    expect(explainStall(before, after, 100)).toMatchObject({ stolenMs: 200, otherMs: 0 });
  });
});

describe('the /proc parsers', () => {
  it('reads run and wait time from schedstat', () => {
    expect(parseSchedstat('258315696 42826231 1406\n')).toEqual({ runNs: 258315696, waitNs: 42826231 });
    expect(parseSchedstat('')).toBeUndefined();
  });

  it('reads per-CPU steal in ms, skipping the summary line', () => {
    const stat = [
      'cpu  6455115 84611 1117336 6077347 5683 0 108911 12831 0 0',
      'cpu0 3226910 37055 547285 3059577 603 0 52845 6401 0 0',
      'cpu1 3228205 47556 570051 3017770 5079 0 56066 6429 0 0',
      'intr 1 2 3',
    ].join('\n');
    expect(parseSteal(stat)).toEqual([64010, 64290]);
  });

  it('reads the last CPU from a stat line whose command holds spaces and parentheses', () => {
    const fields = Array.from({ length: 50 }, (_, i) => String(i + 3));
    fields[39 - 3] = '7';
    expect(parseLastCpu(`4242 (BFD (worker) 1) ${fields.join(' ')}`)).toBe(7);
  });
});

describe('StallWatch on this thread', () => {
  it('reports a gap while the thread is busy, with the time it ran', async () => {
    const stalls: number[][] = [];
    const watch = new StallWatch({
      everyMs: 10,
      thresholdMs: 150,
      onStall: (s) => stalls.push([s.gapMs, s.ranMs]),
    });
    try {
      await new Promise((r) => setTimeout(r, 30));
      const until = Date.now() + 400;
      while (Date.now() < until); // the thread is busy: the watch's timer cannot run
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      watch.close();
    }
    expect(stalls.length).toBeGreaterThanOrEqual(1);
    const [gap, ran] = stalls[0]!;
    expect(gap).toBeGreaterThanOrEqual(390);
    // On Linux the busy loop shows as running time (a loaded machine may also show waiting).
    if (process.platform === 'linux') expect(ran).toBeGreaterThan(0);
  });
});
