// BFD for the BGP speaker: RFC 5880 asynchronous mode, single-hop over UDP (RFC 5881).
//   codec.ts    Control packet encode/decode and stateless validation (§4.1, §6.8.6)
//   session.ts  one session's state machine, time injected (§6.2, §6.8)
//   sessions.ts the table: demultiplexing, TTL check, BFDProfile mapping (pure)
//   edge.ts     BfdManager: sockets on port 3784, per-session source ports, one timer
//   worker.ts   the thread that runs a BfdManager off the main event loop
//   client.ts   BfdWorkerClient: the main thread’s handle on it (a lost worker is replaced by SupervisedWorker)
//   worker-protocol.ts  their messages and the main thread's session table (pure)
export { BfdDiag, BfdState, bfdDiagNames, decodeControl, encodeControl } from './codec.js';
export type { BfdControlPacket, BfdDecodeResult, BfdRejectReason, BfdStateName } from './codec.js';
export { BfdSession } from './session.js';
export type { BfdOutput, BfdSessionOptions, BfdSessionStatus, BfdTimers, BfdTransition } from './session.js';
export { BfdSessions, defaultBfdProfile, profileFromBFDProfile } from './sessions.js';
export type { BfdPeerProfile, BfdPeerStats, BfdReceiveResult, BfdStateChange } from './sessions.js';
export { BFD_CONTROL_PORT, BfdManager } from './edge.js';
export type { BfdManagerEvents, BfdManagerOptions } from './edge.js';
export { BfdWorkerClient } from './client.js';
export type { BfdBackend, BfdWorkerClientOptions } from './client.js';
export { BfdSessionTable } from './worker-protocol.js';
export type { FromBfdWorker, ToBfdWorker } from './worker-protocol.js';
