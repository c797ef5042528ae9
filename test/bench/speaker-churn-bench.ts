// `make bench` speaker-churn: N Services (SPEAKER_CHURN_SERVICES, default 10,000; try 2,000
// first) with EndpointSlices created and then deleted against three speakers in BGP mode with
// BFD 100 ms x 3 and hold time 3 s to BIRD, beside `stress-ng --cpu 2` (speaker-churn.ts says
// what is watched). Goals: no BGP or BFD session drop; event-loop lag max under 100 ms.
// speaker-churn-l2 is the same churn in layer 2 mode; goals: no membership flap, no IP answered
// by two MACs.
// SPEAKER_CHURN_HEAP=1 also prints the largest holders of a speaker's and the controller's
// heap at N (the snapshot costs that speaker its BGP session: a run for memory, not drops).

import type { BenchResult } from './allocator-bench.js';
import { runSpeakerChurn, type ChurnOptions, type StallSplit } from './speaker-churn.js';

export const lagGoalMs = 100;

export async function benchSpeakerChurn(opts: ChurnOptions = {}): Promise<BenchResult[]> {
  // A heap snapshot holds the speaker's main thread for seconds, past the 3 s hold time: the
  // router drops that speaker's session (seen: BIRD's hold timer expired for the snapshotted
  // node only). So the heap's holders are a run of their own: SPEAKER_CHURN_HEAP=1.
  const r = await runSpeakerChurn({ heapHolders: process.env.SPEAKER_CHURN_HEAP === '1', ...opts });
  const rows: BenchResult[] = [];
  const push = (name: string, value: number, unit: string): void => {
    rows.push({ name, value: Math.round(value * 10) / 10, unit });
  };
  const l2 = r.mode === 'l2';
  push('Services created and deleted', r.services, '');
  push(l2 ? 'membership flaps (goal 0)' : 'BGP/BFD session drops (goal 0)', r.sessionDrops, '');
  if (l2) push('IPs answered by two MACs, over every scan (goal 0)', r.doubleAnswers, '');
  push('create: API time', r.createMs / 1000, 's');
  push(
    l2 ? 'all IPs answered by one MAC after the last create' : 'all /32s with 3 paths after the last create',
    (r.presentMs ?? Number.NaN) / 1000,
    's',
  );
  push('delete: API time', r.deleteMs / 1000, 's');
  push(
    l2 ? 'none answered after the last delete' : 'all withdrawn after the last delete',
    (r.withdrawnMs ?? Number.NaN) / 1000,
    's',
  );
  r.fencedFrames.forEach((v, i) => push(`speaker ${i + 1}: ARP/NDP requests fenced (lease lapsed)`, v, ''));
  r.rejoins.forEach((v, i) => push(`speaker ${i + 1}: membership rejoins`, v, ''));
  for (const l of r.lag) {
    push(`${l.node}: event-loop lag p99 (worst second)`, l.p99 * 1000, 'ms');
    push(`${l.node}: event-loop lag max (goal < ${lagGoalMs} ms)`, l.max * 1000, 'ms');
    if (!l2) {
      push(`${l.node}: BFD worker event-loop lag p99 (worst second)`, l.bfdP99 * 1000, 'ms');
      push(`${l.node}: BFD worker event-loop lag max`, l.bfdMax * 1000, 'ms');
    }
    const stalls: [string, StallSplit][] = [['main thread', l.mainStalls]];
    if (l2) stalls.push(['membership worker', l.membershipStalls]);
    for (const [thread, m] of stalls) {
      const over = thread === 'main thread' ? 100 : 200;
      push(`${l.node}: ${thread} gaps over ${over} ms`, m.count, '');
      push(`${l.node}: in those gaps, running our own work`, m.ran, 's');
      push(`${l.node}: in those gaps, waiting for a CPU`, m.waitedForCpu, 's');
      push(`${l.node}: in those gaps, stolen or blocked`, m.stolen + m.other, 's');
      push(`${l.node}: in those gaps, garbage collection (inside the above)`, m.gc, 's');
    }
  }
  for (const m of r.memory) {
    m.speakerRssMB.forEach((v, i) => push(`at ${m.services} Services: speaker ${i + 1} RSS`, v, 'MB'));
    m.speakerHeapMB.forEach((v, i) =>
      push(`at ${m.services} Services: speaker ${i + 1} V8 heap used`, v, 'MB'),
    );
    m.speakerHeapTotalMB.forEach((v, i) =>
      push(`at ${m.services} Services: speaker ${i + 1} V8 heap reserved`, v, 'MB'),
    );
    m.speakerExternalMB.forEach((v, i) =>
      push(`at ${m.services} Services: speaker ${i + 1} memory outside V8's heap (external)`, v, 'MB'),
    );
    push(`at ${m.services} Services: controller RSS`, m.controllerRssMB, 'MB');
  }
  for (const t of r.heapTops)
    for (const h of t.holders)
      push(
        `at ${t.services} Services: ${t.who} heap holds ${h.name} (${h.count.toLocaleString('en-US')})`,
        h.selfBytes / 2 ** 20,
        'MB',
      );
  for (const d of r.dropDetails.slice(0, 20))
    process.stderr.write(`speaker-churn: ${l2 ? 'flap' : 'drop'}: ${d}\n`);
  for (const e of r.speakerEvents.slice(0, 40)) process.stderr.write(`speaker-churn: speaker log: ${e}\n`);
  return rows;
}
