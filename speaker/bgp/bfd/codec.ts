// BFD Control packet codec, RFC 5880 §4.1 (mandatory section) with the reception checks of
// §6.8.6 that need no session state. No sockets and no session logic here.
//
// Authentication (§4.2-§4.4, §6.7): BFDProfile has no authentication settings, so
// bfd.AuthType is always zero. §6.8.6 then says "If the A bit is set and no authentication is
// in use (bfd.AuthType is zero), the packet MUST be discarded": decode() checks that the
// authentication section is well formed (its Auth Len fits in the packet) and rejects the
// packet with reason 'auth-unsupported'. encode() never sets A.

import { BufferReader } from '../../../lib/wire/reader.js';

/** bfd.SessionState values, as carried in the Sta field (§4.1). */
export const BfdState = { AdminDown: 0, Down: 1, Init: 2, Up: 3 } as const;
export type BfdState = (typeof BfdState)[keyof typeof BfdState];

export const bfdStateNames = ['AdminDown', 'Down', 'Init', 'Up'] as const;
export type BfdStateName = (typeof bfdStateNames)[number];

/** Diagnostic codes (§4.1, "Diag"). */
export const BfdDiag = {
  None: 0,
  ControlDetectionTimeExpired: 1,
  EchoFunctionFailed: 2,
  NeighborSignaledSessionDown: 3,
  ForwardingPlaneReset: 4,
  PathDown: 5,
  ConcatenatedPathDown: 6,
  AdministrativelyDown: 7,
  ReverseConcatenatedPathDown: 8,
} as const;

export const bfdDiagNames: Record<number, string> = {
  0: 'No Diagnostic',
  1: 'Control Detection Time Expired',
  2: 'Echo Function Failed',
  3: 'Neighbor Signaled Session Down',
  4: 'Forwarding Plane Reset',
  5: 'Path Down',
  6: 'Concatenated Path Down',
  7: 'Administratively Down',
  8: 'Reverse Concatenated Path Down',
};

export const BFD_VERSION = 1;
/** Length of a Control packet without an authentication section (§4.1). */
export const BFD_CONTROL_LENGTH = 24;

/** One Control packet; intervals are in microseconds, as on the wire. */
export interface BfdControlPacket {
  readonly diag: number;
  readonly state: BfdState;
  readonly poll: boolean;
  readonly final: boolean;
  /** C: "Control Plane Independent". Beacon runs in user space next to BGP, so always false. */
  readonly cpi: boolean;
  /** D: Demand mode. Beacon only runs asynchronous mode and never sets it. */
  readonly demand: boolean;
  readonly detectMult: number;
  readonly myDiscriminator: number;
  readonly yourDiscriminator: number;
  readonly desiredMinTxUs: number;
  readonly requiredMinRxUs: number;
  readonly requiredMinEchoRxUs: number;
}

export type BfdRejectReason =
  | 'too-short' // fewer than 24 bytes, or Length below the minimum (§6.8.6)
  | 'bad-version' // Version is not 1
  | 'length-exceeds-payload' // Length greater than the UDP payload
  | 'zero-detect-mult'
  | 'multipoint' // M bit set
  | 'zero-my-discriminator'
  | 'zero-your-discriminator-when-up' // Your Discriminator 0 but State is Init or Up
  | 'poll-and-final' // §4.1: "MUST NOT have both the Poll (P) and Final (F) bits set"
  | 'bad-auth-length' // A set but the authentication section does not fit
  | 'auth-unsupported'; // A set: no authentication is configured (§6.8.6)

export type BfdDecodeResult =
  | { readonly ok: true; readonly packet: BfdControlPacket }
  | { readonly ok: false; readonly reason: BfdRejectReason };

const reject = (reason: BfdRejectReason): BfdDecodeResult => ({ ok: false, reason });

/**
 * Decodes one UDP payload and applies the stateless checks of §6.8.6, in its order. The
 * checks that need a session (Your Discriminator lookup, the state of the selected session)
 * belong to the session table.
 */
export function decodeControl(data: Uint8Array): BfdDecodeResult {
  if (data.length < BFD_CONTROL_LENGTH) return reject('too-short');
  // The mandatory section fits in the length checked above; the reader keeps the offsets.
  const r = new BufferReader(data);
  const b0 = r.u8();
  const b1 = r.u8();
  if (b0 >> 5 !== BFD_VERSION) return reject('bad-version');
  const auth = (b1 & 0x04) !== 0;
  const detectMult = r.u8();
  const length = r.u8();
  if (length < (auth ? BFD_CONTROL_LENGTH + 2 : BFD_CONTROL_LENGTH)) return reject('too-short');
  if (length > data.length) return reject('length-exceeds-payload');
  if (detectMult === 0) return reject('zero-detect-mult');
  if ((b1 & 0x01) !== 0) return reject('multipoint');
  const myDiscriminator = r.u32();
  const yourDiscriminator = r.u32();
  if (myDiscriminator === 0) return reject('zero-my-discriminator');
  const state = (b1 >> 6) as BfdState;
  if (yourDiscriminator === 0 && state !== BfdState.Down && state !== BfdState.AdminDown)
    return reject('zero-your-discriminator-when-up');
  const poll = (b1 & 0x20) !== 0;
  const final = (b1 & 0x10) !== 0;
  if (poll && final) return reject('poll-and-final');
  const desiredMinTxUs = r.u32();
  const requiredMinRxUs = r.u32();
  const requiredMinEchoRxUs = r.u32();
  if (auth) {
    // §4.2: Auth Type (1 byte), Auth Len (1 byte, includes both) and type-specific data; the
    // Length check above guarantees both bytes are there.
    r.skip(1);
    const authLen = r.u8();
    if (authLen < 2 || BFD_CONTROL_LENGTH + authLen > length) return reject('bad-auth-length');
    return reject('auth-unsupported');
  }
  return {
    ok: true,
    packet: {
      diag: b0 & 0x1f,
      state,
      poll,
      final,
      cpi: (b1 & 0x08) !== 0,
      demand: (b1 & 0x02) !== 0,
      detectMult,
      myDiscriminator,
      yourDiscriminator,
      desiredMinTxUs,
      requiredMinRxUs,
      requiredMinEchoRxUs,
    },
  };
}

/** Encodes a Control packet without authentication: always 24 bytes (§4.1). */
export function encodeControl(p: BfdControlPacket): Buffer {
  if (p.diag < 0 || p.diag > 31) throw new RangeError(`BFD diag ${p.diag} is outside 0..31`);
  if (p.detectMult < 1 || p.detectMult > 255)
    throw new RangeError(`BFD detect multiplier ${p.detectMult} is outside 1..255`);
  if (p.poll && p.final) throw new RangeError('BFD packet with both Poll and Final set (RFC 5880 §4.1)');
  const out = Buffer.alloc(BFD_CONTROL_LENGTH);
  out[0] = (BFD_VERSION << 5) | p.diag;
  out[1] =
    (p.state << 6) | (p.poll ? 0x20 : 0) | (p.final ? 0x10 : 0) | (p.cpi ? 0x08 : 0) | (p.demand ? 0x02 : 0);
  out[2] = p.detectMult;
  out[3] = BFD_CONTROL_LENGTH;
  out.writeUInt32BE(p.myDiscriminator >>> 0, 4);
  out.writeUInt32BE(p.yourDiscriminator >>> 0, 8);
  out.writeUInt32BE(p.desiredMinTxUs >>> 0, 12);
  out.writeUInt32BE(p.requiredMinRxUs >>> 0, 16);
  out.writeUInt32BE(p.requiredMinEchoRxUs >>> 0, 20);
  return out;
}
