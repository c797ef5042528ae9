// Records core/v1 Events about objects, as `kubectl describe` shows them. A repeat of the same
// Event (same object, type, reason and message) is folded into the first one by patching its
// count and lastTimestamp, as client-go's recorder does, so a retried failure does not flood
// the API. Fire and forget: a failed Event write is logged, never retried, never fatal.

import type { Logger } from '../log.js';

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
}

interface Seen {
  name: string;
  count: number;
  firstTimestamp: string;
}

function eventTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
}

export class EventRecorder {
  private readonly seen = new Map<string, Seen>();
  private sequence = 0;

  constructor(private readonly opts: EventRecorderOptions) {}

  record(target: EventTarget, type: EventType, reason: string, message: string): void {
    void this.emit(target, type, reason, message);
  }

  /** record(), awaitable (tests). */
  async emit(target: EventTarget, type: EventType, reason: string, message: string): Promise<void> {
    const { sink, now, log } = this.opts;
    const key = JSON.stringify([
      target.kind,
      target.namespace,
      target.name,
      target.uid ?? '',
      type,
      reason,
      message,
    ]);
    const nowText = eventTime(now());
    const previous = this.seen.get(key);
    try {
      if (previous !== undefined) {
        previous.count++;
        // Refresh its place in the LRU order.
        this.seen.delete(key);
        this.seen.set(key, previous);
        await sink.patch(target.namespace, previous.name, { count: previous.count, lastTimestamp: nowText });
        return;
      }
      const name = `${target.name}.${(BigInt(now()) * 1_000_000n + BigInt(this.sequence++ % 1_000_000)).toString(16)}`;
      this.remember(key, { name, count: 1, firstTimestamp: nowText });
      await sink.create(target.namespace, {
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
      });
    } catch (err) {
      // A lost Event must not be aggregated onto: the next repeat creates it afresh.
      this.seen.delete(key);
      log.warn('could not record event', {
        object: `${target.kind} ${target.namespace}/${target.name}`,
        reason,
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }

  private remember(key: string, entry: Seen): void {
    this.seen.set(key, entry);
    const max = this.opts.maxRemembered ?? 4096;
    while (this.seen.size > max) this.seen.delete(this.seen.keys().next().value!);
  }
}
