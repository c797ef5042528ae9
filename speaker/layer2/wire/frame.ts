// One entry point for whatever a packet socket hands the responder: ARP (RFC 826) or an
// NDP message (RFC 4861) inside IPv6, told apart by EtherType.
import { type Decoded, malformed } from './decoded.js';
import { type ArpFrame, type ArpMalformedReason, decodeArpFrame } from './arp.js';
import { ETHERTYPE_ARP, ETHERTYPE_IPV6, type EthernetMalformedReason, decodeEthernet } from './ethernet.js';
import { type NdpFrame, type NdpMalformedReason, decodeNdpFrame } from './ndp.js';

export type L2Frame = ({ protocol: 'arp' } & ArpFrame) | ({ protocol: 'ndp' } & NdpFrame);

export type L2MalformedReason =
  EthernetMalformedReason | ArpMalformedReason | NdpMalformedReason | 'unsupported-ethertype';

export function decodeFrame(frame: Buffer): Decoded<L2Frame, L2MalformedReason> {
  const eth = decodeEthernet(frame);
  if (!eth.ok) return eth;
  if (eth.value.etherType === ETHERTYPE_ARP) {
    const arp = decodeArpFrame(frame);
    return arp.ok ? { ok: true, value: { protocol: 'arp', ...arp.value } } : arp;
  }
  if (eth.value.etherType === ETHERTYPE_IPV6) {
    const ndp = decodeNdpFrame(frame);
    return ndp.ok ? { ok: true, value: { protocol: 'ndp', ...ndp.value } } : ndp;
  }
  return malformed(
    'unsupported-ethertype',
    `EtherType 0x${eth.value.etherType.toString(16)}, want ARP or IPv6`,
  );
}
