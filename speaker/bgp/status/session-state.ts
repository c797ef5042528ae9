// BGPSessionState (crds/metallb.io_bgpsessionstates.yaml): what one node's session to one
// BGPPeer looks like, for `kubectl get bgpsessionstates`. Pure: the object's name, its status
// derived from the session manager's view, and whether a status differs from what was written.

import { createHash } from 'node:crypto';
import type { SessionStatus } from '../session/sessions.js';

/** The longest DNS-1123 subdomain, the limit on object names. */
const MAX_NAME = 253;
/** The CRD's maxLength of status.lastError. */
const MAX_ERROR = 1024;

/** What bfdStatus says for a session whose BGPPeer has no bfdProfile (as MetalLB's FRR mode). */
export const NO_BFD = 'N/A';

export interface SessionStateStatus {
  node: string;
  /** "name (address)": the BGPPeer and where it is. Immutable in the CRD. */
  peer: string;
  /** The BGP FSM state (RFC 4271 §8.2.2). */
  bgpStatus: string;
  /** The BFD session's state (RFC 5880 §4.1: AdminDown, Down, Init, Up), or N/A. */
  bfdStatus: string;
  /** RFC 3339: when bgpStatus last changed. */
  lastTransitionTime: string;
  /** The last NOTIFICATION or connection error; absent before the first one. */
  lastError?: string;
  prefixesSent: number;
}

/**
 * `<node>-<peer>` as a DNS-1123 subdomain: lowercase, [a-z0-9.-], starting and ending with an
 * alphanumeric. Node and BGPPeer names are already valid, so usually this is the plain join;
 * a name over 253 characters is cut and given a hash of the whole, so two long names that
 * share a prefix still get different objects.
 */
export function sessionStateName(node: string, peer: string): string {
  const joined = `${node}-${peer}`;
  const clean = trimEnds(joined.toLowerCase().replace(/[^a-z0-9.-]/g, '-'));
  const name = clean === '' ? 'session' : clean;
  if (name.length <= MAX_NAME && name === joined) return name;
  // Changed or too long: a hash of the original keeps distinct pairs distinct.
  const hash = createHash('sha256').update(`${node}\0${peer}`).digest('hex').slice(0, 10);
  const head = trimEnds(name.slice(0, MAX_NAME - hash.length - 1));
  return head === '' ? hash : `${head}-${hash}`;
}

function trimEnds(s: string): string {
  return s.replace(/^[^a-z0-9]+/, '').replace(/[^a-z0-9]+$/, '');
}

/** The status of one session; `bfd` is the BFD state, undefined while it has none yet. */
export function sessionStateStatus(
  node: string,
  s: SessionStatus,
  bfd: string | undefined,
): SessionStateStatus {
  return {
    node,
    peer: `${s.name} (${s.address})`,
    bgpStatus: s.state,
    bfdStatus: s.bfd ? (bfd ?? 'Down') : NO_BFD,
    lastTransitionTime: new Date(s.since).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    ...(s.lastError !== undefined ? { lastError: truncate(s.lastError, MAX_ERROR) } : {}),
    prefixesSent: s.announced,
  };
}

function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

/** Whether two statuses say the same (field order does not matter; absent = absent). */
export function sameStatus(a: SessionStateStatus | undefined, b: SessionStateStatus | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return (
    a.node === b.node &&
    a.peer === b.peer &&
    a.bgpStatus === b.bgpStatus &&
    a.bfdStatus === b.bfdStatus &&
    a.lastTransitionTime === b.lastTransitionTime &&
    a.lastError === b.lastError &&
    a.prefixesSent === b.prefixesSent
  );
}
