// Does the main thread hand the responder the IPs this node owns, given the lease
// (ring-ownership.ts)? Pure.
//
// The lease end reaches the responder two ways: straight from the membership worker through a
// shared cell that every answer checks on its own clock (the native answer threads, the
// responder's own replies and its gratuitous frames: responder.ts, fence.ts), and as a message
// to this (main) thread. When the responder checks the cell, it is the fence: a lease that
// ended is enforced there the moment it ends, whatever the owned set says. The main thread
// then must not empty the owned set when its own copy of the lease end has passed: under load
// it runs seconds behind the worker, its copy is stale while the renewals wait in its queue,
// and emptying and refilling the owned set over and over (every IP released, re-placed,
// announced, its status rewritten) only silences IPs whose lease is valid and deepens the lag.
//
// The owned set is still withheld while the lease is −∞ — before a (re)join completed, while
// unhealthy, leaving, or without a running worker — so IPs are placed afresh, with their
// gratuitous ARP / unsolicited NA, when answering starts again after a rejoin.

/**
 * `until`: the lease end (monotonic ms; −∞: no answering at all; +∞: no limit).
 * `dataPlaneFenced`: the responder enforces the lease end itself from the shared cell.
 */
export function handOverOwned(until: number, now: number, dataPlaneFenced: boolean): boolean {
  if (until === Number.NEGATIVE_INFINITY || Number.isNaN(until)) return false;
  return dataPlaneFenced || now < until;
}
