// Layer 2 mode: ARP/NDP for the Service IPs this node owns. (Being built: see issue #6.)

import type { Protocol } from '../protocol.js';

export const layer2: Protocol = {
  name: 'layer2',
  flags: [],
  start() {
    return Promise.resolve({ stop: () => Promise.resolve() });
  },
};
