// A work queue of object keys for level-triggered reconcilers (client-go's workqueue, reduced
// to what the controller needs): a key waits at most once however often it is added; a key is
// never handled by two workers at once, and one added while it is being handled runs again
// afterwards; a handler that throws is retried after an exponential delay, and a success
// resets that delay. Time is injected (`schedule`), so tests drive retries.

export interface WorkQueueOptions {
  handler: (key: string) => Promise<void>;
  /** Keys handled at the same time (different keys only). */
  concurrency?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  schedule?: (fn: () => void, ms: number) => void;
  onRetry?: (key: string, err: unknown, delayMs: number) => void;
}

const defaultSchedule = (fn: () => void, ms: number): void => {
  setTimeout(fn, ms).unref();
};

export class WorkQueue {
  private items: string[] = [];
  private head = 0;
  private readonly queued = new Set<string>();
  private readonly active = new Set<string>();
  private readonly again = new Set<string>();
  private readonly failures = new Map<string, number>();
  private idleWaiters: (() => void)[] = [];
  private stopped = false;

  constructor(private readonly opts: WorkQueueOptions) {}

  add(key: string): void {
    if (this.stopped) return;
    if (this.active.has(key)) {
      this.again.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.items.push(key);
    this.pump();
  }

  addAll(keys: Iterable<string>): void {
    for (const key of keys) this.add(key);
  }

  /** Keys waiting or being handled (retries waiting for their delay are not counted). */
  get length(): number {
    return this.items.length - this.head + this.active.size;
  }

  /** How many times in a row the key has failed. */
  failuresOf(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Resolves when nothing is waiting or being handled. */
  idle(): Promise<void> {
    if (this.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  stop(): void {
    this.stopped = true;
    this.items = [];
    this.head = 0;
    this.queued.clear();
  }

  private pump(): void {
    const limit = this.opts.concurrency ?? 1;
    while (this.active.size < limit && this.head < this.items.length) {
      const key = this.items[this.head++]!;
      if (this.head > 1024 && this.head * 2 > this.items.length) {
        this.items = this.items.slice(this.head);
        this.head = 0;
      }
      this.queued.delete(key);
      this.active.add(key);
      void this.run(key);
    }
    if (this.length === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  private async run(key: string): Promise<void> {
    try {
      await this.opts.handler(key);
      this.failures.delete(key);
    } catch (err) {
      const n = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, n);
      const delay = Math.min(this.opts.maxDelayMs ?? 30_000, (this.opts.baseDelayMs ?? 100) * 2 ** (n - 1));
      this.opts.onRetry?.(key, err, delay);
      (this.opts.schedule ?? defaultSchedule)(() => this.add(key), delay);
    } finally {
      this.active.delete(key);
      if (this.again.delete(key)) this.add(key);
      this.pump();
    }
  }
}
