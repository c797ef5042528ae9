// Ethernet II framing (IEEE 802.3 with an EtherType ≥ 0x0600), with one optional 802.1Q tag.
// AF_PACKET usually delivers frames with the VLAN tag already stripped into metadata, but a
// tag still appears on some drivers, so the decoder accepts one.
import { type Decoded, decoded, malformed } from './decoded.js';
import { formatMac, parseMac, requireAddress } from './address.js';

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_VLAN = 0x8100;
export const ETHERTYPE_IPV6 = 0x86dd;

export const ETHERNET_HEADER_LENGTH = 14;
export const BROADCAST_MAC = 'ff:ff:ff:ff:ff:ff';

export interface EthernetHeader {
  destination: string;
  source: string;
  etherType: number;
  /** 802.1Q VLAN ID when the frame carried a tag. */
  vlan?: number;
}

export interface EthernetFrame extends EthernetHeader {
  /** The bytes after the header (a view into the input, not a copy). May include padding. */
  payload: Buffer;
}

export type EthernetMalformedReason = 'truncated-ethernet-header' | 'not-ethernet-ii';

export function decodeEthernet(frame: Buffer): Decoded<EthernetFrame, EthernetMalformedReason> {
  if (frame.length < ETHERNET_HEADER_LENGTH) {
    return malformed(
      'truncated-ethernet-header',
      `frame of ${frame.length} bytes, need ${ETHERNET_HEADER_LENGTH}`,
    );
  }
  const destination = formatMac(frame.subarray(0, 6));
  const source = formatMac(frame.subarray(6, 12));
  let etherType = frame.readUInt16BE(12);
  let offset = ETHERNET_HEADER_LENGTH;
  let vlan: number | undefined;
  if (etherType === ETHERTYPE_VLAN) {
    if (frame.length < offset + 4) {
      return malformed('truncated-ethernet-header', `802.1Q frame of ${frame.length} bytes, need 18`);
    }
    vlan = frame.readUInt16BE(14) & 0x0fff;
    etherType = frame.readUInt16BE(16);
    offset += 4;
  }
  // Values below 0x0600 are an IEEE 802.3 length field, not an EtherType.
  if (etherType < 0x0600) {
    return malformed('not-ethernet-ii', `type/length field 0x${etherType.toString(16)} is a length`);
  }
  const header: EthernetFrame = { destination, source, etherType, payload: frame.subarray(offset) };
  if (vlan !== undefined) header.vlan = vlan;
  return decoded(header);
}

/** Builds an untagged Ethernet II frame; throws TypeError on a malformed MAC (a caller bug). */
export function encodeEthernet(header: Omit<EthernetHeader, 'vlan'>, payload: Uint8Array): Buffer {
  const frame = Buffer.alloc(ETHERNET_HEADER_LENGTH + payload.length);
  requireAddress(parseMac, header.destination, 'destination', 'MAC address').copy(frame, 0);
  requireAddress(parseMac, header.source, 'source', 'MAC address').copy(frame, 6);
  frame.writeUInt16BE(header.etherType, 12);
  frame.set(payload, ETHERNET_HEADER_LENGTH);
  return frame;
}

/** True for group addresses (the I/G bit, the least significant bit of the first octet). */
export function isMulticastMac(mac: string): boolean {
  const first = parseInt(mac.slice(0, 2), 16);
  return (first & 1) === 1;
}
