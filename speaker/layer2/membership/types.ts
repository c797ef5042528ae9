// What the layer 2 mode tells the membership and hears back from it, beside the worker's own
// protocol (worker-protocol.ts).

/** A speaker to exchange membership datagrams with: a Node's first InternalIP. */
export interface Peer {
  readonly name: string;
  /** The node's InternalIP; datagrams go to address:port (--memberlist-port). */
  readonly address: string;
}

/** This node's data plane: an eligible interface has carrier, and ARP/NDP answers work. */
export interface LocalHealth {
  readonly linkUp: boolean;
  readonly responderOk: boolean;
}

/** A peer as this node's membership sees it (unhealthy peers count as dead here). */
export type MemberState = 'unknown' | 'alive' | 'dead' | 'left';
