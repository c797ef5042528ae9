// A binary min-heap of timed events for the simulation (ties: insertion order).

export interface Timed {
  readonly at: number;
}

export class EventHeap<T extends Timed> {
  private readonly items: { at: number; n: number; value: T }[] = [];
  private counter = 0;

  get size(): number {
    return this.items.length;
  }

  push(value: T): void {
    const item = { at: value.at, n: this.counter++, value };
    const a = this.items;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = a[p] as (typeof a)[number];
      if (parent.at < item.at || (parent.at === item.at && parent.n < item.n)) break;
      a[i] = parent;
      i = p;
    }
    a[i] = item;
  }

  pop(): T | undefined {
    const a = this.items;
    const top = a[0];
    if (top === undefined) return undefined;
    const last = a.pop() as (typeof a)[number];
    if (a.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        let best = last;
        const left = a[l];
        if (left !== undefined && (left.at < best.at || (left.at === best.at && left.n < best.n))) {
          m = l;
          best = left;
        }
        const right = a[r];
        if (right !== undefined && (right.at < best.at || (right.at === best.at && right.n < best.n))) {
          m = r;
          best = right;
        }
        if (m === i) break;
        a[i] = best;
        i = m;
      }
      a[i] = last;
    }
    return top.value;
  }

  peekAt(): number | undefined {
    return this.items[0]?.at;
  }
}
