// BGP mode: sessions to the BGPPeers that select this node. (Being built: see issue #7.)

import type { Protocol } from '../protocol.js';

export const bgp: Protocol = {
  name: 'bgp',
  flags: [],
  start() {
    return Promise.resolve({ stop: () => Promise.resolve() });
  },
};
