// The membership key: MetalLB's Secret `memberlist`, key `secretkey`, in the speaker's
// namespace (the controller creates it when missing: controller/memberlist-secret.ts). The
// speaker never runs membership without it: an unauthenticated heartbeat would let anyone on
// the node network claim Service IPs. Pure: the Secrets as watched in, the key or why not out.

import type { KubeObject } from '../../../lib/kube/transport.js';

export const memberlistSecretName = 'memberlist';
export const memberlistSecretKey = 'secretkey';
/** Shorter keys are refused: HMAC-SHA256 wants at least 128 bits of secret (RFC 2104 §3). */
export const minKeyBytes = 16;

export type MemberlistKey = { ok: true; key: Buffer } | { ok: false; reason: string };

interface SecretObject extends KubeObject {
  data?: Record<string, string>;
}

/** The key from the namespace's Secrets (as the config watch lists them). */
export function memberlistKey(secrets: readonly KubeObject[], namespace: string): MemberlistKey {
  const where = `Secret ${namespace}/${memberlistSecretName}`;
  const secret = secrets.find((s) => s.metadata?.name === memberlistSecretName) as SecretObject | undefined;
  if (secret === undefined)
    return { ok: false, reason: `${where} does not exist (beacon-controller creates it)` };
  const text = secret.data?.[memberlistSecretKey];
  if (text === undefined || text === '')
    return { ok: false, reason: `${where} has no data.${memberlistSecretKey}` };
  const key = Buffer.from(text, 'base64');
  if (key.length < minKeyBytes)
    return {
      ok: false,
      reason: `${where} data.${memberlistSecretKey}: ${key.length} bytes, at least ${minKeyBytes} needed`,
    };
  return { ok: true, key };
}
