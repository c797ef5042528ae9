// Reading raw Kubernetes objects (as listed from the API) defensively: the schema should have
// enforced types, but objects written under an older CRD, or by a client that bypassed it,
// must not crash the builder. Every accessor returns undefined for "absent or wrong type".

import type { LabelSelector } from '../kube/label-selector.js';

export type Raw = Record<string, unknown>;

export function asRecord(v: unknown): Raw | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Raw) : undefined;
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

export function bool(v: unknown): boolean | undefined {
  return typeof v === 'boolean' ? v : undefined;
}

export function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

export function records(v: unknown): Raw[] {
  return Array.isArray(v) ? v.map(asRecord).filter((x): x is Raw => x !== undefined) : [];
}

export function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(asRecord(v) ?? {})) if (typeof val === 'string') out[k] = val;
  return out;
}

export interface ObjectMeta {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  creationTimestamp: string;
}

export function meta(obj: unknown): ObjectMeta {
  const m = asRecord(asRecord(obj)?.metadata) ?? {};
  return {
    name: str(m.name) ?? '',
    namespace: str(m.namespace) ?? '',
    labels: stringMap(m.labels),
    creationTimestamp: str(m.creationTimestamp) ?? '',
  };
}

export function spec(obj: unknown): Raw {
  return asRecord(asRecord(obj)?.spec) ?? {};
}

export function labelSelector(v: unknown): LabelSelector {
  const r = asRecord(v) ?? {};
  const sel: { matchLabels?: Record<string, string>; matchExpressions?: LabelSelector['matchExpressions'] } =
    {};
  if (r.matchLabels !== undefined) sel.matchLabels = stringMap(r.matchLabels);
  if (r.matchExpressions !== undefined)
    sel.matchExpressions = records(r.matchExpressions).map((e) => ({
      key: str(e.key) ?? '',
      operator: (str(e.operator) ?? '') as 'In',
      values: strings(e.values),
    }));
  return sel as LabelSelector;
}

const unitMs: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** A Go/metav1.Duration string ("90s", "1m30s", "300ms") in milliseconds; undefined if invalid. */
export function parseDuration(text: string): number | undefined {
  const t = text.trim();
  if (t === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/y;
  let total = 0;
  let pos = 0;
  while (pos < t.length) {
    re.lastIndex = pos;
    const m = re.exec(t);
    if (!m) return undefined;
    total += Number(m[1]) * unitMs[m[2]!]!;
    pos = re.lastIndex;
  }
  return pos > 0 ? total : undefined;
}

/** Stable processing order: oldest object first, then by name (the first-created one wins a conflict). */
export function byAge(a: unknown, b: unknown): number {
  const ma = meta(a);
  const mb = meta(b);
  if (ma.creationTimestamp !== mb.creationTimestamp)
    return ma.creationTimestamp < mb.creationTimestamp ? -1 : 1;
  return ma.name < mb.name ? -1 : ma.name > mb.name ? 1 : 0;
}
