// SupervisedWorker with real worker threads: a small echo worker written to a temporary file
// (it answers each message with {echo}, exits with code 3 on {exit}, throws on {throw}).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { logTexts, recordingLogger, type LogLine } from '../test/support/recording-log.js';
import { SupervisedWorker } from './supervised-worker.js';

type In = { echo?: string; exit?: boolean; throw?: boolean };
type Out = { echo: string };

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'beacon-supervised-'));
const echoWorker = path.join(dir, 'echo.mjs');
fs.writeFileSync(
  echoWorker,
  `import { parentPort } from 'node:worker_threads';
parentPort.on('message', (m) => {
  if (m.exit) process.exit(3);
  if (m.throw) throw new Error('worker broke');
  parentPort.postMessage({ echo: m.echo });
});
`,
);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('SupervisedWorker', () => {
  const workers: SupervisedWorker<In, Out>[] = [];
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop()));
  });

  function start(opts: { url?: URL; onMessage?: (m: Out) => void; lines?: LogLine[] } = {}) {
    const got: string[] = [];
    let lost = 0;
    let starts = 0;
    const w = new SupervisedWorker<In, Out>({
      name: 'echo worker',
      url: opts.url ?? pathToFileURL(echoWorker),
      log: recordingLogger(opts.lines ?? []),
      restartAfterMs: 50,
      onStart: () => [{ echo: `start ${++starts}` }],
      onMessage: opts.onMessage ?? ((m) => void got.push(m.echo)),
      onLost: () => void lost++,
    });
    workers.push(w);
    return { w, got, lost: () => lost };
  }

  test('gives a new worker its start messages first, then what is posted', async () => {
    const { w, got } = start();
    w.post({ echo: 'a' });
    await until('two echoes', () => got.length === 2);
    expect(got).toEqual(['start 1', 'a']);
  });

  test('replaces a worker that exits, tells the owner, counts it, and starts the new one afresh', async () => {
    const lines: LogLine[] = [];
    const { w, got, lost } = start({ lines });
    await until('first start', () => got.includes('start 1'));
    w.post({ exit: true });
    await until('the second start', () => got.includes('start 2'));
    expect(lost()).toBe(1);
    expect(w.restarts).toBe(1);
    expect(logTexts(lines)).toContain('error echo worker exited; starting a new one');
    w.post({ echo: 'after' });
    await until('an echo from the new worker', () => got.includes('after'));
  });

  test('replaces a worker that throws', async () => {
    const { w, got, lost } = start();
    await until('first start', () => got.includes('start 1'));
    w.post({ throw: true });
    await until('the second start', () => got.includes('start 2'));
    expect(lost()).toBe(1);
  });

  test('a worker that cannot start is counted and tried again, never thrown to the owner', async () => {
    const lines: LogLine[] = [];
    const { w, lost } = start({ url: pathToFileURL(path.join(dir, 'missing.mjs')), lines });
    await until('two attempts', () => lost() >= 2);
    expect(w.running).toBe(false);
    expect(w.restarts).toBeGreaterThanOrEqual(2);
  });

  test('a handler that throws is logged, and the worker keeps running', async () => {
    const lines: LogLine[] = [];
    const seen: string[] = [];
    const { w, lost } = start({
      lines,
      onMessage: (m) => {
        seen.push(m.echo);
        if (m.echo === 'bad') throw new Error('handler broke');
      },
    });
    w.post({ echo: 'bad' });
    w.post({ echo: 'good' });
    await until('both echoes', () => seen.includes('good'));
    expect(logTexts(lines)).toContain('error echo worker message handler failed');
    expect(lost()).toBe(0);
  });

  test('request resolves with the matching reply; stop ends the worker for good', async () => {
    const { w, got, lost } = start();
    const reply = await w.request({ echo: 'bye' }, (m) => m.echo === 'bye', 5000);
    expect(reply).toEqual({ echo: 'bye' });
    await w.stop();
    expect(w.running).toBe(false);
    await new Promise((r) => setTimeout(r, 200));
    expect(got.filter((e) => e.startsWith('start'))).toEqual(['start 1']);
    expect(lost()).toBe(0);
    expect(await w.request({ echo: 'late' }, () => true, 100)).toBeUndefined();
  });
});
