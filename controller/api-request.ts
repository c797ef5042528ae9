// The controller's write edge: one authenticated JSON request to the API server. Raw rather
// than through @kubernetes/client-node so that a body can carry int64 values beyond 2^53
// (IPAddressPool status counts of large IPv6 pools) exactly, and so that every write is
// counted in one place (metallb_k8s_client_updates_total / _update_errors_total).

import http from 'node:http';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { ApiError } from '../lib/kube/transport.js';

export type PatchType = 'merge' | 'strategic';

const contentTypes: Record<PatchType, string> = {
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
  /** GET, POST or PUT with a JSON body; resolves to the parsed answer. */
  request(method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown): Promise<unknown>;
}

export class KubeApiRequester implements ApiRequester {
  constructor(
    private readonly kc: KubeConfig,
    private readonly counters: { onUpdate?: () => void; onUpdateError?: () => void } = {},
  ) {}

  async patch(path: string, type: PatchType, body: unknown): Promise<unknown> {
    this.counters.onUpdate?.();
    try {
      const text = await this.send('PATCH', path, contentTypes[type], toJSON(body));
      return text === '' ? undefined : (JSON.parse(text) as unknown);
    } catch (err) {
      this.counters.onUpdateError?.();
      throw err;
    }
  }

  async request(method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown): Promise<unknown> {
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
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) throw new ApiError('no current cluster in kubeconfig');
    const url = new URL(cluster.server + path);
    const opts: https.RequestOptions = {
      method,
      headers: {
        accept: 'application/json',
        'content-type': contentType,
        'content-length': Buffer.byteLength(body),
      },
    };
    await this.kc.applyToHTTPSOptions(opts);
    const lib = url.protocol === 'http:' ? http : https;
    return new Promise((resolve, reject) => {
      const req = lib.request(url, opts, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('error', (e) => reject(new ApiError(`${method} ${path}: ${e.message}`)));
        res.on('end', () => {
          const code = res.statusCode ?? 0;
          if (code >= 200 && code < 300) return resolve(text);
          let message = text.slice(0, 300);
          try {
            message = (JSON.parse(text) as { message?: string }).message ?? message;
          } catch {
            // not JSON: keep the text
          }
          reject(new ApiError(`${method} ${path}: ${code} ${message}`, code));
        });
      });
      req.on('error', (e) => reject(new ApiError(`${method} ${path}: ${e.message}`)));
      req.end(body);
    });
  }
}
