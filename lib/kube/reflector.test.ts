import { Backoff } from './backoff.js';
import { Reflector } from './reflector.js';
import { ApiError, type KubeObject, type ListPage, type Transport, type WatchEvent } from './transport.js';
import { createLogger } from '../log.js';

type Obj = KubeObject & { spec?: { v: number } };
const obj = (name: string, rv: string, v = 0): Obj => ({
  metadata: { name, namespace: 'ns', resourceVersion: rv },
  spec: { v },
});

/** A scripted API server: LIST returns `items`; each WATCH is handed to the test. */
class FakeTransport implements Transport {
  items: Obj[] = [];
  rv = '10';
  listCalls: { continue?: string }[] = [];
  watchCalls: string[] = [];
  listError: ApiError | undefined;
  pageSize = 1000;
  private pendingWatch: ((w: ActiveWatch) => void)[] = [];
  private active: ActiveWatch[] = [];

  async list<T>(_path: string, opts: { limit: number; continue?: string }): Promise<ListPage<T>> {
    this.listCalls.push(opts.continue ? { continue: opts.continue } : {});
    if (this.listError) {
      const e = this.listError;
      this.listError = undefined;
      throw e;
    }
    const start = opts.continue ? Number(opts.continue) : 0;
    const page = this.items.slice(start, start + Math.min(opts.limit, this.pageSize));
    const next = start + page.length;
    return {
      items: page as unknown as T[],
      resourceVersion: this.rv,
      ...(next < this.items.length ? { continue: String(next) } : {}),
    };
  }

  watch<T>(
    _path: string,
    opts: { resourceVersion: string },
    onEvent: (e: WatchEvent<T>) => void,
    done: (err?: Error) => void,
  ) {
    this.watchCalls.push(opts.resourceVersion);
    let stopped = false;
    const w: ActiveWatch = {
      rv: opts.resourceVersion,
      send: (e) => !stopped && onEvent(e as unknown as WatchEvent<T>),
      end: (err) => {
        if (stopped) return;
        stopped = true;
        done(err);
      },
    };
    this.active.push(w);
    const waiter = this.pendingWatch.shift();
    if (waiter) waiter(w);
    return { stop: () => w.end() };
  }

  /** The next (or current) watch the reflector opens. */
  nextWatch(): Promise<ActiveWatch> {
    const unclaimed = this.active.shift();
    if (unclaimed) return Promise.resolve(unclaimed);
    return new Promise((resolve) => this.pendingWatch.push((w) => (this.active.shift(), resolve(w))));
  }
}
interface ActiveWatch {
  rv: string;
  send(e: WatchEvent<Obj>): void;
  end(err?: Error): void;
}

const quiet = createLogger({ level: 'error', component: 'test', write: () => undefined });
const tick = () => new Promise((r) => setImmediate(r));

function setup(t: FakeTransport, sleeps: number[] = []) {
  const r = new Reflector<Obj>({
    transport: t,
    resource: { group: 'metallb.io', version: 'v1beta1', plural: 'ipaddresspools', namespace: 'ns' },
    log: quiet,
    backoff: new Backoff(100, 1000, () => 1),
    sleep: async (ms) => void sleeps.push(ms),
    pageSize: 2,
  });
  const changes: string[][] = [];
  r.onChange((keys) => changes.push(keys));
  return { r, changes };
}

describe('Reflector', () => {
  it('lists every page, then watches from the list resourceVersion', async () => {
    const t = new FakeTransport();
    t.items = [obj('a', '1'), obj('b', '2'), obj('c', '3')];
    const { r, changes } = setup(t);
    r.start();
    await r.synced;
    const w = await t.nextWatch();
    expect(t.listCalls).toEqual([{}, { continue: '2' }]);
    expect(w.rv).toBe('10');
    expect(r.cache.keys().sort()).toEqual(['ns/a', 'ns/b', 'ns/c']);
    expect(changes).toEqual([['ns/a', 'ns/b', 'ns/c']]);
    r.stop();
  });

  it('applies added, modified and deleted events and notifies only changed keys', async () => {
    const t = new FakeTransport();
    t.items = [obj('a', '1')];
    const { r, changes } = setup(t);
    r.start();
    const w = await t.nextWatch();
    w.send({ type: 'ADDED', object: obj('b', '11') });
    w.send({ type: 'MODIFIED', object: obj('a', '12', 5) });
    w.send({ type: 'MODIFIED', object: obj('a', '12', 5) }); // same resourceVersion: no news
    w.send({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '13' } } });
    w.send({ type: 'DELETED', object: obj('b', '14') });
    expect(changes.slice(1)).toEqual([['ns/b'], ['ns/a'], ['ns/b']]);
    expect(r.cache.get('ns/a')?.spec?.v).toBe(5);
    expect(r.cache.get('ns/b')).toBeUndefined();
    expect(r.resourceVersion).toBe('14');
    r.stop();
  });

  it('caches only what project() keeps, from the list and from the watch', async () => {
    const t = new FakeTransport();
    const heavy = (name: string, rv: string, v: number) => ({
      ...obj(name, rv, v),
      metadata: { ...obj(name, rv).metadata, managedFields: [{ manager: 'kubectl' }] },
    });
    t.items = [heavy('a', '1', 1)];
    const r = new Reflector<Obj>({
      transport: t,
      resource: { group: '', version: 'v1', plural: 'services', namespace: 'ns' },
      log: quiet,
      project: (o) => ({ metadata: { ...o.metadata!, managedFields: undefined } as Obj['metadata'] }),
    });
    r.start();
    const w = await t.nextWatch();
    w.send({ type: 'ADDED', object: heavy('b', '11', 2) });
    for (const key of ['ns/a', 'ns/b']) {
      const cached = r.cache.get(key) as Record<string, unknown> & { metadata: Record<string, unknown> };
      expect(cached.spec).toBeUndefined();
      expect(cached.metadata.managedFields).toBeUndefined();
      expect(cached.metadata.name).toBe(key.slice(3));
    }
    r.stop();
  });

  it('resumes a watch that the server closed from the last resourceVersion, without relisting', async () => {
    const t = new FakeTransport();
    const { r } = setup(t);
    r.start();
    const w1 = await t.nextWatch();
    w1.send({ type: 'ADDED', object: obj('a', '20') });
    w1.end();
    const w2 = await t.nextWatch();
    expect(w2.rv).toBe('20');
    expect(t.listCalls).toHaveLength(1);
    r.stop();
  });

  it('relists on 410 Gone and reports keys that vanished meanwhile', async () => {
    const t = new FakeTransport();
    t.items = [obj('a', '1'), obj('b', '2')];
    const { r, changes } = setup(t);
    r.start();
    const w1 = await t.nextWatch();
    t.items = [obj('a', '30', 7)];
    t.rv = '31';
    w1.send({
      type: 'ERROR',
      object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' },
    });
    const w2 = await t.nextWatch();
    expect(t.listCalls.filter((c) => !c.continue)).toHaveLength(2);
    expect(w2.rv).toBe('31');
    expect(r.cache.keys()).toEqual(['ns/a']);
    expect(changes.at(-1)?.sort()).toEqual(['ns/a', 'ns/b']);
    r.stop();
  });

  it('retries a failed watch with growing backoff and relists when the retry gets HTTP 410', async () => {
    const t = new FakeTransport();
    const sleeps: number[] = [];
    const { r } = setup(t, sleeps);
    r.start();
    (await t.nextWatch()).end(new ApiError('connection refused'));
    (await t.nextWatch()).end(new ApiError('connection refused'));
    (await t.nextWatch()).end(new ApiError('WATCH: 410 too old', 410));
    await t.nextWatch();
    expect(sleeps).toEqual([100, 200, 400]);
    expect(t.listCalls).toHaveLength(2);
    r.stop();
  });

  it('keeps retrying a LIST that fails, and only reports synced once it succeeds', async () => {
    const t = new FakeTransport();
    t.listError = new ApiError('503 unavailable', 503);
    const sleeps: number[] = [];
    const { r } = setup(t, sleeps);
    r.start();
    await tick();
    await r.synced;
    expect(sleeps).toEqual([100]);
    expect(r.hasSynced()).toBe(true);
    r.stop();
  });

  it('caches only the projection of each object, listed or watched, and still follows resourceVersions', async () => {
    const t = new FakeTransport();
    t.items = [{ ...obj('a', '1', 1), extra: 'x'.repeat(100) } as Obj];
    const r = new Reflector<Obj>({
      transport: t,
      resource: { group: 'metallb.io', version: 'v1beta1', plural: 'ipaddresspools', namespace: 'ns' },
      log: quiet,
      project: (o) => ({ metadata: o.metadata!, spec: { v: (o.spec?.v ?? 0) * 10 } }),
    });
    r.start();
    await r.synced;
    expect(r.cache.get('ns/a')).toEqual({
      metadata: { name: 'a', namespace: 'ns', resourceVersion: '1' },
      spec: { v: 10 },
    });
    const w = await t.nextWatch();
    w.send({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '5' } } });
    w.send({ type: 'MODIFIED', object: { ...obj('a', '6', 2), extra: 'y' } as Obj });
    expect(r.cache.get('ns/a')).toEqual({
      metadata: { name: 'a', namespace: 'ns', resourceVersion: '6' },
      spec: { v: 20 },
    });
    expect(r.resourceVersion).toBe('6');
    r.stop();
  });
});
