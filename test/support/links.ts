// A network interface as the interface watcher reports it, for unit tests: up, running,
// broadcast-capable, ARP on, with a locally administered MAC derived from its index.

import type { LinkState } from '../../speaker/layer2/responder/interfaces.js';

export function testLink(index: number, name: string, extra: Partial<LinkState> = {}): LinkState {
  return {
    index,
    name,
    up: true,
    running: true,
    broadcast: true,
    noarp: false,
    mac: `02:00:00:00:00:${index.toString(16).padStart(2, '0')}`,
    ...extra,
  };
}
