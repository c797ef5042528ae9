// What the watch layer needs of the API server: paginated LIST and streaming WATCH. It carries
// objects; what to do with them is the reflector's business. lib/kube/client.ts implements it.

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
}

export interface ListPage<T> {
  items: T[];
  resourceVersion: string;
  continue?: string;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
export interface WatchEvent<T> {
  type: WatchEventType;
  object: T | { kind: 'Status'; code?: number; reason?: string; message?: string };
}

/** An HTTP failure, with the status code when the server answered. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface WatchHandle {
  stop(): void;
}

export interface Transport {
  list<T>(path: string, opts: { limit: number; continue?: string }): Promise<ListPage<T>>;
  /** Streams events until the server closes (done(undefined)) or it fails (done(err)). */
  watch<T>(
    path: string,
    opts: { resourceVersion: string; timeoutSeconds: number },
    onEvent: (e: WatchEvent<T>) => void,
    done: (err?: Error) => void,
  ): WatchHandle;
}
