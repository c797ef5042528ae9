// Speaker membership: sub-second liveness between speakers, carried by signed UDP heartbeats.
//
// Protocol. Every speaker sends one heartbeat datagram every 100 ms to every other speaker
// (peers: the speaker nodes' InternalIPs, which the edge takes from the Node objects or
// per-node Leases it already watches). A heartbeat carries the node name, its incarnation (start
// time) and a sequence number, its data-plane health (link up, responder working), whether it
// is ready (listened for one failure window), a leaving flag (SIGTERM) and its claims: the IPs
// it owns with a term each. A peer not heard for 300 ms (3 intervals) is dead; a peer that says
// "leaving" is gone at once. Going unhealthy and any change of claims are sent at once, not at
// the next interval. The ownership rule (../planner/ownership.ts) runs on every change.
//
// Timings. SIGKILL or link loss of an owner → peers declare it dead ≤ 300 ms after its last
// heartbeat (+ network delay) → the new owner, which every speaker computes alike, claims and
// announces at once: ≤ 400 ms simulated (cluster.test.ts), well inside the 1 s p99 budget even
// with a late timer. A link-down owner stops claiming on its own as soon as the link monitor
// tells it, and is unhealthy for 500 ms after the link returns (no flapping owner). A partition
// heals in one heartbeat: the claim with the lower term wins and the other side drops its own.
//
// Security. Heartbeats are HMAC-SHA256'd with the cluster membership key (the edge reads it from
// a Secret, as MetalLB's memberlist key `memberlist/secretkey`), checked before anything else
// is parsed; sequence numbers drop replays within an incarnation, incarnations drop old ones.
//
// Cost. Kubernetes API writes: none here (peers come from watches the speaker already has).
// Network: nodes × (nodes − 1) datagrams per 100 ms, whatever the number of Services; each
// datagram is ~40 bytes plus 9 (IPv4) or 21 (IPv6) bytes per IP the sender owns.
// See README.md for the failure modes.

export type {
  Heartbeat,
  HeartbeatVerdict,
  LocalHealth,
  MemberChange,
  MemberState,
  Outgoing,
  Peer,
  TickResult,
} from './types.js';
export type { DecodeFailure, DecodeResult } from './codec.js';
export { decodeHeartbeat, encodeHeartbeat, heartbeatVersion, maxDatagram } from './codec.js';
export type { MembershipOptions } from './membership.js';
export { defaultFailAfterMs, defaultIntervalMs, defaultRecoverAfterMs, Membership } from './membership.js';
