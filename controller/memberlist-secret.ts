// The speakers' membership key: Secret `memberlist` (data.secretkey) in Beacon's namespace,
// MetalLB's name and key. MetalLB's controller creates it when missing; so does this one, at
// start and on a slow recheck (a deleted Secret comes back). Every replica may do it: a create
// that loses the race (409) is success. RBAC: create secrets, get only this one (rbac.yaml).

import { randomBytes } from 'node:crypto';
import type { Logger } from '../lib/log.js';
import type { ApiRequester } from '../lib/kube/api-request.js';

export const memberlistSecret = { name: 'memberlist', key: 'secretkey' } as const;
/** 128 random bits (MetalLB's size), base64 in data as every Secret value. */
export const memberlistKeyBytes = 16;

export type EnsureResult = 'exists' | 'created' | 'created-by-another';

const statusOf = (err: unknown): number | undefined => (err as { status?: number }).status;

/** The Secret object to create, with `random` bytes of key. */
export function memberlistSecretObject(namespace: string, random: Buffer): object {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: memberlistSecret.name,
      namespace,
      labels: { 'app.kubernetes.io/name': 'beacon', 'app.kubernetes.io/component': 'speaker-membership' },
    },
    type: 'Opaque',
    data: { [memberlistSecret.key]: random.toString('base64') },
  };
}

/** Creates the Secret when it does not exist. Throws on any other API failure. */
export async function ensureMemberlistSecret(
  api: ApiRequester,
  namespace: string,
  random: (n: number) => Buffer = randomBytes,
): Promise<EnsureResult> {
  const base = `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets`;
  try {
    await api.request('GET', `${base}/${memberlistSecret.name}`);
    return 'exists';
  } catch (err) {
    if (statusOf(err) !== 404) throw err;
  }
  try {
    await api.request('POST', base, memberlistSecretObject(namespace, random(memberlistKeyBytes)));
    return 'created';
  } catch (err) {
    if (statusOf(err) === 409) return 'created-by-another';
    throw err;
  }
}

export interface MemberlistSecretKeeperOptions {
  api: ApiRequester;
  namespace: string;
  log: Logger;
  /** Recheck period once the Secret exists (ms), default 5 minutes. */
  recheckMs?: number;
  /** First retry delay after a failure (ms, doubles up to 30 s), default 1 s. */
  retryMs?: number;
}

/** Keeps the Secret there: ensure now, retry failures with backoff, recheck slowly. */
export class MemberlistSecretKeeper {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private failures = 0;

  constructor(private readonly opts: MemberlistSecretKeeperOptions) {}

  start(): void {
    void this.run();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
  }

  private async run(): Promise<void> {
    const secret = `${this.opts.namespace}/${memberlistSecret.name}`;
    let delay = this.opts.recheckMs ?? 300_000;
    try {
      const result = await ensureMemberlistSecret(this.opts.api, this.opts.namespace);
      if (result === 'created') this.opts.log.info('created the speakers’ membership key', { secret });
      this.failures = 0;
    } catch (err) {
      this.failures++;
      delay = Math.min(30_000, (this.opts.retryMs ?? 1000) * 2 ** (this.failures - 1));
      this.opts.log.warn('could not ensure the speakers’ membership key Secret', {
        secret,
        error: (err as Error).message,
        retryMs: delay,
      });
    }
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.run(), delay);
  }
}
