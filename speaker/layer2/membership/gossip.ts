// Gossip dissemination (SWIM §4.1, "infection-style"): each piece of news is piggybacked on
// the next outgoing messages until it has been sent λ·log2(n+1) times, least-sent first, as
// many as fit in one datagram. The budget keeps every datagram under maxDatagramBytes however
// much news there is; news that does not fit waits for the next message.

import { rumourBytes, type Rumour } from './messages.js';

interface Entry {
  rumour: Rumour;
  sent: number;
  bytes: number;
}

export class GossipQueue {
  /** Least-sent first: new news is put in front, sent news moves to the back. */
  private queue: Entry[] = [];
  private readonly byNode = new Map<string, Entry>();

  constructor(private readonly multiplier = 3) {}

  get size(): number {
    return this.byNode.size;
  }

  /** Newer news about a node replaces the older one, which is not worth sending any more. */
  add(rumour: Rumour): void {
    const old = this.byNode.get(rumour.node);
    if (old !== undefined) this.queue = this.queue.filter((e) => e !== old);
    const entry = { rumour, sent: 0, bytes: rumourBytes(rumour) };
    this.byNode.set(rumour.node, entry);
    this.queue.unshift(entry);
  }

  clear(): void {
    this.queue = [];
    this.byNode.clear();
  }

  /** Rumours for one message within `budget` bytes; each taken counts as sent once. */
  take(budget: number, clusterSize: number): Rumour[] {
    if (this.queue.length === 0) return [];
    const limit = this.multiplier * Math.ceil(Math.log2(clusterSize + 1));
    const out: Rumour[] = [];
    const taken: Entry[] = [];
    const kept: Entry[] = [];
    let left = budget;
    let i = 0;
    // The smallest rumour is 11 bytes (one-letter name): stop scanning once none can fit.
    for (; i < this.queue.length && left >= 11 && taken.length < 255; i++) {
      const e = this.queue[i] as Entry;
      if (e.bytes <= left) {
        left -= e.bytes;
        out.push(e.rumour);
        e.sent++;
        taken.push(e);
      } else kept.push(e);
    }
    for (; i < this.queue.length; i++) kept.push(this.queue[i] as Entry);
    this.queue = kept;
    for (const e of taken) {
      if (e.sent >= limit) this.byNode.delete(e.rumour.node);
      else this.queue.push(e);
    }
    return out;
  }

  /** The most recent news, without counting it as sent (a fast push of what just changed). */
  peek(budget: number): Rumour[] {
    const out: Rumour[] = [];
    let left = budget;
    for (const e of this.queue) {
      if (e.bytes > left) break;
      left -= e.bytes;
      out.push(e.rumour);
    }
    return out;
  }
}
