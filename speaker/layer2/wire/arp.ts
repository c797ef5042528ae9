// ARP for IPv4 over Ethernet (RFC 826). Only hardware type 1 with protocol 0x0800 exists on
// the links Beacon serves, so anything else is rejected rather than half-decoded.
//
// Packet layout (RFC 826 "Packet format"), 28 bytes after the Ethernet header:
//   ar$hrd(2)=1  ar$pro(2)=0x0800  ar$hln(1)=6  ar$pln(1)=4  ar$op(2)
//   ar$sha(6)  ar$spa(4)  ar$tha(6)  ar$tpa(4)
import { BufferReader } from '../../../lib/wire/reader.js';
import { type Decoded, decoded, malformed } from './decoded.js';
import { formatIPv4, formatMac, parseIPv4, parseMac, requireAddress } from './address.js';
import {
  BROADCAST_MAC,
  ETHERTYPE_ARP,
  type EthernetMalformedReason,
  decodeEthernet,
  encodeEthernet,
} from './ethernet.js';

export const ARP_PACKET_LENGTH = 28;
const HARDWARE_ETHERNET = 1;
const PROTOCOL_IPV4 = 0x0800;
const ZERO_MAC = '00:00:00:00:00:00';

export type ArpOperation = 'request' | 'reply';

export interface ArpPacket {
  operation: ArpOperation;
  senderMac: string;
  senderIp: string;
  targetMac: string;
  targetIp: string;
}

export interface ArpFrame extends ArpPacket {
  /** Ethernet source and destination, which may differ from the ARP hardware fields. */
  ethernetSource: string;
  ethernetDestination: string;
  /**
   * Sender and target protocol addresses are equal: an ARP Announcement (RFC 5227 §2.3) or a
   * gratuitous ARP (RFC 5944 §4.6). Such a packet asks nothing and must not be answered.
   */
  gratuitous: boolean;
  /** An ARP Probe (RFC 5227 §2.1.1): sender IP 0.0.0.0, someone checking the address is free. */
  probe: boolean;
}

export type ArpMalformedReason =
  | EthernetMalformedReason
  | 'not-arp'
  | 'truncated-arp'
  | 'unsupported-hardware-type'
  | 'unsupported-protocol-type'
  | 'bad-address-length'
  | 'unknown-operation'
  | 'sender-mac-not-unicast';

/** Decodes the 28-byte ARP body; trailing bytes (Ethernet padding to 60 bytes) are ignored. */
export function decodeArp(body: Buffer): Decoded<ArpPacket, ArpMalformedReason> {
  if (body.length < ARP_PACKET_LENGTH) {
    return malformed('truncated-arp', `ARP body of ${body.length} bytes, need ${ARP_PACKET_LENGTH}`);
  }
  // Every field below fits in the length checked above; the reader keeps the offsets.
  const r = new BufferReader(body);
  const hardware = r.u16();
  if (hardware !== HARDWARE_ETHERNET) {
    return malformed('unsupported-hardware-type', `hardware type ${hardware}, want 1 (Ethernet)`);
  }
  const protocol = r.u16();
  if (protocol !== PROTOCOL_IPV4) {
    return malformed('unsupported-protocol-type', `protocol type 0x${protocol.toString(16)}, want 0x0800`);
  }
  const hln = r.u8();
  const pln = r.u8();
  if (hln !== 6 || pln !== 4) {
    return malformed('bad-address-length', `hardware length ${hln} / protocol length ${pln}, want 6 / 4`);
  }
  const op = r.u16();
  if (op !== 1 && op !== 2) {
    return malformed('unknown-operation', `operation ${op}, want 1 (request) or 2 (reply)`);
  }
  const senderMacBytes = r.bytes(6);
  const senderMac = formatMac(senderMacBytes);
  // A group address as sender would make every neighbour that learns it send unicast traffic
  // to a multicast MAC; Linux also refuses these (arp_process). Zero is not a station either.
  if ((senderMacBytes[0]! & 1) === 1 || senderMac === ZERO_MAC) {
    return malformed('sender-mac-not-unicast', `sender hardware address ${senderMac}`);
  }
  const senderIp = formatIPv4(r.bytes(4));
  const targetMac = formatMac(r.bytes(6));
  const targetIp = formatIPv4(r.bytes(4));
  return decoded({ operation: op === 1 ? 'request' : 'reply', senderMac, senderIp, targetMac, targetIp });
}

/** Decodes a whole Ethernet frame carrying ARP, as a packet socket delivers it. */
export function decodeArpFrame(frame: Buffer): Decoded<ArpFrame, ArpMalformedReason> {
  const eth = decodeEthernet(frame);
  if (!eth.ok) return eth;
  if (eth.value.etherType !== ETHERTYPE_ARP) {
    return malformed('not-arp', `EtherType 0x${eth.value.etherType.toString(16)}, want 0x0806`);
  }
  const arp = decodeArp(eth.value.payload);
  if (!arp.ok) return arp;
  return decoded({
    ...arp.value,
    ethernetSource: eth.value.source,
    ethernetDestination: eth.value.destination,
    gratuitous: arp.value.senderIp === arp.value.targetIp,
    probe: arp.value.senderIp === '0.0.0.0',
  });
}

/** Encodes the 28-byte ARP body. Throws TypeError on a malformed address (a caller bug). */
export function encodeArp(packet: ArpPacket): Buffer {
  const body = Buffer.alloc(ARP_PACKET_LENGTH);
  body.writeUInt16BE(HARDWARE_ETHERNET, 0);
  body.writeUInt16BE(PROTOCOL_IPV4, 2);
  body.writeUInt8(6, 4);
  body.writeUInt8(4, 5);
  body.writeUInt16BE(packet.operation === 'request' ? 1 : 2, 6);
  requireAddress(parseMac, packet.senderMac, 'senderMac', 'MAC address').copy(body, 8);
  requireAddress(parseIPv4, packet.senderIp, 'senderIp', 'IPv4 address').copy(body, 14);
  requireAddress(parseMac, packet.targetMac, 'targetMac', 'MAC address').copy(body, 18);
  requireAddress(parseIPv4, packet.targetIp, 'targetIp', 'IPv4 address').copy(body, 24);
  return body;
}

export interface ArpReplyInput {
  /** The request being answered. */
  request: ArpPacket;
  /** Our interface's MAC, the answer. */
  mac: string;
}

/**
 * The reply to a request for an address we announce (RFC 826 "Packet Reception": swap the
 * sender and target fields, put our hardware address in, set the opcode to reply), sent
 * unicast to the requester's hardware address.
 */
export function encodeArpReply({ request, mac }: ArpReplyInput): Buffer {
  const body = encodeArp({
    operation: 'reply',
    senderMac: mac,
    senderIp: request.targetIp,
    targetMac: request.senderMac,
    targetIp: request.senderIp,
  });
  return encodeEthernet({ destination: request.senderMac, source: mac, etherType: ETHERTYPE_ARP }, body);
}

export interface GratuitousArpInput {
  ip: string;
  mac: string;
  operation: ArpOperation;
}

/**
 * A gratuitous ARP, broadcast when this node takes an address over so that neighbours update
 * their caches at once. Sender and target IP are both the address (RFC 5227 §3, RFC 5944 §4.6);
 * like MetalLB, Beacon sends it both as a request and as a reply, because some hosts only
 * act on one of the two. Target hardware address: zero in a request (RFC 5227 §2.3, "ignored");
 * our own MAC in a reply (RFC 5944 §4.6).
 */
export function encodeGratuitousArp({ ip, mac, operation }: GratuitousArpInput): Buffer {
  const body = encodeArp({
    operation,
    senderMac: mac,
    senderIp: ip,
    targetMac: operation === 'request' ? ZERO_MAC : mac,
    targetIp: ip,
  });
  return encodeEthernet({ destination: BROADCAST_MAC, source: mac, etherType: ETHERTYPE_ARP }, body);
}
