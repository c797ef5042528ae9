// Message decoding: one complete frame (header included) → a typed message or a classified
// error. Never throws on any input; a BgpDecodeError inside becomes a "session-reset" result.

import { formatIPv4 } from './address.js';
import {
  CapabilityCode,
  HEADER_LENGTH,
  MAX_MESSAGE_SIZE,
  MIN_LENGTH,
  MessageType,
  OptionalParameterType,
} from './constants.js';
import type { MessageTypeCode } from './constants.js';
import { decodeUpdate } from './decode-update.js';
import type { DecodeResult } from './decode-result.js';
import { sessionReset } from './decode-result.js';
import { BgpDecodeError } from './errors.js';
import type { Capability, CodecContext, GracefulRestartFamily, OpenMessage } from './messages.js';
import { ErrorCode, HeaderSubcode, OpenSubcode, RouteRefreshErrorSubcode } from './notification-codes.js';
import { BufferReader, bgpUnderrun } from './buffers.js';

const defaultContext: CodecContext = { fourOctetAs: false, maxMessageSize: MAX_MESSAGE_SIZE };

/**
 * Checks the header of the message starting at `offset` (RFC 4271 §6.1): the marker must be all
 * ones and the length within 19..maxMessageSize. Only the octets present are checked, so the
 * framer can reject a bad marker before the rest arrives. Returns the length, or undefined when
 * fewer than 19 octets are there.
 */
export function checkHeader(buf: Buffer, offset: number, maxMessageSize: number): number | undefined {
  const avail = Math.min(buf.length - offset, HEADER_LENGTH);
  for (let i = 0; i < Math.min(avail, 16); i++) {
    if (buf[offset + i] !== 0xff)
      throw new BgpDecodeError(
        `marker octet ${i} is 0x${buf[offset + i]!.toString(16).padStart(2, '0')}, want 0xff`,
        ErrorCode.MESSAGE_HEADER,
        HeaderSubcode.CONNECTION_NOT_SYNCHRONIZED,
      );
  }
  if (avail < 18) return undefined;
  const length = buf.readUInt16BE(offset + 16);
  if (length < HEADER_LENGTH || length > maxMessageSize)
    throw badLength(`length ${length} is outside ${HEADER_LENGTH}..${maxMessageSize}`, length);
  return avail < HEADER_LENGTH ? undefined : length;
}

/** RFC 4271 §6.1: the Data field of Bad Message Length is the erroneous Length field. */
function badLength(why: string, length: number): BgpDecodeError {
  const data = Buffer.alloc(2);
  data.writeUInt16BE(length & 0xffff);
  return new BgpDecodeError(why, ErrorCode.MESSAGE_HEADER, HeaderSubcode.BAD_MESSAGE_LENGTH, data);
}

/** Decodes one message; `frame` is the whole message as the framer yields it. Decoded Buffers
 * (NOTIFICATION data, raw attributes) are views into `frame`. */
export function decodeMessage(frame: Buffer, ctx: CodecContext = defaultContext): DecodeResult {
  try {
    const length = checkHeader(frame, 0, ctx.maxMessageSize);
    if (length === undefined || length !== frame.length)
      throw badLength(
        `frame is ${frame.length} octets but its header says ${length ?? 'nothing'}`,
        length ?? 0,
      );
    const type = frame[18]!;
    const min = MIN_LENGTH[type as MessageTypeCode];
    if (min === undefined)
      throw new BgpDecodeError(
        `message type ${type} is not 1..5`,
        ErrorCode.MESSAGE_HEADER,
        HeaderSubcode.BAD_MESSAGE_TYPE,
        Buffer.from([type]),
      );
    if (type === MessageType.ROUTE_REFRESH) {
      // RFC 7313 §5: a wrong length gets its own error code, with the whole message as data.
      if (length !== min)
        throw new BgpDecodeError(
          `ROUTE-REFRESH is ${length} octets, want ${min}`,
          ErrorCode.ROUTE_REFRESH,
          RouteRefreshErrorSubcode.INVALID_MESSAGE_LENGTH,
          frame,
        );
      return {
        action: 'ok',
        message: {
          type: 'route-refresh',
          afi: frame.readUInt16BE(19),
          subtype: frame[21]!,
          safi: frame[22]!,
        },
      };
    }
    if (length < min || (type === MessageType.KEEPALIVE && length !== min))
      throw badLength(`message type ${type} needs ${min} octets, got ${length}`, length);
    // RFC 8654 §4: OPEN and KEEPALIVE never exceed 4096 octets, whatever was negotiated.
    if ((type === MessageType.OPEN || type === MessageType.KEEPALIVE) && length > MAX_MESSAGE_SIZE)
      throw badLength(`message type ${type} may not exceed ${MAX_MESSAGE_SIZE} octets`, length);
    const body = frame.subarray(HEADER_LENGTH);
    switch (type) {
      case MessageType.OPEN:
        return { action: 'ok', message: decodeOpen(body) };
      case MessageType.UPDATE:
        return decodeUpdate(body, ctx);
      case MessageType.NOTIFICATION:
        return {
          action: 'ok',
          message: { type: 'notification', code: body[0]!, subcode: body[1]!, data: body.subarray(2) },
        };
      default:
        return { action: 'ok', message: { type: 'keepalive' } };
    }
  } catch (e) {
    if (e instanceof BgpDecodeError) return sessionReset(e);
    throw e;
  }
}

const openError = (what: string) => bgpUnderrun(what, ErrorCode.OPEN_MESSAGE, OpenSubcode.UNSPECIFIC);

/** RFC 4271 §4.2 body (after the header): version, My AS, Hold Time, BGP Identifier, Opt Parm Len
 * at offset 9, then the optional parameters; RFC 9072 extended form when that octet and the next are 255. */
export function decodeOpen(body: Buffer): OpenMessage {
  const version = body[0]!;
  try {
    return decodeOpenFields(body);
  } catch (e) {
    // A different version may lay out the rest differently: report the version, not the layout.
    if (e instanceof BgpDecodeError && version !== 4) throw unsupportedVersion(version);
    throw e;
  }
}

/** RFC 4271 §6.2: the data is the largest locally supported version number, 2 octets. */
export function unsupportedVersion(version: number): BgpDecodeError {
  return new BgpDecodeError(
    `version ${version} is not supported; want 4`,
    ErrorCode.OPEN_MESSAGE,
    OpenSubcode.UNSUPPORTED_VERSION,
    Buffer.from([0, 4]),
  );
}

function decodeOpenFields(body: Buffer): OpenMessage {
  const r = new BufferReader(body, openError('OPEN'));
  const version = r.u8();
  const myAs = r.u16();
  const holdTime = r.u16();
  const bgpId = formatIPv4(r.bytes(4));
  let optLen = r.u8();
  const extended = optLen === 255 && r.remaining > 0 && body[r.offset] === 255;
  if (extended) {
    r.u8(); // Non-Ext OP Type = 255 (RFC 9072 §2)
    optLen = r.u16();
  }
  if (optLen !== r.remaining)
    throw new BgpDecodeError(
      `Optional Parameters Length is ${optLen} but ${r.remaining} octet(s) follow`,
      ErrorCode.OPEN_MESSAGE,
      OpenSubcode.UNSPECIFIC,
    );
  const params = r.sub(optLen, openError('OPEN optional parameters'));
  const capabilities: Capability[] = [];
  const otherParameters: { type: number; data: Buffer }[] = [];
  while (params.remaining > 0) {
    const type = params.u8();
    const data = params.bytes(extended ? params.u16() : params.u8());
    if (type === OptionalParameterType.CAPABILITIES) capabilities.push(...decodeCapabilities(data));
    else otherParameters.push({ type, data });
  }
  const open: OpenMessage = { type: 'open', version, myAs, holdTime, bgpId, capabilities };
  if (otherParameters.length > 0) open.otherParameters = otherParameters;
  return open;
}

const fixedCapabilityLength: Record<number, number> = {
  [CapabilityCode.MULTIPROTOCOL]: 4,
  [CapabilityCode.ROUTE_REFRESH]: 0,
  [CapabilityCode.EXTENDED_MESSAGE]: 0,
  [CapabilityCode.FOUR_OCTET_AS]: 4,
  [CapabilityCode.ENHANCED_ROUTE_REFRESH]: 0,
};

/** RFC 5492 §4: (code, length, value) triples. A known capability with a wrong length makes the
 * OPEN unusable (we would misread the peer's ASN or families), so it is an OPEN Message Error. */
export function decodeCapabilities(data: Buffer): Capability[] {
  const r = new BufferReader(data, openError('capabilities'));
  const caps: Capability[] = [];
  while (r.remaining > 0) {
    const code = r.u8();
    const value = r.bytes(r.u8());
    const want = fixedCapabilityLength[code];
    const grBad =
      code === CapabilityCode.GRACEFUL_RESTART && (value.length < 2 || (value.length - 2) % 4 !== 0);
    if ((want !== undefined && value.length !== want) || grBad)
      throw new BgpDecodeError(
        `capability ${code} has length ${value.length}, want ${want ?? '2 + 4 per family'}`,
        ErrorCode.OPEN_MESSAGE,
        OpenSubcode.UNSPECIFIC,
        Buffer.concat([Buffer.from([code, value.length]), value]),
      );
    switch (code) {
      case CapabilityCode.MULTIPROTOCOL:
        caps.push({ kind: 'multiprotocol', afi: value.readUInt16BE(0), safi: value[3]! });
        break;
      case CapabilityCode.ROUTE_REFRESH:
        caps.push({ kind: 'route-refresh' });
        break;
      case CapabilityCode.ENHANCED_ROUTE_REFRESH:
        caps.push({ kind: 'enhanced-route-refresh' });
        break;
      case CapabilityCode.EXTENDED_MESSAGE:
        caps.push({ kind: 'extended-message' });
        break;
      case CapabilityCode.FOUR_OCTET_AS:
        caps.push({ kind: 'four-octet-as', asn: value.readUInt32BE(0) });
        break;
      case CapabilityCode.GRACEFUL_RESTART: {
        const head = value.readUInt16BE(0);
        const families: GracefulRestartFamily[] = [];
        for (let i = 2; i < value.length; i += 4)
          families.push({
            afi: value.readUInt16BE(i),
            safi: value[i + 2]!,
            forwardingState: (value[i + 3]! & 0x80) !== 0,
          });
        caps.push({
          kind: 'graceful-restart',
          restarting: (head & 0x8000) !== 0,
          notification: (head & 0x4000) !== 0,
          restartTime: head & 0xfff,
          families,
        });
        break;
      }
      default:
        caps.push({ kind: 'unknown', code, data: value });
    }
  }
  return caps;
}
