// The HTTP edge to the API server used by the watch layer: paginated LIST and streaming WATCH
// over https, authenticated by a @kubernetes/client-node KubeConfig. It carries bytes and
// objects; what to do with them is the reflector's business.

import http from 'node:http';
import https from 'node:https';
import { createInterface } from 'node:readline';
import type { KubeConfig } from '@kubernetes/client-node';

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

export class HttpsTransport implements Transport {
  constructor(private readonly kc: KubeConfig) {}

  private async request(
    path: string,
    query: Record<string, string>,
  ): Promise<{ req: http.ClientRequest; res: http.IncomingMessage }> {
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) throw new ApiError('no current cluster in kubeconfig');
    const url = new URL(cluster.server + path);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    const opts: https.RequestOptions = { method: 'GET', headers: { accept: 'application/json' } };
    await this.kc.applyToHTTPSOptions(opts);
    const lib = url.protocol === 'http:' ? http : https;
    return new Promise((resolve, reject) => {
      const req = lib.request(url, opts, (res) => resolve({ req, res }));
      req.on('error', (err) => reject(new ApiError(`GET ${path}: ${err.message}`)));
      req.end();
    });
  }

  async list<T>(path: string, opts: { limit: number; continue?: string }): Promise<ListPage<T>> {
    const query: Record<string, string> = { limit: String(opts.limit) };
    if (opts.continue) query.continue = opts.continue;
    const { res } = await this.request(path, query);
    const body = await readAll(res);
    if (res.statusCode !== 200)
      throw new ApiError(`LIST ${path}: ${res.statusCode} ${statusMessage(body)}`, res.statusCode);
    const parsed = JSON.parse(body) as {
      items?: T[];
      metadata?: { resourceVersion?: string; continue?: string };
    };
    return {
      items: parsed.items ?? [],
      resourceVersion: parsed.metadata?.resourceVersion ?? '',
      ...(parsed.metadata?.continue ? { continue: parsed.metadata.continue } : {}),
    };
  }

  watch<T>(
    path: string,
    opts: { resourceVersion: string; timeoutSeconds: number },
    onEvent: (e: WatchEvent<T>) => void,
    done: (err?: Error) => void,
  ): WatchHandle {
    let finished = false;
    let res: http.IncomingMessage | undefined;
    let req: http.ClientRequest | undefined;
    const finish = (err?: Error) => {
      if (finished) return;
      finished = true;
      res?.destroy();
      req?.destroy();
      done(err);
    };
    this.request(path, {
      watch: 'true',
      resourceVersion: opts.resourceVersion,
      allowWatchBookmarks: 'true',
      timeoutSeconds: String(opts.timeoutSeconds),
    }).then(
      async ({ req: q, res: r }) => {
        res = r;
        req = q;
        if (finished) return r.destroy();
        if (r.statusCode !== 200) {
          const body = await readAll(r).catch(() => '');
          return finish(new ApiError(`WATCH ${path}: ${r.statusCode} ${statusMessage(body)}`, r.statusCode));
        }
        // No data for longer than the server's own timeout means a dead connection.
        r.socket.setTimeout((opts.timeoutSeconds + 30) * 1000, () =>
          finish(new ApiError(`WATCH ${path}: idle timeout`)),
        );
        const lines = createInterface({ input: r });
        lines.on('line', (line) => {
          if (finished || !line.trim()) return;
          try {
            onEvent(JSON.parse(line) as WatchEvent<T>);
          } catch (err) {
            finish(new ApiError(`WATCH ${path}: bad event: ${(err as Error).message}`));
          }
        });
        // readline re-emits its input's errors (e.g. "aborted" when the server goes away
        // mid-stream) on the interface: unhandled there, they would crash the process.
        const onError = (err: Error) => finish(new ApiError(`WATCH ${path}: ${err.message}`));
        lines.on('error', onError);
        r.on('error', onError);
        r.on('close', () => finish());
      },
      (err: Error) => finish(err),
    );
    return { stop: () => finish() };
  }
}

function readAll(res: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (c: string) => (body += c));
    res.on('end', () => resolve(body));
    res.on('error', reject);
  });
}

function statusMessage(body: string): string {
  try {
    return (JSON.parse(body) as { message?: string }).message ?? body.slice(0, 200);
  } catch {
    return body.slice(0, 200);
  }
}
