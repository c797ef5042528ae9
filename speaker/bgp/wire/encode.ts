// Message encoding: typed message objects → wire bytes (RFC 4271 §4). Throws BgpEncodeError
// when the object cannot be represented (value out of range, message over the size limit).

import { parseIPv4 } from './address.js';
import {
  CapabilityCode,
  HEADER_LENGTH,
  MAX_MESSAGE_SIZE,
  MessageType,
  OptionalParameterType,
} from './constants.js';
import type { MessageTypeCode } from './constants.js';
import { writeAttributes } from './encode-attributes.js';
import { BgpEncodeError } from './errors.js';
import type { BgpMessage, Capability, CodecContext, OpenMessage, UpdateMessage } from './messages.js';
import { checkFamily } from './encode-attributes.js';
import { writePrefix } from './prefix.js';
import { bgpWriter, type BufferWriter } from './buffers.js';

const defaultContext: CodecContext = { fourOctetAs: false, maxMessageSize: MAX_MESSAGE_SIZE };

/** Starts a message: the all-ones marker, a length placeholder and the type (RFC 4271 §4.1). */
export function startMessage(type: MessageTypeCode, sizeHint = 64): BufferWriter {
  return bgpWriter(sizeHint).fill(0xff, 16).u16(0).u8(type);
}

/** Patches the header's length and returns the bytes. */
export function finishMessage(w: BufferWriter, maxMessageSize: number, what: string): Buffer {
  if (w.length > maxMessageSize)
    throw new BgpEncodeError(`${what} is ${w.length} octets; the limit on this session is ${maxMessageSize}`);
  w.setU16(16, w.length);
  return w.toBuffer();
}

export function encodeMessage(msg: BgpMessage, ctx: CodecContext = defaultContext): Buffer {
  switch (msg.type) {
    case 'open':
      return encodeOpen(msg);
    case 'update':
      return encodeUpdate(msg, ctx);
    case 'notification': {
      // The data field echoes offending input and may be longer than a message can be; it is
      // cut to fit rather than failing to report the error at all.
      const room = ctx.maxMessageSize - HEADER_LENGTH - 2;
      const w = startMessage(MessageType.NOTIFICATION);
      w.u8(msg.code).u8(msg.subcode).bytes(msg.data.subarray(0, room));
      return finishMessage(w, ctx.maxMessageSize, 'NOTIFICATION');
    }
    case 'keepalive':
      return finishMessage(startMessage(MessageType.KEEPALIVE), MAX_MESSAGE_SIZE, 'KEEPALIVE');
    case 'route-refresh': {
      const w = startMessage(MessageType.ROUTE_REFRESH);
      w.u16(msg.afi).u8(msg.subtype).u8(msg.safi);
      return finishMessage(w, ctx.maxMessageSize, 'ROUTE-REFRESH');
    }
  }
}

/** RFC 4271 §4.2. OPEN stays within 4096 octets even with Extended Messages (RFC 8654 §4). */
export function encodeOpen(msg: OpenMessage): Buffer {
  const w = startMessage(MessageType.OPEN);
  w.u8(msg.version).u16(msg.myAs).u16(msg.holdTime).bytes(parseIPv4(msg.bgpId));
  const params: { type: number; data: Buffer }[] = [];
  if (msg.capabilities.length > 0)
    params.push({ type: OptionalParameterType.CAPABILITIES, data: encodeCapabilities(msg.capabilities) });
  params.push(...(msg.otherParameters ?? []));
  const total = params.reduce((n, p) => n + 2 + p.data.length, 0);
  if (total <= 255 && params.every((p) => p.data.length <= 255)) {
    w.u8(total);
    for (const p of params) w.u8(p.type).u8(p.data.length).bytes(p.data);
  } else {
    // RFC 9072 §2: Non-Ext OP Len and Non-Ext OP Type are both 255, then a 2-octet length,
    // and every parameter's length becomes 2 octets.
    w.u8(255).u8(255);
    const at = w.placeholder(2);
    for (const p of params) w.u8(p.type).u16(p.data.length).bytes(p.data);
    w.patchLength(at, 2, 'OPEN extended optional parameters');
  }
  return finishMessage(w, MAX_MESSAGE_SIZE, 'OPEN');
}

/** Capabilities as a Capabilities optional parameter value: (code, length, value) triples (RFC 5492 §4). */
export function encodeCapabilities(caps: Capability[]): Buffer {
  const w = bgpWriter(64);
  for (const cap of caps) {
    const v = bgpWriter(16);
    let code: number;
    switch (cap.kind) {
      case 'multiprotocol':
        code = CapabilityCode.MULTIPROTOCOL;
        v.u16(cap.afi).u8(0).u8(cap.safi);
        break;
      case 'route-refresh':
        code = CapabilityCode.ROUTE_REFRESH;
        break;
      case 'enhanced-route-refresh':
        code = CapabilityCode.ENHANCED_ROUTE_REFRESH;
        break;
      case 'extended-message':
        code = CapabilityCode.EXTENDED_MESSAGE;
        break;
      case 'four-octet-as':
        code = CapabilityCode.FOUR_OCTET_AS;
        v.u32(cap.asn);
        break;
      case 'graceful-restart': {
        code = CapabilityCode.GRACEFUL_RESTART;
        if (!Number.isInteger(cap.restartTime) || cap.restartTime < 0 || cap.restartTime > 0xfff)
          throw new BgpEncodeError(`graceful restart time ${cap.restartTime}s is out of range 0..4095`);
        // RFC 4724 §3: Restart Flags (4 bits: R = 0x8, N = 0x4 per RFC 8538) | Restart Time (12 bits).
        const flags = (cap.restarting ? 0x8 : 0) | (cap.notification ? 0x4 : 0);
        v.u16((flags << 12) | cap.restartTime);
        for (const f of cap.families)
          v.u16(f.afi)
            .u8(f.safi)
            .u8(f.forwardingState ? 0x80 : 0);
        break;
      }
      case 'unknown':
        code = cap.code;
        v.bytes(cap.data);
        break;
    }
    w.u8(code);
    const at = w.placeholder(1);
    w.bytes(v.toBuffer());
    w.patchLength(at, 1, `capability ${code}`);
  }
  return w.toBuffer();
}

/** RFC 4271 §4.3: withdrawn length, withdrawn routes, attribute length, attributes, NLRI. */
export function encodeUpdate(msg: UpdateMessage, ctx: CodecContext = defaultContext): Buffer {
  const w = startMessage(MessageType.UPDATE, 256);
  let at = w.placeholder(2);
  for (const p of msg.withdrawn) {
    checkFamily(p.family, 4, 'Withdrawn Routes');
    writePrefix(w, p);
  }
  w.patchLength(at, 2, 'Withdrawn Routes');
  at = w.placeholder(2);
  writeAttributes(w, msg.attributes, ctx.fourOctetAs);
  w.patchLength(at, 2, 'Path Attributes');
  for (const p of msg.nlri) {
    checkFamily(p.family, 4, 'NLRI');
    writePrefix(w, p);
  }
  return finishMessage(w, ctx.maxMessageSize, 'UPDATE');
}
