// The one HTTP client both programs use against the API server: reads (paginated LIST and
// streaming WATCH, for the reflectors) and writes (JSON requests and PATCHes), authenticated by
// the kubeconfig loaded in kubeconfig.ts (or a @kubernetes/client-node KubeConfig, which has the
// same shape). Raw HTTP rather than the generated clients so that a body
// can carry int64 values beyond 2^53 exactly (toJSON), watches are streamed line by line, and
// every write is counted in one place (metallb_k8s_client_updates_total / _update_errors_total).

import http from 'node:http';
import https from 'node:https';
import { createInterface } from 'node:readline';
import {
  patchContentTypes,
  toJSON,
  type ApiRequester,
  type PatchType,
  type RequestMethod,
} from './api-request.js';
import type { ApiAccess } from './kubeconfig.js';
import { ApiError, type ListPage, type Transport, type WatchEvent, type WatchHandle } from './transport.js';

export interface WriteCounters {
  onUpdate?: () => void;
  onUpdateError?: () => void;
}

export class KubeClient implements Transport, ApiRequester {
  constructor(
    private readonly kc: ApiAccess,
    private readonly counters: WriteCounters = {},
  ) {}

  /** The API server's URL, for logs. */
  get server(): string | undefined {
    return this.kc.getCurrentCluster()?.server;
  }

  /** Opens one request; the caller reads (or destroys) the response. */
  private async open(
    method: string,
    path: string,
    query: Record<string, string>,
    headers: Record<string, string | number>,
    body?: string,
  ): Promise<{ req: http.ClientRequest; res: http.IncomingMessage }> {
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) throw new ApiError('no current cluster in kubeconfig');
    const url = new URL(cluster.server + path);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    const opts: https.RequestOptions = { method, headers: { accept: 'application/json', ...headers } };
    await this.kc.applyToHTTPSOptions(opts);
    const lib = url.protocol === 'http:' ? http : https;
    return new Promise((resolve, reject) => {
      const req = lib.request(url, opts, (res) => resolve({ req, res }));
      req.on('error', (err) => reject(new ApiError(`${method} ${path}: ${err.message}`)));
      req.end(body);
    });
  }

  async list<T>(path: string, opts: { limit: number; continue?: string }): Promise<ListPage<T>> {
    const query: Record<string, string> = { limit: String(opts.limit) };
    if (opts.continue) query.continue = opts.continue;
    const { res } = await this.open('GET', path, query, {});
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
    this.open(
      'GET',
      path,
      {
        watch: 'true',
        resourceVersion: opts.resourceVersion,
        allowWatchBookmarks: 'true',
        timeoutSeconds: String(opts.timeoutSeconds),
      },
      {},
    ).then(
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

  async patch(path: string, type: PatchType, body: unknown): Promise<unknown> {
    this.counters.onUpdate?.();
    try {
      const text = await this.send('PATCH', path, patchContentTypes[type], toJSON(body));
      return text === '' ? undefined : (JSON.parse(text) as unknown);
    } catch (err) {
      this.counters.onUpdateError?.();
      throw err;
    }
  }

  async request(method: RequestMethod, path: string, body?: unknown): Promise<unknown> {
    const write = method !== 'GET';
    if (write) this.counters.onUpdate?.();
    try {
      const text = await this.send(method, path, 'application/json', body === undefined ? '' : toJSON(body));
      return text === '' ? undefined : (JSON.parse(text) as unknown);
    } catch (err) {
      if (write) this.counters.onUpdateError?.();
      throw err;
    }
  }

  private async send(method: string, path: string, contentType: string, body: string): Promise<string> {
    const { res } = await this.open(
      method,
      path,
      {},
      { 'content-type': contentType, 'content-length': Buffer.byteLength(body) },
      body,
    );
    let text: string;
    try {
      text = await readAll(res);
    } catch (e) {
      throw new ApiError(`${method} ${path}: ${(e as Error).message}`);
    }
    const code = res.statusCode ?? 0;
    if (code >= 200 && code < 300) return text;
    let message = text.slice(0, 300);
    try {
      message = (JSON.parse(text) as { message?: string }).message ?? message;
    } catch {
      // not JSON: keep the text
    }
    throw new ApiError(`${method} ${path}: ${code} ${message}`, code);
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
