// A set of bigints stored as maximal runs [start, end] in a treap keyed by start. The
// allocator keeps one per pool and family for the occupied addresses: memory grows with the
// number of runs, not with the size of the pool (a /64 costs nothing), and "lowest free
// address at or after x" is one floor lookup, because a maximal run is always followed by a
// free address. Every operation is O(log runs) expected.
//
// Treap priorities come from a fixed-seed xorshift, so the tree shape, like everything in the
// allocator, is deterministic.

interface Node {
  start: bigint;
  end: bigint;
  priority: number;
  left: Node | undefined;
  right: Node | undefined;
}

export class IntervalSet {
  private root: Node | undefined;
  private runs = 0;
  private members = 0;
  private seed = 0x2545f491;

  /** How many values the set holds. */
  get size(): number {
    return this.members;
  }

  /** How many maximal runs hold them (the memory cost). */
  get runCount(): number {
    return this.runs;
  }

  has(x: bigint): boolean {
    const run = this.floor(x);
    return run !== undefined && run.end >= x;
  }

  /** The smallest value ≥ x that is not in the set. */
  firstAbsentAtOrAfter(x: bigint): bigint {
    const run = this.floor(x);
    return run !== undefined && run.end >= x ? run.end + 1n : x;
  }

  /** Adds x; false when it was already there. */
  add(x: bigint): boolean {
    const before = this.floor(x);
    if (before !== undefined && before.end >= x) return false;
    const after = this.ceilingAbove(x);
    const joinsBefore = before !== undefined && before.end === x - 1n;
    const joinsAfter = after !== undefined && after.start === x + 1n;
    if (joinsBefore && joinsAfter) {
      // x closes the gap between two runs: the first swallows the second.
      before.end = after.end;
      this.root = remove(this.root, after.start);
      this.runs--;
    } else if (joinsBefore) {
      before.end = x;
    } else if (joinsAfter) {
      // Lowering a key in place keeps the order: nothing lies between `before` and x.
      after.start = x;
    } else {
      this.root = insert(this.root, {
        start: x,
        end: x,
        priority: this.nextPriority(),
        left: undefined,
        right: undefined,
      });
      this.runs++;
    }
    this.members++;
    return true;
  }

  /** Removes x; false when it was not there. */
  delete(x: bigint): boolean {
    const run = this.floor(x);
    if (run === undefined || run.end < x) return false;
    if (run.start === x && run.end === x) {
      this.root = remove(this.root, x);
      this.runs--;
    } else if (run.start === x) {
      run.start = x + 1n;
    } else if (run.end === x) {
      run.end = x - 1n;
    } else {
      const tailEnd = run.end;
      run.end = x - 1n;
      this.root = insert(this.root, {
        start: x + 1n,
        end: tailEnd,
        priority: this.nextPriority(),
        left: undefined,
        right: undefined,
      });
      this.runs++;
    }
    this.members--;
    return true;
  }

  /** The runs in order, for tests and debugging. */
  *entries(): IterableIterator<[bigint, bigint]> {
    const stack: Node[] = [];
    let node = this.root;
    while (node !== undefined || stack.length > 0) {
      while (node !== undefined) {
        stack.push(node);
        node = node.left;
      }
      const top = stack.pop()!;
      yield [top.start, top.end];
      node = top.right;
    }
  }

  /** The run with the greatest start ≤ x. */
  private floor(x: bigint): Node | undefined {
    let node = this.root;
    let best: Node | undefined;
    while (node !== undefined) {
      if (node.start <= x) {
        best = node;
        node = node.right;
      } else {
        node = node.left;
      }
    }
    return best;
  }

  /** The run with the smallest start > x. */
  private ceilingAbove(x: bigint): Node | undefined {
    let node = this.root;
    let best: Node | undefined;
    while (node !== undefined) {
      if (node.start > x) {
        best = node;
        node = node.left;
      } else {
        node = node.right;
      }
    }
    return best;
  }

  private nextPriority(): number {
    let s = this.seed;
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    this.seed = s >>> 0;
    return this.seed;
  }
}

function insert(root: Node | undefined, node: Node): Node {
  if (root === undefined) return node;
  if (node.priority > root.priority) {
    const [left, right] = split(root, node.start);
    node.left = left;
    node.right = right;
    return node;
  }
  if (node.start < root.start) root.left = insert(root.left, node);
  else root.right = insert(root.right, node);
  return root;
}

/** Splits into (starts < key, starts ≥ key). */
function split(root: Node | undefined, key: bigint): [Node | undefined, Node | undefined] {
  if (root === undefined) return [undefined, undefined];
  if (root.start < key) {
    const [l, r] = split(root.right, key);
    root.right = l;
    return [root, r];
  }
  const [l, r] = split(root.left, key);
  root.left = r;
  return [l, root];
}

function merge(a: Node | undefined, b: Node | undefined): Node | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  if (a.priority > b.priority) {
    a.right = merge(a.right, b);
    return a;
  }
  b.left = merge(a, b.left);
  return b;
}

function remove(root: Node | undefined, start: bigint): Node | undefined {
  if (root === undefined) return undefined;
  if (root.start === start) return merge(root.left, root.right);
  if (start < root.start) root.left = remove(root.left, start);
  else root.right = remove(root.right, start);
  return root;
}
