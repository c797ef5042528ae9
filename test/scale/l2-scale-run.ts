// `make test-scale`: layer 2 at full size on the lab, printed as figures (not a pass/fail test).
//   1. Three speakers, SCALE_SERVICES (10,000) L2 Services from one /18 pool, a CPU hog
//      (stress-ng, SCALE_HOG_CPUS workers) beside them.
//   2. SCALE_SAMPLE (300) sampled IPs probed from the client every SCALE_PROBE_MS (100) ms for
//      SCALE_MINUTES (10): probe rounds answered by two MACs, unanswered rounds, speaker
//      crashes, membership flaps, RSS and CPU per speaker.
//   3. SIGKILL of two speakers: how long until the survivor answers every IP (full scan), and
//      whether any IP is left unanswered or answered twice.
//   4. The two restarted: how long until the IPs are spread again, how even the spread is
//      (goal: each node within ±10 % of an even share), any IP answered twice.
// Lab prefix: $LAB_PREFIX + "l2x-". Needs root and `make build control-plane`.

import { hostMac, nodeHosts, type NodeHost } from '../e2e/lab.js';
import { L2Cluster, sleep, speakerMetricsPort } from '../e2e/l2-cluster.js';
import {
  answerFigures,
  ArpProbe,
  arpScan,
  createL2Services,
  describeAnswerFigures,
  flapLines,
  processFigures,
  runningSpeakers,
  sample,
  speakerLogLines,
  spread,
  startCpuHog,
  type ProbeTick,
} from '../e2e/l2-scale.js';

const env = (name: string, fallback: number): number => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0)
    throw new Error(`${name}=${JSON.stringify(raw)}: expected a positive number`);
  return n;
};
const services = env('SCALE_SERVICES', 10_000);
const sampleSize = env('SCALE_SAMPLE', 300);
const probeMs = env('SCALE_PROBE_MS', 100);
const minutes = env('SCALE_MINUTES', 10);
const hogCpus = env('SCALE_HOG_CPUS', 2);
const log = (line: string): void => void process.stdout.write(`${line}\n`);
const s = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/** RSS and CPU per running speaker; with `cpuBefore` and `wallMs`, CPU over that window. */
function speakerFigures(cluster: L2Cluster, cpuBefore?: Map<NodeHost, number>, wallMs?: number): string {
  return [...runningSpeakers(cluster)]
    .map(([n, pid]) => {
      const f = processFigures(pid);
      if (!f) return `${n} gone`;
      if (cpuBefore === undefined || wallMs === undefined)
        return `${n} RSS ${f.rssMiB.toFixed(0)} MiB, CPU ${f.cpuSeconds.toFixed(1)} s since start`;
      const cpu = f.cpuSeconds - (cpuBefore.get(n) ?? 0);
      return `${n} RSS ${f.rssMiB.toFixed(0)} MiB, CPU ${cpu.toFixed(1)} s (${((100 * cpu * 1000) / wallMs).toFixed(0)} % of a core)`;
    })
    .join('; ');
}

/** Scans `ips` until each is answered by exactly one MAC of `allowed`, or `timeoutMs` passes. */
async function scanUntil(
  cluster: L2Cluster,
  ips: readonly string[],
  allowed: readonly NodeHost[],
  timeoutMs: number,
): Promise<{ ms: number; scan: Map<string, string[]>; doubles: number; unanswered: number }> {
  const macs = new Set(allowed.map(hostMac));
  const t0 = Date.now();
  let doubles = 0;
  for (;;) {
    const scan = await arpScan(cluster, ips);
    const twice = [...scan.values()].filter((m) => m.length > 1).length;
    doubles += twice;
    const unanswered = [...scan.values()].filter((m) => m.length === 0).length;
    const wrong = [...scan.values()].filter((m) => m.length === 1 && !macs.has(m[0] ?? '')).length;
    log(
      `  scan after ${s(Date.now() - t0)}: ${unanswered} unanswered, ${twice} answered twice, ${wrong} by another node`,
    );
    if ((unanswered === 0 && twice === 0 && wrong === 0) || Date.now() - t0 > timeoutMs)
      return { ms: Date.now() - t0, scan, doubles, unanswered };
    await sleep(1000);
  }
}

async function main(): Promise<void> {
  const cluster = new L2Cluster({ prefix: 'l2x-' });
  let probe: ArpProbe | undefined;
  const hog: { stop(graceMs?: number): Promise<void> }[] = [];
  try {
    log(
      `l2-scale: ${services} Services, ${sampleSize} sampled IPs every ${probeMs} ms for ${minutes} min, CPU hog ${hogCpus}`,
    );
    await cluster.up();
    const created = await createL2Services(cluster, {
      name: 'scale',
      cidr: '10.96.0.0/18',
      count: services,
      timeoutMs: 1_800_000,
      log,
    });
    const all = [...created.ips.values()].sort();
    log(`Services created and allocated in ${s(created.ms)}`);
    const sampled = sample(all, sampleSize);
    const settle = await scanUntil(cluster, all, [...nodeHosts], 600_000);
    log(
      `all ${all.length} IPs answered in ${s(settle.ms)}; spread ${fmtSpread(spread(settle.scan), all.length)}`,
    );

    // 2. Probes under a CPU hog.
    const pids = runningSpeakers(cluster);
    const cpuBefore = new Map([...pids].map(([n, pid]) => [n, processFigures(pid)?.cpuSeconds ?? 0]));
    const since = Date.now();
    // The counters below are since each speaker's start: these are where the probes begin.
    for (const n of nodeHosts)
      log(
        `  before the probes, ${n}: ${describeAnswerFigures(await answerFigures(cluster, n, speakerMetricsPort))}`,
      );
    hog.push(startCpuHog(cluster, hogCpus, minutes * 60 + 30));
    probe = await ArpProbe.start(cluster, sampled, probeMs, minutes * 60_000);
    for (let m = 1; m <= minutes; m++) {
      await sleep(60_000);
      const ticks = probe.ticks.filter((t) => t.at >= since + (m - 1) * 60_000 && t.at < since + m * 60_000);
      log(`  minute ${m}: ${tickSummary(ticks)}; ${speakerFigures(cluster, cpuBefore, Date.now() - since)}`);
      // Where unanswered rounds come from (each speaker's counters since its start).
      for (const n of nodeHosts)
        log(`    ${n}: ${describeAnswerFigures(await answerFigures(cluster, n, speakerMetricsPort))}`);
    }
    await sleep(1000);
    const doubles = probe.doubles;
    const done = await probe.stop();
    probe = undefined;
    for (const h of hog.splice(0)) await h.stop(1000);
    const crashed = [...pids.keys()].filter((n) => !runningSpeakers(cluster).has(n));
    const flaps = nodeHosts.flatMap((n) =>
      flapLines(speakerLogLines(cluster, n).filter((l) => Date.parse(String(l.ts)) >= since)),
    );
    log(
      `probes: ${done.rounds} rounds, ${done.doubles} answered by two MACs, ${done.unanswered} unanswered, ` +
        `${done.late} answered late (after the next request) ` +
        `(${((100 * done.unanswered) / Math.max(1, done.rounds)).toFixed(3)} %), crashed speakers: ${crashed.join(', ') || 'none'}, ` +
        `membership flaps: ${flaps.length}`,
    );
    for (const d of doubles.slice(0, 10)) log(`  two MACs: ${d.ip} round ${d.round} ${d.macs.join(' ')}`);
    log(`speakers: ${speakerFigures(cluster, cpuBefore, Date.now() - since)}`);

    // 3. Two speakers killed.
    await cluster.killSpeaker('node1');
    await cluster.killSpeaker('node2');
    const survivor = await scanUntil(cluster, all, ['node3'], 300_000);
    log(
      `SIGKILL node1, node2: node3 answers ${all.length - survivor.unanswered} of ${all.length} after ${s(survivor.ms)} ` +
        `(answered twice on the way: ${survivor.doubles})`,
    );

    // 4. Restarted.
    cluster.startSpeaker('node1');
    cluster.startSpeaker('node2');
    const t0 = Date.now();
    let last = survivor.scan;
    let twice = 0;
    for (;;) {
      last = await arpScan(cluster, all);
      twice += [...last.values()].filter((m) => m.length > 1).length;
      const counts = spread(last);
      const even = all.length / nodeHosts.length;
      const within = [...counts.values()].every((c) => Math.abs(c - even) <= even * 0.1);
      log(`  after ${s(Date.now() - t0)}: spread ${fmtSpread(counts, all.length)}`);
      if (within || Date.now() - t0 > 300_000) break;
      await sleep(2000);
    }
    log(
      `restart of node1, node2: spread ${fmtSpread(spread(last), all.length)} after ${s(Date.now() - t0)}, ` +
        `answered twice on the way: ${twice}`,
    );
    log(`speakers: ${speakerFigures(cluster)}`);
  } finally {
    await probe?.kill();
    for (const h of hog) await h.stop(1000).catch(() => undefined);
    const left = await cluster.down();
    if (left.length > 0) log(`left behind: ${left.join(', ')}`);
  }
}

function fmtSpread(counts: ReadonlyMap<NodeHost, number>, total: number): string {
  const even = total / nodeHosts.length;
  return [...counts]
    .map(([n, c]) => `${n} ${c} (${c >= even ? '+' : ''}${((100 * (c - even)) / even).toFixed(1)} %)`)
    .join(', ');
}

function tickSummary(ticks: readonly ProbeTick[]): string {
  const rounds = ticks.reduce((a, t) => a + t.rounds, 0);
  const unanswered = ticks.reduce((a, t) => a + t.unanswered.length, 0);
  const doubles = ticks.reduce((a, t) => a + t.doubles, 0);
  const late = ticks.reduce((a, t) => a + t.late, 0);
  return `${rounds} probes, ${unanswered} unanswered, ${late} late, ${doubles} two MACs`;
}

main().catch((err: unknown) => {
  process.stderr.write(`l2-scale: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
