// Per-Service status objects converge to exactly one per Service this node wants, whatever
// happened behind the writer's back: an object deleted by someone else (another node that took
// this one for gone, a user) is created again, and a create whose answer an API outage lost
// (the server made the object, the writer never learnt its name) does not leave a duplicate.
// Against an in-memory API server that lists by label selector.

import type { ApiRequester, PatchType, RequestMethod } from '../../lib/kube/api-request.js';
import { createLogger } from '../../lib/log.js';
import { ServiceStatusWriter, type ServiceStatus } from './service-status-writer.js';

interface Stored {
  name: string;
  labels: Record<string, string>;
  status?: ServiceStatus & { note?: string };
}

class MemoryApi implements ApiRequester {
  readonly objects = new Map<string, Stored>();
  /** The next POST makes its object, then fails as if the answer was lost. */
  loseNextCreateAnswer = false;
  down = false;
  /** POST, PATCH and DELETE requests answered. */
  writes = 0;
  private n = 0;

  private async call<T>(f: () => T): Promise<T> {
    await new Promise((r) => setTimeout(r, 1));
    if (this.down) throw Object.assign(new Error('connection refused'), { status: 503 });
    return f();
  }

  patch(path: string, _type: PatchType, body: unknown): Promise<unknown> {
    const parts = path.split('/');
    const name = parts.at(-1) === 'status' ? parts.at(-2)! : parts.at(-1)!;
    return this.call(() => {
      this.writes++;
      const o = this.objects.get(name);
      if (!o) throw Object.assign(new Error(`${name} not found`), { status: 404 });
      const status = (body as { status?: Stored['status'] }).status;
      if (status) o.status = status;
      return {};
    });
  }

  request(method: RequestMethod, path: string, body?: unknown): Promise<unknown> {
    return this.call(() => {
      if (method === 'GET') {
        const selector = decodeURIComponent(path.split('labelSelector=')[1] ?? '');
        const want = selector.split(',').map((kv) => kv.split('='));
        const items = [...this.objects.values()]
          .filter((o) => want.every(([k, v]) => o.labels[k!] === v))
          .map((o) => ({ metadata: { name: o.name, labels: o.labels }, status: o.status }));
        return { items };
      }
      this.writes++;
      if (method === 'POST') {
        const name = `st-${++this.n}`;
        const labels = (body as { metadata: { labels: Record<string, string> } }).metadata.labels;
        this.objects.set(name, { name, labels });
        if (this.loseNextCreateAnswer) {
          this.loseNextCreateAnswer = false;
          throw Object.assign(new Error('socket hang up'), { status: 0 });
        }
        return { metadata: { name } };
      }
      this.objects.delete(path.split('/').at(-1)!);
      return {};
    });
  }

  /** Service name → how many objects of `node` name it, and what they say. */
  byService(node: string): Map<string, (string | undefined)[]> {
    const out = new Map<string, (string | undefined)[]>();
    for (const o of this.objects.values()) {
      if (o.labels['metallb.io/node'] !== node) continue;
      const svc = o.labels['metallb.io/service-name']!;
      out.set(svc, [...(out.get(svc) ?? []), o.status?.note]);
    }
    return out;
  }
}

const quiet = createLogger({ level: 'error', component: 'test', write: () => undefined });

function writer(api: MemoryApi): ServiceStatusWriter<string, ServiceStatus & { note?: string }> {
  return new ServiceStatusWriter(
    { node: 'n1', namespace: 'metallb-system', api, log: quiet, minIntervalMs: 0, retryMs: 5, resyncMs: 0 },
    {
      kind: 'ServiceL2Status',
      plural: 'servicel2statuses',
      generateName: 'l2-',
      status: (note) => ({ note }),
      fingerprint: (note) => note,
      writtenFingerprint: (status) => status?.note ?? '',
    },
  );
}

async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  if (!check()) throw new Error(`never: ${what}`);
}

const exactlyOneEach = (api: MemoryApi, want: Record<string, string>) => (): boolean => {
  const got = api.byService('n1');
  return (
    got.size === Object.keys(want).length &&
    Object.entries(want).every(([svc, note]) => JSON.stringify(got.get(svc)) === JSON.stringify([note]))
  );
};

describe('ServiceStatusWriter', () => {
  it('creates again, at the next resync, an object someone else deleted', async () => {
    const api = new MemoryApi();
    const w = writer(api);
    try {
      w.set(
        new Map([
          ['ns/a', 'eth0'],
          ['ns/b', 'eth0'],
          ['ns/c', 'eth1'],
        ]),
      );
      await until('three objects', exactlyOneEach(api, { a: 'eth0', b: 'eth0', c: 'eth1' }));
      const [bName] = [...api.objects.values()].filter((o) => o.labels['metallb.io/service-name'] === 'b');
      api.objects.delete(bName!.name);
      // Nothing this node wants changed, so no pass would notice; a resync does.
      w.resync();
      await until('b again', exactlyOneEach(api, { a: 'eth0', b: 'eth0', c: 'eth1' }));
    } finally {
      await w.clear();
    }
    expect(api.objects.size).toBe(0);
  });

  it('leaves no duplicate when an outage lost the answer to a create', async () => {
    const api = new MemoryApi();
    const w = writer(api);
    try {
      w.set(new Map([['ns/a', 'eth0']]));
      await until('a', exactlyOneEach(api, { a: 'eth0' }));
      api.loseNextCreateAnswer = true;
      w.change(new Map([['ns/b', 'eth0']]));
      // The server made b's object; the writer saw an error, and retries after listing.
      await until('b once', exactlyOneEach(api, { a: 'eth0', b: 'eth0' }));
      expect(api.objects.size).toBe(2);
    } finally {
      await w.clear();
    }
  });

  it('corrects, after the API comes back, what an outage left: a changed status, a Service gone meanwhile', async () => {
    const api = new MemoryApi();
    const w = writer(api);
    try {
      w.set(
        new Map([
          ['ns/a', 'eth0'],
          ['ns/b', 'eth0'],
        ]),
      );
      await until('a and b', exactlyOneEach(api, { a: 'eth0', b: 'eth0' }));
      api.down = true;
      w.change(
        new Map([
          ['ns/a', 'eth1'],
          ['ns/b', undefined],
          ['ns/c', 'eth0'],
        ]),
      );
      await new Promise((r) => setTimeout(r, 50));
      // Meanwhile someone edited a's object on the server (it says what it said before).
      api.objects.get([...api.objects.keys()][0]!)!.status!.note = 'stale';
      api.down = false;
      await until('a updated, b deleted, c created', exactlyOneEach(api, { a: 'eth1', c: 'eth0' }));
    } finally {
      await w.clear();
    }
  });

  it('writes nothing at a resync when the server already shows what this node wants', async () => {
    const api = new MemoryApi();
    const w = writer(api);
    try {
      w.set(new Map(Array.from({ length: 20 }, (_, i) => [`ns/s${i}`, 'eth0'])));
      await until('20 objects', () => api.byService('n1').size === 20);
      await new Promise((r) => setTimeout(r, 20));
      const names = [...api.objects.keys()];
      const writes = api.writes;
      w.resync();
      await new Promise((r) => setTimeout(r, 100));
      expect(api.writes).toBe(writes);
      expect([...api.objects.keys()]).toEqual(names);
    } finally {
      await w.clear();
    }
  });
});
