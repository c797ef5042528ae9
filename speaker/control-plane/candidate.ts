// Whether this node may own a control-plane VIP: a pure function of what the node knows about
// itself. Membership (../layer2/membership) carries the answer to the other nodes as the
// node's health, so a node that is not a candidate gives its VIPs up and nobody gives them to
// it. The API server's readiness is one input among several: a node whose link is down or
// whose packet socket cannot open cannot serve the VIP however ready its API server is.

export interface CandidateInputs {
  /** The local API server answers /readyz and /livez (health.ts). */
  readonly apiReady: boolean;
  /** The VIP interface is up with carrier. */
  readonly linkUp: boolean;
  /** Packet sockets open (CAP_NET_RAW) and the responder reports no socket failure. */
  readonly responderOk: boolean;
  /** This process is stopping (SIGTERM): it hands over before it goes. */
  readonly stopping: boolean;
}

export interface Candidacy {
  readonly candidate: boolean;
  /** Why not, in words for the log (empty when a candidate). */
  readonly reasons: readonly string[];
}

export function candidacy(i: CandidateInputs): Candidacy {
  const reasons: string[] = [];
  if (i.stopping) reasons.push('stopping');
  if (!i.apiReady) reasons.push('API server not ready');
  if (!i.linkUp) reasons.push('link down');
  if (!i.responderOk) reasons.push('cannot open packet sockets');
  return { candidate: reasons.length === 0, reasons };
}
