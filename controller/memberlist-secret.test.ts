import type { ApiRequester } from '../lib/kube/api-request.js';
import { ApiError } from '../lib/kube/transport.js';
import { ensureMemberlistSecret, memberlistKeyBytes } from './memberlist-secret.js';

/** An API server holding Secrets in memory, answering like kube-apiserver (404, 409). */
function fakeApi(
  existing: Record<string, unknown> = {},
  opts: { raceOnCreate?: boolean; getFails?: number } = {},
) {
  const secrets = new Map(Object.entries(existing));
  const calls: string[] = [];
  const api: ApiRequester = {
    patch: () => Promise.reject(new Error('unexpected patch')),
    request: (method, path, body) => {
      calls.push(`${method} ${path}`);
      if (method === 'GET') {
        if (opts.getFails !== undefined) return Promise.reject(new ApiError('forbidden', opts.getFails));
        const name = path.split('/').pop() ?? '';
        return secrets.has(name)
          ? Promise.resolve(secrets.get(name))
          : Promise.reject(new ApiError(`GET ${path}: 404 not found`, 404));
      }
      if (opts.raceOnCreate) return Promise.reject(new ApiError('already exists', 409));
      const obj = body as { metadata: { name: string } };
      secrets.set(obj.metadata.name, obj);
      return Promise.resolve(obj);
    },
  };
  return { api, secrets, calls };
}

describe('memberlist Secret', () => {
  it('creates metallb-system/memberlist with 16 random bytes under secretkey when it is missing', async () => {
    const { api, secrets, calls } = fakeApi();
    const result = await ensureMemberlistSecret(api, 'metallb-system', (n) => Buffer.alloc(n, 7));
    expect(result).toBe('created');
    expect(calls).toEqual([
      'GET /api/v1/namespaces/metallb-system/secrets/memberlist',
      'POST /api/v1/namespaces/metallb-system/secrets',
    ]);
    const created = secrets.get('memberlist') as {
      data: Record<string, string>;
      metadata: { namespace: string };
    };
    expect(created.metadata.namespace).toBe('metallb-system');
    expect(Buffer.from(created.data.secretkey ?? '', 'base64')).toEqual(Buffer.alloc(memberlistKeyBytes, 7));
  });

  it('leaves an existing key alone (speakers keep authenticating each other)', async () => {
    const { api, calls } = fakeApi({ memberlist: { data: { secretkey: 'AAAA' } } });
    expect(await ensureMemberlistSecret(api, 'metallb-system')).toBe('exists');
    expect(calls).toHaveLength(1);
  });

  it('counts a create that lost the race to another replica as done', async () => {
    const { api } = fakeApi({}, { raceOnCreate: true });
    expect(await ensureMemberlistSecret(api, 'metallb-system')).toBe('created-by-another');
  });

  it('fails on anything but 404 when reading, without creating', async () => {
    const { api, calls } = fakeApi({}, { getFails: 403 });
    await expect(ensureMemberlistSecret(api, 'metallb-system')).rejects.toThrow('forbidden');
    expect(calls).toHaveLength(1);
  });
});
