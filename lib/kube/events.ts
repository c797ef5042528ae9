// Records core/v1 Events about objects, as `kubectl describe` shows them. A repeat of the same
// Event (same object, type, reason and message) is folded into the first one by patching its
// count and lastTimestamp, as client-go's recorder does, so a retried failure does not flood
// the API. Fire and forget: a failed Event write is logged, never retried, never fatal.
//
// Events go out a few at a time (`maxInFlight`), in the order recorded, behind a bounded queue
// (`maxQueued`; beyond it an Event is dropped and counted), as client-go's broadcaster does:
// a burst of 10,000 allocations must not put 10,000 Event POSTs in front of the status
// writes that actually hand out the addresses.

import type { Logger } from '../log.js';
import type { ApiRequester } from './api-request.js';

export interface EventTarget {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly uid?: string;
}

export type EventType = 'Normal' | 'Warning';

export interface EventSink {
  /** POST /api/v1/namespaces/{ns}/events. */
  create(namespace: string, event: Record<string, unknown>): Promise<void>;
  /** Merge patch of an existing Event. */
  patch(namespace: string, name: string, body: Record<string, unknown>): Promise<void>;
}

export interface EventRecorderOptions {
  sink: EventSink;
  /** source.component, e.g. beacon-controller. */
  component: string;
  now: () => number;
  log: Logger;
  /** Distinct Events remembered for aggregation. */
  maxRemembered?: number;
  /**
   * Event writes sent at the same time; 4 by default. A function is asked each time a write
   * could start: the controller lets Events through one at a time while Services wait for
   * their addresses, so the writes that hand out addresses go first.
   */
  maxInFlight?: number | (() => number);
  /** Event writes waiting for a turn before new ones are dropped; 10,000 by default. */
  maxQueued?: number;
}

interface Seen {
  name: string;
  count: number;
  firstTimestamp: string;
  /** The last write of this Event: a count patch must not overtake its create. */
  last: Promise<void>;
}

function eventTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
}

export class EventRecorder {
  private readonly seen = new Map<string, Seen>();
  private sequence = 0;
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];
  private droppedCount = 0;

  constructor(private readonly opts: EventRecorderOptions) {}

  /** Events dropped because the queue was full. */
  get dropped(): number {
    return this.droppedCount;
  }

  record(target: EventTarget, type: EventType, reason: string, message: string): void {
    void this.emit(target, type, reason, message);
  }

  /** record(), awaitable: resolves once the Event is written (or given up). */
  async emit(target: EventTarget, type: EventType, reason: string, message: string): Promise<void> {
    const { sink, now } = this.opts;
    const key = JSON.stringify([
      target.kind,
      target.namespace,
      target.name,
      target.uid ?? '',
      type,
      reason,
      message,
    ]);
    // Timestamps are taken now, when the thing happened, not when the write gets its turn.
    const nowText = eventTime(now());
    const previous = this.seen.get(key);
    if (previous !== undefined) {
      const count = ++previous.count;
      // Refresh its place in the LRU order.
      this.seen.delete(key);
      this.seen.set(key, previous);
      return this.send(key, previous, target, reason, () =>
        sink.patch(target.namespace, previous.name, { count, lastTimestamp: nowText }),
      );
    }
    const name = `${target.name}.${(BigInt(now()) * 1_000_000n + BigInt(this.sequence++ % 1_000_000)).toString(16)}`;
    const entry: Seen = { name, count: 1, firstTimestamp: nowText, last: Promise.resolve() };
    this.remember(key, entry);
    return this.send(key, entry, target, reason, () =>
      sink.create(target.namespace, {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name, namespace: target.namespace },
        involvedObject: {
          apiVersion: target.apiVersion,
          kind: target.kind,
          namespace: target.namespace,
          name: target.name,
          ...(target.uid !== undefined ? { uid: target.uid } : {}),
        },
        type,
        reason,
        message,
        count: 1,
        firstTimestamp: nowText,
        lastTimestamp: nowText,
        source: { component: this.opts.component },
        reportingComponent: this.opts.component,
      }),
    );
  }

  /** One write, after the previous write of the same Event and when a slot is free. */
  private send(
    key: string,
    entry: Seen,
    target: EventTarget,
    reason: string,
    write: () => Promise<void>,
  ): Promise<void> {
    const run = async (): Promise<void> => {
      if (!(await this.acquire())) {
        if (this.droppedCount++ % 1000 === 0)
          this.opts.log.warn('event queue full, dropping events', {
            object: `${target.kind} ${target.namespace}/${target.name}`,
            reason,
            dropped: this.droppedCount,
          });
        if (this.seen.get(key) === entry) this.seen.delete(key);
        return;
      }
      try {
        await write();
      } catch (err) {
        // A lost Event must not be aggregated onto: the next repeat creates it afresh.
        if (this.seen.get(key) === entry) this.seen.delete(key);
        this.opts.log.warn('could not record event', {
          object: `${target.kind} ${target.namespace}/${target.name}`,
          reason,
          error: err instanceof Error ? err.message : String(err),
        });
      } finally {
        this.release();
      }
    };
    entry.last = entry.last.then(run);
    return entry.last;
  }

  /** Resolves to true once a write may start, or false at once when the queue is full. */
  private acquire(): Promise<boolean> {
    if (this.waiting.length === 0 && this.inFlight < this.limit()) {
      this.inFlight++;
      return Promise.resolve(true);
    }
    if (this.waiting.length >= (this.opts.maxQueued ?? 10_000)) return Promise.resolve(false);
    return new Promise((resolve) => this.waiting.push(() => resolve(true)));
  }

  private release(): void {
    this.inFlight--;
    // The limit may have changed since: start as many waiting writes as it allows now.
    while (this.waiting.length > 0 && this.inFlight < this.limit()) {
      this.inFlight++;
      this.waiting.shift()!();
    }
  }

  private limit(): number {
    const max = this.opts.maxInFlight ?? 4;
    return Math.max(1, typeof max === 'function' ? max() : max);
  }

  private remember(key: string, entry: Seen): void {
    this.seen.set(key, entry);
    const max = this.opts.maxRemembered ?? 4096;
    while (this.seen.size > max) this.seen.delete(this.seen.keys().next().value!);
  }
}

/** Events written through the API client: POST to create, merge PATCH to count a repeat. */
export function eventSink(api: ApiRequester): EventSink {
  const seg = encodeURIComponent;
  return {
    create: async (ns, event) => {
      await api.request('POST', `/api/v1/namespaces/${seg(ns)}/events`, event);
    },
    patch: async (ns, name, body) => {
      await api.patch(`/api/v1/namespaces/${seg(ns)}/events/${seg(name)}`, 'merge', body);
    },
  };
}
