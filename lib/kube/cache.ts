// A typed, read-only view of the objects of one kind, keyed "namespace/name" (or "name" for
// cluster-scoped objects). Only the reflector writes to it.

import type { KubeObject } from './transport.js';

export function objectKey(obj: KubeObject): string {
  const ns = obj.metadata?.namespace;
  const name = obj.metadata?.name ?? '';
  return ns ? `${ns}/${name}` : name;
}

export interface ReadonlyCache<T> {
  get(key: string): T | undefined;
  list(): T[];
  keys(): string[];
  readonly size: number;
}

export class Cache<T extends KubeObject> implements ReadonlyCache<T> {
  private readonly items = new Map<string, T>();

  get(key: string): T | undefined {
    return this.items.get(key);
  }
  list(): T[] {
    return [...this.items.values()];
  }
  keys(): string[] {
    return [...this.items.keys()];
  }
  get size(): number {
    return this.items.size;
  }

  /** Stores `obj`; true when it is new or its resourceVersion changed. */
  set(obj: T): boolean {
    const key = objectKey(obj);
    const old = this.items.get(key);
    this.items.set(key, obj);
    return !old || old.metadata?.resourceVersion !== obj.metadata?.resourceVersion;
  }

  delete(key: string): boolean {
    return this.items.delete(key);
  }

  /** Replaces the whole content (after a LIST); returns the keys that changed or went away. */
  replace(objs: T[]): string[] {
    const changed: string[] = [];
    const seen = new Set<string>();
    for (const obj of objs) {
      seen.add(objectKey(obj));
      if (this.set(obj)) changed.push(objectKey(obj));
    }
    for (const key of [...this.items.keys()])
      if (!seen.has(key)) {
        this.items.delete(key);
        changed.push(key);
      }
    return changed;
  }
}
