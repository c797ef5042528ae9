// ConvergeLoop: a burst of changes costs few passes, never two at once, the last change is
// always written, and a failed pass is retried. The speaker Pod as the objects' owner.

import { ConvergeLoop, ownedBy, speakerPodOwner } from './status-objects.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('ConvergeLoop', () => {
  it('coalesces a burst of kicks into passes at most every minIntervalMs, the last one seeing the latest value', async () => {
    let value = 0;
    const seen: number[] = [];
    const starts: number[] = [];
    let concurrent = 0;
    let maxConcurrent = 0;
    const loop = new ConvergeLoop({
      pass: async () => {
        starts.push(performance.now());
        concurrent++;
        maxConcurrent = Math.max(maxConcurrent, concurrent);
        seen.push(value);
        await sleep(5);
        concurrent--;
      },
      onError: () => undefined,
      minIntervalMs: 100,
      retryMs: 50,
    });
    for (let i = 1; i <= 50; i++) {
      value = i;
      loop.kick();
      await sleep(4);
    }
    await sleep(250);
    await loop.stop();
    expect(seen.at(-1)).toBe(50);
    expect(maxConcurrent).toBe(1);
    // ~200 ms of kicks: a pass now and then one per 100 ms, not 50.
    expect(seen.length).toBeLessThanOrEqual(5);
    for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(99);
  });

  it('retries a failed pass', async () => {
    let calls = 0;
    const errors: string[] = [];
    const loop = new ConvergeLoop({
      pass: () => {
        calls++;
        return calls === 1 ? Promise.reject(new Error('API down')) : Promise.resolve();
      },
      onError: (err) => errors.push(err.message),
      minIntervalMs: 0,
      retryMs: 20,
    });
    loop.kick();
    await sleep(100);
    await loop.stop();
    expect(errors).toEqual(['API down']);
    expect(calls).toBe(2);
  });
});

describe("the speaker Pod as the status objects' owner", () => {
  const pod = { apiVersion: 'v1', kind: 'Pod', name: 'speaker-x1', uid: 'u-1' };

  it('is the Pod in POD_NAME and POD_UID, and none without both', () => {
    expect(speakerPodOwner({ POD_NAME: 'speaker-x1', POD_UID: 'u-1' })).toEqual(pod);
    expect(speakerPodOwner({ POD_NAME: 'speaker-x1' })).toBeUndefined();
    expect(speakerPodOwner({ POD_UID: 'u-1' })).toBeUndefined();
    expect(speakerPodOwner({ POD_NAME: '', POD_UID: '' })).toBeUndefined();
  });

  it('owns an object whose ownerReferences are exactly that Pod (or none, without a Pod)', () => {
    expect(ownedBy([pod], pod)).toBe(true);
    expect(ownedBy([{ ...pod, uid: 'u-0' }], pod)).toBe(false); // the previous Pod of the name
    expect(ownedBy([pod, { ...pod, name: 'other', uid: 'u-2' }], pod)).toBe(false);
    expect(ownedBy(undefined, pod)).toBe(false);
    expect(ownedBy(undefined, undefined)).toBe(true);
    expect(ownedBy([], undefined)).toBe(true);
    expect(ownedBy([pod], undefined)).toBe(false);
  });
});
