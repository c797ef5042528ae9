import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { KubeClient } from './client.js';
import { accessFromFiles, inClusterAccess, loadKubeConfig } from './kubeconfig.js';

describe('loadKubeConfig', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'beacon-kubeconfig-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const write = (name: string, doc: object): string => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, JSON.stringify(doc));
    return file;
  };
  const config = (server: string, user: object, extra: object = {}) => ({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster: { server, 'insecure-skip-tls-verify': true, ...extra } }],
    users: [{ name: 'u', user }],
    contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u' } }],
    'current-context': 'ctx',
  });

  it("sends the user's token and keeps one connection for many requests", async () => {
    const seen: (string | undefined)[] = [];
    let connections = 0;
    const server = http.createServer((req, res) => {
      seen.push(req.headers.authorization);
      res.setHeader('content-type', 'application/json');
      res.end('{"kind":"Status"}');
    });
    server.on('connection', () => connections++);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as AddressInfo).port;
      const file = write('config', config(`http://127.0.0.1:${port}`, { token: 'abc' }));
      const client = new KubeClient(loadKubeConfig(file));
      for (let i = 0; i < 3; i++) await client.request('GET', '/api/v1/namespaces');
      expect(seen).toEqual(['Bearer abc', 'Bearer abc', 'Bearer abc']);
      expect(connections).toBe(1);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it('reads certificate files relative to the kubeconfig', () => {
    fs.writeFileSync(path.join(dir, 'ca.crt'), 'CA');
    fs.writeFileSync(path.join(dir, 'client.crt'), 'CERT');
    fs.writeFileSync(path.join(dir, 'client.key'), 'KEY');
    const file = write(
      'config',
      config(
        'https://10.0.0.1:6443',
        { 'client-certificate': 'client.crt', 'client-key': 'client.key' },
        { 'certificate-authority': 'ca.crt', 'insecure-skip-tls-verify': false },
      ),
    );
    const access = accessFromFiles([file]);
    expect(access.getCurrentCluster().server).toBe('https://10.0.0.1:6443');
    expect(access.cluster.caFile).toBe(path.join(dir, 'ca.crt'));
    expect(access.user.certFile).toBe(path.join(dir, 'client.crt'));
  });

  it('names the file and the missing piece when the kubeconfig is unusable', () => {
    const noContext = write('a', { ...config('https://x:1', { token: 't' }), 'current-context': 'other' });
    expect(() => loadKubeConfig(noContext)).toThrow(
      `kubeconfig ${noContext}: current-context "other" is not in contexts`,
    );
    const plainHttp = write('b', config('http://x:1', { token: 't' }, { 'insecure-skip-tls-verify': false }));
    expect(() => loadKubeConfig(plainHttp)).toThrow(/server "http:\/\/x:1" is plain HTTP/);
    const missingCa = write(
      'c',
      config('https://x:1', { token: 't' }, { 'certificate-authority': 'nope.crt' }),
    );
    expect(() => loadKubeConfig(missingCa)).toThrow(/certificate-authority ".*nope\.crt"/);
    expect(() => loadKubeConfig(path.join(dir, 'absent'))).toThrow(/no such file/);
  });

  it("in a Pod, authenticates with the service account's token file", async () => {
    fs.writeFileSync(path.join(dir, 'ca.crt'), 'CA');
    fs.writeFileSync(path.join(dir, 'token'), 'first');
    process.env.KUBERNETES_SERVICE_HOST = 'fd00::1';
    process.env.KUBERNETES_SERVICE_PORT = '443';
    try {
      const access = inClusterAccess(dir);
      expect(access.getCurrentCluster().server).toBe('https://[fd00::1]:443');
      const opts: http.RequestOptions = {};
      await access.applyToHTTPSOptions(opts);
      expect((opts.headers as Record<string, string>).Authorization).toBe('Bearer first');
    } finally {
      delete process.env.KUBERNETES_SERVICE_HOST;
      delete process.env.KUBERNETES_SERVICE_PORT;
    }
  });
});
