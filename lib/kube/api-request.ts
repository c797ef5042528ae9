// What writers need of the API server: one JSON request (lib/kube/client.ts implements it).
// Bodies are written by toJSON so that they can carry int64 values beyond 2^53 (IPAddressPool
// status counts of large IPv6 pools) exactly.

export type PatchType = 'merge' | 'strategic';
export type RequestMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export const patchContentTypes: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
};

/** JSON text in which bigints are written as exact integers. */
export function toJSON(value: unknown): string {
  const marks: string[] = [];
  const text = JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v !== 'bigint') return v;
    marks.push(v.toString());
    return `\u0000bigint${marks.length - 1}\u0000`;
  });
  return text.replace(/"\\u0000bigint(\d+)\\u0000"/g, (_m, i: string) => marks[Number(i)]!);
}

export interface ApiRequester {
  /** Resolves to the object as the server returned it (parsed JSON), or undefined. */
  patch(path: string, type: PatchType, body: unknown): Promise<unknown>;
  /** GET, POST, PUT or DELETE with a JSON body; resolves to the parsed answer. */
  request(method: RequestMethod, path: string, body?: unknown): Promise<unknown>;
}
