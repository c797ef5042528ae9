// End-of-RIB markers (RFC 4724 §2): an UPDATE with nothing in it for IPv4 unicast, and an UPDATE
// holding only an empty MP_UNREACH_NLRI for any other family.

import type { UpdateMessage } from './messages.js';
import type { AddressFamily } from './prefix.js';

export function endOfRib(family: AddressFamily): UpdateMessage {
  if (family === 4) return { type: 'update', withdrawn: [], attributes: {}, nlri: [] };
  return { type: 'update', withdrawn: [], attributes: { mpUnreach: { family: 6, withdrawn: [] } }, nlri: [] };
}

/** The family an End-of-RIB marker closes, or undefined for any other UPDATE. */
export function endOfRibFamily(u: UpdateMessage): AddressFamily | undefined {
  if (u.withdrawn.length > 0 || u.nlri.length > 0) return undefined;
  const keys = Object.keys(u.attributes).filter(
    (k) => u.attributes[k as keyof typeof u.attributes] !== undefined,
  );
  if (keys.length === 0) return 4;
  const mp = u.attributes.mpUnreach;
  if (keys.length === 1 && mp && mp.withdrawn.length === 0) return mp.family;
  return undefined;
}
