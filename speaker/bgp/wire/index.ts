// Beacon's BGP-4 message codec. No sockets, no timers: bytes in, typed messages out, and back.

export * from './constants.js';
export * from './notification-codes.js';
export * from './errors.js';
export * from './messages.js';
export * from './prefix.js';
export * from './address.js';
export * from './community.js';
export { BufferReader } from './buffers.js';
export { BufferWriter } from './buffers.js';
export { BgpFramer } from './framer.js';
export { decodeMessage, decodeOpen, decodeCapabilities, checkHeader } from './decode.js';
export { parseAsPath } from './decode-update.js';
export type { DecodeResult, UpdateError, UpdateErrorAction } from './decode-result.js';
export { encodeMessage, encodeOpen, encodeUpdate, encodeCapabilities } from './encode.js';
export { endOfRib, endOfRibFamily } from './end-of-rib.js';
export { packAnnouncements, packWithdrawals } from './pack.js';
export { buildOpen, validateOpen, negotiate, peerAsn } from './open.js';
export type { OpenExpectations, OpenCheck, OpenOptions, Negotiated } from './open.js';
