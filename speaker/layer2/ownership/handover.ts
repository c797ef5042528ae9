// When may this node tell a joining node "applied" (member.ts: the sync answer that lets the
// joiner start answering)? When no IP the joiner now owns can still be answered here: not in
// the owned set the data plane holds, nor in any owned set on its way there. Usually the
// joiner takes nothing from this node, and the answer goes at once, however slow this node's
// main thread is; when it takes IPs from us, the answer waits until the data plane dropped them.

import type { OwnerIndex } from './owner-index.js';

export function mayAckJoiner(
  joiner: string,
  index: OwnerIndex,
  held: readonly ReadonlySet<string>[],
): boolean {
  for (const set of held) for (const ip of set) if (index.owner(ip) === joiner) return false;
  return true;
}
