// The speaker under load, smaller than the benchmark (test/bench/speaker-churn.ts): 2,000
// Services with EndpointSlices created and then deleted against three speakers in BGP mode
// with BFD 100 ms x 3 and hold time 3 s to BIRD, beside a CPU hog. No BGP or BFD session may
// drop in BIRD's eyes while the speakers plan, announce and write status; every /32 arrives
// with three paths and is withdrawn again. The time bounds are only generous timeouts: speed
// is the benchmark's business. Needs root and `make build`.

import { isRoot } from './lab.js';
import { runSpeakerChurn } from '../bench/speaker-churn.js';

const root = isRoot();
if (!root) process.stderr.write('test/e2e/speaker-churn.test.ts: SKIPPED, the network lab needs root\n');
const describeRoot = root ? describe : describe.skip;

describeRoot('speakers under churn', () => {
  it('keeps every BGP and BFD session up while 2,000 Services come and go, and converges both ways', async () => {
    const r = await runSpeakerChurn({
      services: 2000,
      prefix: process.env.LAB_PREFIX ?? 'chu-',
      cpuHogs: 1,
      concurrency: 8,
      routesTimeoutMs: 300_000,
      log: () => undefined,
    });
    expect(r.dropDetails).toEqual([]);
    expect(r.routesPresentMs).toBeDefined();
    expect(r.routesWithdrawnMs).toBeDefined();
  }, 1_200_000);
});
