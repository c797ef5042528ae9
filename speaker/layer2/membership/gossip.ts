// Gossip dissemination (SWIM §4.1, "infection-style"): each piece of news is piggybacked on
// the next outgoing messages until it has been sent λ·log2(n+1) times, least-sent first, as
// many as fit in one datagram. The budget keeps every datagram under maxDatagramBytes however
// much news there is; news that does not fit waits for the next message.

import { rumourBytes, type Rumour } from './messages.js';

interface Entry {
  readonly rumour: Rumour;
  sent: number;
  readonly bytes: number;
  /** Replaced by newer news about the same node. */
  stale: boolean;
}

/** The smallest rumour (one-letter name): below this budget nothing fits. */
const smallestRumour = 11;

export class GossipQueue {
  /** News not sent yet, newest last. */
  private fresh: Entry[] = [];
  /** Sent at least once, least-sent first (sent news moves to the back). */
  private queue: Entry[] = [];
  private readonly byNode = new Map<string, Entry>();

  constructor(private readonly multiplier = 3) {}

  get size(): number {
    return this.byNode.size;
  }

  /** Newer news about a node replaces the older one, which is not worth sending any more. */
  add(rumour: Rumour): void {
    const old = this.byNode.get(rumour.node);
    if (old !== undefined) old.stale = true;
    const entry: Entry = { rumour, sent: 0, bytes: rumourBytes(rumour), stale: false };
    this.byNode.set(rumour.node, entry);
    this.fresh.push(entry);
  }

  clear(): void {
    this.fresh = [];
    this.queue = [];
    this.byNode.clear();
  }

  /** Rumours for one message within `budget` bytes; each taken counts as sent once. */
  take(budget: number, clusterSize: number): Rumour[] {
    if (this.fresh.length === 0 && this.queue.length === 0) return [];
    if (this.fresh.length > 0) {
      const fresh = this.fresh.filter((e) => !e.stale).reverse();
      this.fresh = [];
      this.queue = fresh.concat(this.queue);
    }
    const limit = this.multiplier * Math.ceil(Math.log2(clusterSize + 1));
    const out: Rumour[] = [];
    const taken: Entry[] = [];
    const kept: Entry[] = [];
    let left = budget;
    let i = 0;
    for (; i < this.queue.length && left >= smallestRumour && taken.length < 255; i++) {
      const e = this.queue[i] as Entry;
      if (e.stale) continue;
      if (e.bytes <= left) {
        left -= e.bytes;
        out.push(e.rumour);
        e.sent++;
        taken.push(e);
      } else kept.push(e);
    }
    if (taken.length === 0) return out;
    for (; i < this.queue.length; i++) kept.push(this.queue[i] as Entry);
    for (const e of taken) {
      if (e.sent >= limit) {
        if (this.byNode.get(e.rumour.node) === e) this.byNode.delete(e.rumour.node);
      } else kept.push(e);
    }
    this.queue = kept;
    return out;
  }
}
