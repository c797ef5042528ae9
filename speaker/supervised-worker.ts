// One worker thread kept running for the speaker: BFD (bgp/bfd/worker.ts) and layer 2
// membership (layer2/membership/worker.ts) each run their time-critical loop in one, so that bulk
// work on the main thread cannot delay it. A worker that fails to start, throws or exits is
// logged, counted and replaced after a pause; the speaker never goes down with it. What a lost
// worker means (sessions reported down, the answer lease fenced) is the owner's `onLost`; what
// a new worker must be told first (its start message, the state to replay) is the owner's
// `onStart`.

import { Worker } from 'node:worker_threads';
import type { Logger } from '../lib/log.js';

export interface SupervisedWorkerOptions<In, Out> {
  /** How log lines name it, e.g. "BFD worker". */
  readonly name: string;
  /** The compiled worker module. */
  readonly url: URL;
  readonly log: Logger;
  /** Pause before a lost worker is replaced, ms (default 1000). */
  readonly restartAfterMs?: number;
  /** The messages a new worker gets before any other: its start message and the state to replay. */
  readonly onStart: () => readonly In[];
  readonly onMessage: (m: Out) => void;
  /** A worker was lost, or did not start; a new one follows after the pause. */
  readonly onLost: () => void;
}

export class SupervisedWorker<In, Out> {
  readonly #o: SupervisedWorkerOptions<In, Out>;
  #worker: Worker | undefined;
  #restart: NodeJS.Timeout | undefined;
  #stopped = false;
  /** Workers lost so far (exits, failed starts). */
  restarts = 0;

  constructor(opts: SupervisedWorkerOptions<In, Out>) {
    this.#o = opts;
    this.#spawn();
  }

  /** Whether a worker is running now. */
  get running(): boolean {
    return this.#worker !== undefined;
  }

  /**
   * Posts to the running worker; without one the message is dropped, since `onStart` gives the
   * next worker the whole state it needs.
   */
  post(m: In): void {
    try {
      this.#worker?.postMessage(m);
    } catch (err) {
      this.#o.log.warn(`${this.#o.name}: message not delivered`, { error: (err as Error).message });
    }
  }

  /**
   * Posts `m` and resolves with the first message from the worker that `done` accepts, or with
   * undefined after `timeoutMs` or when no worker runs (for goodbye handshakes on shutdown).
   */
  async request(m: In, done: (reply: Out) => boolean, timeoutMs: number): Promise<Out | undefined> {
    const w = this.#worker;
    if (w === undefined) return undefined;
    let onMessage: ((reply: Out) => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await new Promise<Out | undefined>((resolve) => {
        onMessage = (reply: Out): void => {
          if (done(reply)) resolve(reply);
        };
        w.on('message', onMessage);
        timer = setTimeout(() => resolve(undefined), timeoutMs);
        timer.unref();
        this.post(m);
      });
    } finally {
      if (onMessage) w.off('message', onMessage);
      if (timer) clearTimeout(timer);
    }
  }

  /** Ends the worker as a crash would (it is replaced): for tests and debugging. */
  async kill(): Promise<void> {
    await this.#worker?.terminate();
  }

  /** Ends the worker for good; no replacement follows. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#restart) clearTimeout(this.#restart);
    this.#restart = undefined;
    const w = this.#worker;
    this.#worker = undefined;
    await w?.terminate();
  }

  #spawn(): void {
    this.#restart = undefined;
    if (this.#stopped) return;
    let w: Worker;
    try {
      w = new Worker(this.#o.url);
    } catch (err) {
      this.#o.log.error(`${this.#o.name} did not start`, { error: (err as Error).message });
      this.#lost();
      return;
    }
    this.#worker = w;
    w.on('message', (m: Out) => {
      try {
        this.#o.onMessage(m);
      } catch (err) {
        this.#o.log.error(`${this.#o.name} message handler failed`, { error: (err as Error).message });
      }
    });
    w.on('error', (err) => this.#o.log.error(`${this.#o.name} failed`, { error: err.message }));
    w.on('exit', (code) => {
      if (this.#worker !== w) return;
      this.#worker = undefined;
      if (this.#stopped) return;
      this.#o.log.error(`${this.#o.name} exited; starting a new one`, { code });
      this.#lost();
    });
    try {
      for (const m of this.#o.onStart()) w.postMessage(m);
    } catch (err) {
      // The worker cannot work without its start: end it, which counts as a loss.
      this.#o.log.error(`${this.#o.name}: start not delivered`, { error: (err as Error).message });
      void w.terminate();
    }
  }

  #lost(): void {
    this.restarts++;
    try {
      this.#o.onLost();
    } catch (err) {
      this.#o.log.error(`${this.#o.name}-lost handler failed`, { error: (err as Error).message });
    }
    if (this.#stopped) return;
    this.#restart = setTimeout(() => this.#spawn(), this.#o.restartAfterMs ?? 1000);
    this.#restart.unref();
  }
}
