// BfdWorkerClient with its real worker thread (the compiled dist/speaker/bgp/bfd/worker.js:
// `make build` first) over UDP on loopback: two clients on 127.0.0.1 and 127.0.0.2 bring a
// session Up; when one client's worker is killed, that client reports the session down,
// counts the loss, starts a new worker with the same session, and both sides come Up again.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { logTexts, recordingLogger, type LogLine } from '../../../test/support/recording-log.js';
import { BfdWorkerClient } from './client.js';
import type { BfdStateChange } from './sessions.js';

const workerUrl = pathToFileURL(path.join(process.cwd(), 'dist/speaker/bgp/bfd/worker.js'));
const port = 30000 + (process.pid % 10000);
const profile = { receiveIntervalMs: 50, transmitIntervalMs: 50, detectMultiplier: 3, passiveMode: false };

function waitFor(c: BfdWorkerClient, event: 'up' | 'down', timeoutMs: number): Promise<BfdStateChange> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ${event} within ${timeoutMs} ms`)), timeoutMs);
    c.once(event, (ch) => {
      clearTimeout(t);
      resolve(ch);
    });
  });
}

describe('BfdWorkerClient on loopback', () => {
  const clients: BfdWorkerClient[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  test('runs sessions in its worker, and survives the worker being killed', async () => {
    const linesA: LogLine[] = [];
    let lostA = 0;
    const a = new BfdWorkerClient({
      log: recordingLogger(linesA),
      listen: { v4: ['127.0.0.1'], v6: [] },
      port,
      workerUrl,
      statsEveryMs: 100,
      // Longer than B's detection time (3 x 50 ms) with margin for a busy machine: a new worker
      // that starts sooner sends Down, and B then goes Down with "Neighbor Signaled Session Down"
      // (RFC 5880 section 6.8.6) instead of detecting the silence this test is about.
      restartAfterMs: 1500,
      onWorkerLost: () => lostA++,
    });
    const b = new BfdWorkerClient({
      log: recordingLogger([]),
      listen: { v4: ['127.0.0.2'], v6: [] },
      port,
      workerUrl,
      statsEveryMs: 100,
    });
    clients.push(a, b);
    const upA = waitFor(a, 'up', 10_000);
    const upB = waitFor(b, 'up', 10_000);
    a.add('127.0.0.2', '127.0.0.1', profile);
    b.add('127.0.0.1', '127.0.0.2', profile);
    await Promise.all([upA, upB]);
    expect(a.isUp('127.0.0.2')).toBe(true);
    // Counters arrive from the worker.
    await new Promise((r) => setTimeout(r, 300));
    expect(a.stats()).toEqual([expect.objectContaining({ peer: '127.0.0.2', state: 'Up', ttlRejected: 0 })]);
    expect(a.stats()[0]!.packetsIn).toBeGreaterThan(0);

    // A's worker dies: A reports the session down at once; B detects it from silence.
    const downA = waitFor(a, 'down', 5000);
    const downB = waitFor(b, 'down', 5000);
    await a.killWorker();
    expect(await downA).toMatchObject({
      peer: '127.0.0.2',
      from: 'Up',
      to: 'Down',
      diagName: 'BFD worker exited',
    });
    expect((await downB).diagName).toBe('Control Detection Time Expired');
    expect(lostA).toBe(1);
    expect(a.restarts).toBe(1);
    expect(logTexts(linesA)).toContain('error BFD worker exited; starting a new one');

    // The new worker has the same session, and both sides come Up again.
    const again = await Promise.all([waitFor(a, 'up', 10_000), waitFor(b, 'up', 10_000)]);
    expect(again.map((c) => c.to)).toEqual(['Up', 'Up']);
    expect(a.isUp('127.0.0.2')).toBe(true);
  });

  test('close tells the peer AdminDown, which is not a failure to report', async () => {
    const a = new BfdWorkerClient({
      log: recordingLogger([]),
      listen: { v4: ['127.0.0.1'], v6: [] },
      port: port + 1,
      workerUrl,
    });
    const b = new BfdWorkerClient({
      log: recordingLogger([]),
      listen: { v4: ['127.0.0.2'], v6: [] },
      port: port + 1,
      workerUrl,
    });
    clients.push(b);
    const ups = Promise.all([waitFor(a, 'up', 10_000), waitFor(b, 'up', 10_000)]);
    a.add('127.0.0.2', '127.0.0.1', profile);
    b.add('127.0.0.1', '127.0.0.2', profile);
    await ups;
    const downB = waitFor(b, 'down', 5000);
    await a.close();
    expect(await downB).toMatchObject({ from: 'Up', to: 'Down', remoteAdminDown: true });
    expect(() => a.add('127.0.0.3', '127.0.0.1', profile)).toThrow('BFD worker client is closed');
  });
});
