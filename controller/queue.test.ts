import { WorkQueue } from './queue.js';

const tick = () => new Promise((r) => setImmediate(r));

describe('WorkQueue', () => {
  it('handles a key added many times while waiting only once', async () => {
    const seen: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const q = new WorkQueue({
      handler: async (k) => {
        if (k === 'first') await gate;
        seen.push(k);
      },
    });
    q.add('first');
    q.add('b');
    q.add('b');
    q.add('b');
    release();
    await q.idle();
    expect(seen).toEqual(['first', 'b']);
  });

  it('runs a key again when it is added while being handled, never concurrently', async () => {
    let running = 0;
    let maxRunning = 0;
    let runs = 0;
    const q: WorkQueue = new WorkQueue({
      concurrency: 4,
      handler: async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        runs++;
        if (runs === 1) q.add('k');
        await tick();
        running--;
      },
    });
    q.add('k');
    await q.idle();
    await q.idle();
    expect(runs).toBe(2);
    expect(maxRunning).toBe(1);
  });

  it('retries a failing key with exponential delays and resets after success', async () => {
    const delays: number[] = [];
    const pending: (() => void)[] = [];
    let fails = 3;
    let handled = 0;
    const q = new WorkQueue({
      baseDelayMs: 100,
      maxDelayMs: 250,
      schedule: (fn, ms) => {
        delays.push(ms);
        pending.push(fn);
      },
      handler: async () => {
        handled++;
        if (fails-- > 0) throw new Error('conflict');
      },
    });
    q.add('k');
    for (let i = 0; i < 3; i++) {
      await q.idle();
      await tick();
      pending.shift()!();
    }
    await q.idle();
    expect(handled).toBe(4);
    expect(delays).toEqual([100, 200, 250]);
    expect(q.failuresOf('k')).toBe(0);
  });

  it('handles different keys in parallel up to the concurrency', async () => {
    let running = 0;
    let maxRunning = 0;
    const q = new WorkQueue({
      concurrency: 3,
      handler: async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await tick();
        running--;
      },
    });
    q.addAll(['a', 'b', 'c', 'd', 'e']);
    await q.idle();
    expect(maxRunning).toBe(3);
  });
});
