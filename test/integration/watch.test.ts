// The shared watch layer against a real API server: the cache converges after the API server
// restarts mid-watch and after a forced 410 Gone.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CoreV1Api, KubeConfig, type V1ConfigMap } from '@kubernetes/client-node';
import { Backoff } from '../../lib/kube/backoff.js';
import { Reflector } from '../../lib/kube/reflector.js';
import { KubeClient } from '../../lib/kube/client.js';
import type { Transport, WatchEvent } from '../../lib/kube/transport.js';
import { createLogger } from '../../lib/log.js';
import { ControlPlane, writeKubeconfig } from '../env/control-plane.js';

const quiet = createLogger({
  level: process.env.DEBUG_WATCH ? 'debug' : 'error',
  component: 'test',
  write: (l) => fs.appendFileSync(process.env.DEBUG_WATCH ?? '/dev/null', l + '\n'),
});

async function eventually(check: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Retries a write whose pooled connection died with the restarted server. */
async function retry<T>(write: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await write();
    } catch (err) {
      if (i >= 5) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

describe('watch layer against a real API server', () => {
  let cp: ControlPlane;
  let kc: KubeConfig;
  let core: CoreV1Api;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'beacon-watch-'));
  const ns = 'watched';

  beforeAll(async () => {
    cp = await ControlPlane.start();
    writeKubeconfig(cp.state, path.join(tmp, 'kubeconfig'));
    kc = new KubeConfig();
    kc.loadFromFile(path.join(tmp, 'kubeconfig'));
    core = kc.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: ns } } });
  }, 120_000);
  afterAll(async () => {
    await cp?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const cm = (name: string, v: string) => ({ metadata: { name }, data: { v } });
  const values = (r: Reflector<V1ConfigMap>) =>
    Object.fromEntries(r.cache.list().map((c) => [c.metadata?.name, c.data?.v]));

  it('converges after the API server restarts mid-watch', async () => {
    const r = new Reflector<V1ConfigMap>({
      transport: new KubeClient(kc),
      resource: { group: '', version: 'v1', plural: 'configmaps', namespace: ns },
      log: quiet,
      backoff: new Backoff(100, 1000),
    });
    r.start();
    try {
      for (const n of ['a', 'b', 'c'])
        await core.createNamespacedConfigMap({ namespace: ns, body: cm(n, '1') });
      await eventually(() => r.cache.size === 3);
      await cp.restartApiServer(1000);
      await retry(() => core.deleteNamespacedConfigMap({ name: 'a', namespace: ns }));
      await retry(() => core.replaceNamespacedConfigMap({ name: 'b', namespace: ns, body: cm('b', '2') }));
      await retry(() => core.createNamespacedConfigMap({ namespace: ns, body: cm('d', '1') }));
      await eventually(() => JSON.stringify(values(r)) === JSON.stringify({ b: '2', c: '1', d: '1' }));
      expect(values(r)).toEqual({ b: '2', c: '1', d: '1' });
      expect(r.watches).toBeGreaterThan(1);
    } finally {
      r.stop();
    }
  }, 120_000);

  it('relists and converges when the server answers 410 Gone', async () => {
    // A transport that ends the first watch and resumes it from a resourceVersion the server
    // no longer has, so the real API server answers 410 Gone.
    const real = new KubeClient(kc);
    let watchCount = 0;
    const forcing: Transport = {
      list: (p, o) => real.list(p, o),
      watch<T>(
        p: string,
        o: { resourceVersion: string; timeoutSeconds: number },
        onEvent: (e: WatchEvent<T>) => void,
        done: (err?: Error) => void,
      ) {
        watchCount++;
        if (watchCount === 1) {
          const h = real.watch(p, o, onEvent, done);
          setTimeout(() => h.stop(), 500);
          return h;
        }
        return real.watch(p, watchCount === 2 ? { ...o, resourceVersion: '1' } : o, onEvent, done);
      },
    };
    const r = new Reflector<V1ConfigMap>({
      transport: forcing,
      resource: { group: '', version: 'v1', plural: 'configmaps', namespace: ns },
      log: quiet,
      backoff: new Backoff(50, 500),
    });
    r.start();
    try {
      await r.synced;
      // Watch 1 ends, watch 2 gets 410 Gone, the reflector relists and opens watch 3.
      await eventually(() => watchCount >= 3 && r.lists >= 2);
      await core.createNamespacedConfigMap({ namespace: ns, body: cm('after-410', 'x') });
      await eventually(() => r.cache.get(`${ns}/after-410`)?.data?.v === 'x');
      expect(r.cache.keys().sort()).toEqual([`${ns}/after-410`, `${ns}/b`, `${ns}/c`, `${ns}/d`]);
    } finally {
      r.stop();
    }
  }, 60_000);
});
