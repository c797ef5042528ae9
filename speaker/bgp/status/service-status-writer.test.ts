// ServiceBGPStatus objects against an in-memory API: a change of some Services writes those
// Services' objects only, several requests at a time, and a failed write is retried on the
// next pass (after listing what the server has) without rewriting the others.

import { createLogger } from '../../../lib/log.js';
import type { ApiRequester } from '../../../lib/kube/api-request.js';
import { ServiceBgpStatusWriter } from './service-status-writer.js';

class MemoryApi implements ApiRequester {
  readonly objects = new Map<string, { labels: Record<string, string>; status?: unknown }>();
  readonly calls: string[] = [];
  inFlight = 0;
  maxInFlight = 0;
  failNext = 0;
  private n = 0;

  private async enter<T>(call: string, f: () => T): Promise<T> {
    this.calls.push(call);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await new Promise((r) => setTimeout(r, 2));
    this.inFlight--;
    if (this.failNext > 0) {
      this.failNext--;
      throw Object.assign(new Error('server busy'), { status: 500 });
    }
    return f();
  }

  patch(path: string, _type: string, body: unknown): Promise<unknown> {
    const name = path.split('/').at(-2)!;
    return this.enter(`status ${name}`, () => {
      const o = this.objects.get(name);
      if (o) o.status = (body as { status: unknown }).status;
      return {};
    });
  }

  request(method: string, path: string, body?: unknown): Promise<unknown> {
    if (method === 'GET')
      // Every object is this node's: the writer lists them after a failed pass.
      return Promise.resolve({
        items: [...this.objects].map(([name, o]) => ({
          metadata: { name, labels: o.labels },
          status: o.status,
        })),
      });
    if (method === 'POST')
      return this.enter('create', () => {
        const name = `bgp-${++this.n}`;
        const labels = (body as { metadata: { labels: Record<string, string> } }).metadata.labels;
        this.objects.set(name, { labels });
        return { metadata: { name } };
      });
    const name = path.split('/').at(-1)!;
    return this.enter(`delete ${name}`, () => void this.objects.delete(name));
  }

  peersOf(service: string): unknown {
    for (const o of this.objects.values())
      if (o.labels['metallb.io/service-name'] === service) return (o.status as { peers?: unknown })?.peers;
    return undefined;
  }
}

const quiet = createLogger({ level: 'error', component: 'test', write: () => undefined });

async function settle(api: MemoryApi, check: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !(check() && api.inFlight === 0); i++)
    await new Promise((r) => setTimeout(r, 5));
  if (!check()) throw new Error('did not converge');
}

describe('ServiceBgpStatusWriter', () => {
  it('writes only the Services that changed, several at a time, and retries what failed', async () => {
    const api = new MemoryApi();
    const writer = new ServiceBgpStatusWriter({
      node: 'n1',
      namespace: 'metallb-system',
      api,
      log: quiet,
      minIntervalMs: 0,
      retryMs: 10,
    });
    writer.set(new Map(Array.from({ length: 40 }, (_, i) => [`ns/s${i}`, ['r1']])));
    await settle(api, () => api.objects.size === 40 && api.peersOf('s39') !== undefined);
    expect(api.maxInFlight).toBeGreaterThan(1);
    expect(api.maxInFlight).toBeLessThanOrEqual(4);

    api.calls.length = 0;
    api.failNext = 1;
    writer.change(
      new Map<string, readonly string[] | undefined>([
        ['ns/s3', ['r1', 'r2']],
        ['ns/s4', undefined],
        ['ns/s40', ['r2']],
      ]),
    );
    await settle(
      api,
      () =>
        api.objects.size === 40 &&
        String(api.peersOf('s3')) === 'r1,r2' &&
        String(api.peersOf('s40')) === 'r2',
    );
    expect(api.peersOf('s4')).toBeUndefined();
    // The three Services (one call failed and was made again), nothing for the other 37.
    expect(api.calls.filter((c) => c.startsWith('status')).length).toBeLessThanOrEqual(3);
    expect(api.calls.length).toBeLessThanOrEqual(5);
    await writer.clear();
    expect(api.objects.size).toBe(0);
  });
});
