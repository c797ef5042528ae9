// The result of every l2 decoder: a typed value, or a typed reason why the bytes were
// rejected. Decoders never throw on input bytes; a frame off the wire is untrusted.

export type Decoded<T, R extends string> = { ok: true; value: T } | Malformed<R>;

export interface Malformed<R extends string> {
  ok: false;
  reason: R;
  /** Human-readable detail for logs and debug metrics, e.g. "hop limit 64, want 255". */
  detail: string;
}

export function decoded<T>(value: T): { ok: true; value: T } {
  return { ok: true, value };
}

export function malformed<R extends string>(reason: R, detail: string): Malformed<R> {
  return { ok: false, reason, detail };
}
