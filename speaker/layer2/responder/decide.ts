// What to do with one decoded ARP (RFC 826) or NDP (RFC 4861) frame: the pure decision of the
// L2 responder and the reference the byte-level fast path (fast-path.ts) and the native answer
// thread (speaker/native/src/packet_socket.cc, TryAnswerArp/TryAnswerNdp) must agree with.
//
// NDP choices, RFC 4861 §7.2.4:
//  - Unicast NS (neighbour unreachability detection, §7.3.1) to the Service IP are answered
//    like multicast ones; MetalLB drops them (its issue 2920), which makes clients whose cache
//    entry went STALE fall back to multicast solicitation and lose time.
//  - O=1 (override). §7.2.4 asks for O=0 for anycast and proxied addresses. A Service IP is
//    neither: it is a unicast address assigned to this node (kube-proxy puts it on a local
//    device), and exactly one node answers for it at a time. O=1 also lets a solicited NA
//    replace a stale entry pointing at the previous owner instead of waiting for it to fail.
//  - S=1 for a solicitor with an address; to ff02::1 with S=0 for DAD (source ::).
//  - The NA is sourced from the Service IP itself, not from our link-local address: Linux
//    accepts both, but some tools (ndisc6) ignore an NA for a global target from a link-local
//    source, and the Service IP is ours while we own it.
import { encodeArpReply } from '../wire/arp.js';
import type { L2Frame, L2MalformedReason } from '../wire/frame.js';
import { multicastMac, solicitedNodeMulticast } from '../wire/ipv6.js';
import { answerNeighborSolicitation, encodeNdpFrame } from '../wire/ndp.js';
import { BROADCAST_MAC } from '../wire/ethernet.js';

export type FrameDecision =
  /** Send `frame` back on the interface it came from. */
  | { kind: 'answer'; ip: string; frame: Buffer }
  /** Another station claims `ip`, which we own, with `mac`. */
  | { kind: 'conflict'; ip: string; mac: string }
  /** Not for us; `ip` is set when it was a request for an owned IP that we must not answer. */
  | { kind: 'ignore'; ip?: string };

export interface FrameContext {
  /** Our MAC on the interface the frame arrived on. */
  mac: string;
  /** Whether we own `ip` on this interface. */
  owns: (ip: string) => boolean;
}

/** What to do with one well-formed frame. */
export function decideFrame(frame: L2Frame, ctx: FrameContext): FrameDecision {
  return frame.protocol === 'arp' ? decideArp(frame, ctx) : decideNdp(frame, ctx);
}

function decideArp(frame: L2Frame & { protocol: 'arp' }, ctx: FrameContext): FrameDecision {
  // Someone else asserting an owned IP: an ARP reply, or a gratuitous request (RFC 5227 §2.3
  // Announcement), whose sender is the IP and whose sender MAC is not ours.
  if (
    ctx.owns(frame.senderIp) &&
    frame.senderMac !== ctx.mac &&
    (frame.operation === 'reply' || frame.gratuitous)
  ) {
    return { kind: 'conflict', ip: frame.senderIp, mac: frame.senderMac };
  }
  if (frame.operation !== 'request' || frame.gratuitous || !ctx.owns(frame.targetIp))
    return { kind: 'ignore' };
  // Only requests that were broadcast or sent to us (MetalLB does the same): a unicast request
  // to another MAC is that station's to answer.
  if (frame.ethernetDestination !== BROADCAST_MAC && frame.ethernetDestination !== ctx.mac) {
    return { kind: 'ignore', ip: frame.targetIp };
  }
  // Probes (sender 0.0.0.0, RFC 5227 §2.1.1) are answered too: that defends the address.
  return { kind: 'answer', ip: frame.targetIp, frame: encodeArpReply({ request: frame, mac: ctx.mac }) };
}

function decideNdp(frame: L2Frame & { protocol: 'ndp' }, ctx: FrameContext): FrameDecision {
  const message = frame.message;
  if (message.type === 'neighbor-advertisement') {
    const mac = message.targetLinkAddress ?? frame.ethernetSource;
    if (ctx.owns(message.target) && mac !== ctx.mac) return { kind: 'conflict', ip: message.target, mac };
    return { kind: 'ignore' };
  }
  const target = message.target;
  if (!ctx.owns(target)) return { kind: 'ignore' };
  // §7.1.1 and §7.2.3: an NS is for us when sent to the target's solicited-node group or, for
  // unicast NUD probes, to the target itself and to our MAC.
  const group = solicitedNodeMulticast(target);
  const toGroup = frame.destination === group && frame.ethernetDestination === multicastMac(group);
  const toUs = frame.destination === target && frame.ethernetDestination === ctx.mac;
  if (!toGroup && !toUs) return { kind: 'ignore', ip: target };
  const answer = answerNeighborSolicitation(frame, ctx.mac);
  const bytes = encodeNdpFrame({
    source: target,
    destination: answer.destination,
    message: answer.message,
    ethernetSource: ctx.mac,
    ethernetDestination: answer.ethernetDestination,
  });
  return { kind: 'answer', ip: target, frame: bytes };
}

/** Decode failures that only mean "not NDP/ARP", which a packet socket may still see. */
export const NOT_OURS: ReadonlySet<L2MalformedReason> = new Set<L2MalformedReason>([
  'unsupported-ethertype',
  'not-arp',
  'not-ipv6-ethertype',
  'not-icmpv6',
  'not-neighbor-discovery',
]);
