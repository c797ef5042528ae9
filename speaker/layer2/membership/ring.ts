// Who monitors whom: the live nodes on a ring ordered by a hash of their names, each node
// monitored by the next k nodes after it (bounded fan-out, as in ring-based failure detectors
// and Consul/Serf's k-nearest variants). Heartbeat traffic per node is then k datagrams per
// interval whatever the cluster size, and every node has k independent observers.

import { textHash } from '../ownership/hrw.js';

interface Slot {
  readonly name: string;
  readonly hash: number;
}

function before(a: Slot, b: Slot): boolean {
  return a.hash !== b.hash ? a.hash < b.hash : a.name < b.name;
}

/** Ring positions depend on the name only: one cache for every ring in the process. */
const ringHashes = new Map<string, number>();

export class Ring {
  private readonly slots: Slot[] = [];
  private readonly members = new Set<string>();

  get size(): number {
    return this.slots.length;
  }

  has(name: string): boolean {
    return this.members.has(name);
  }

  add(name: string): void {
    if (this.members.has(name)) return;
    this.members.add(name);
    const slot = this.slot(name);
    this.slots.splice(this.position(slot), 0, slot);
  }

  /** Adds many at once: one sort instead of one insertion each. */
  addMany(names: readonly string[]): void {
    let added = false;
    for (const name of names) {
      if (this.members.has(name)) continue;
      this.members.add(name);
      this.slots.push(this.slot(name));
      added = true;
    }
    if (added) this.slots.sort((a, b) => (before(a, b) ? -1 : before(b, a) ? 1 : 0));
  }

  remove(name: string): void {
    if (!this.members.delete(name)) return;
    const i = this.position(this.slot(name));
    this.slots.splice(i, 1);
  }

  /** The member at position `i` in ring order. */
  at(i: number): string | undefined {
    return this.slots[i]?.name;
  }

  /** The first k members after `name` on the ring (fewer when the ring is smaller). */
  successors(name: string, k: number): string[] {
    const n = this.slots.length;
    if (n === 0) return [];
    const self = this.slot(name);
    let i = this.position(self);
    const out: string[] = [];
    for (let step = 0; step < n && out.length < k; step++, i++) {
      const s = this.slots[i % n] as Slot;
      if (s.name !== name) out.push(s.name);
    }
    return out;
  }

  /** First index whose slot is not before `slot`. */
  private position(slot: Slot): number {
    let lo = 0;
    let hi = this.slots.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (before(this.slots[mid] as Slot, slot)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private slot(name: string): Slot {
    let hash = ringHashes.get(name);
    if (hash === undefined) {
      if (ringHashes.size > 100_000) ringHashes.clear();
      ringHashes.set(name, (hash = textHash(`ring#${name}`)));
    }
    return { name, hash };
  }
}
