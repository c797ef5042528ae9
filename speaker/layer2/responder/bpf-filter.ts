// The ARP socket's classic BPF program (linux/filter.h, SO_ATTACH_FILTER): the kernel drops
// well-formed ARP frames about addresses this node does not own before they are copied out.
import type { BpfInstruction } from '../../native/index.js';
import { ETHERTYPE_ARP } from '../wire/ethernet.js';
import { ARP_ETHERNET_IPV4, ARP_FRAME_LENGTH, ARP_LENGTHS } from './fast-path.js';

// Classic BPF (linux/filter.h) opcodes for arpFilter.
const BPF_LD_W_LEN = 0x80; // ld len
const BPF_LD_W_ABS = 0x20; // ld [k]
const BPF_LD_H_ABS = 0x28; // ldh [k]
const BPF_LD_B_ABS = 0x30; // ldb [k]
const BPF_JEQ_K = 0x15;
const BPF_JGE_K = 0x35;
const BPF_JSET_K = 0x45;
const BPF_RET_K = 0x06;
const BPF_ACCEPT = 0xffff;
/** Beyond this many owned IPv4s on one interface the program would pass BPF_MAXINSNS (4096). */
export const ARP_FILTER_MAX_IPS = 1000;

/**
 * A socket filter that lets the kernel drop well-formed ARP frames naming none of `owned` as
 * sender or target before they wake the process; on a busy segment that is nearly all ARP.
 * Everything else is accepted: short or malformed frames (the responder counts them), and
 * frames for owned IPs. Each test is followed by its own `ret`, so no jump passes 255.
 */
export function arpFilter(owned: Iterable<number>): BpfInstruction[] {
  const ins = (code: number, k: number, jt = 0, jf = 0): BpfInstruction => ({ code, jt, jf, k });
  const accept = ins(BPF_RET_K, BPF_ACCEPT);
  // "if A == k go on, else accept" and "if A == k accept".
  const expect = (k: number): BpfInstruction[] => [ins(BPF_JEQ_K, k, 1, 0), accept];
  const acceptIf = (k: number): BpfInstruction[] => [ins(BPF_JEQ_K, k, 0, 1), accept];
  const ips = [...owned];
  return [
    ins(BPF_LD_W_LEN, 0),
    ins(BPF_JGE_K, ARP_FRAME_LENGTH, 1, 0),
    accept,
    ins(BPF_LD_H_ABS, 12),
    ...expect(ETHERTYPE_ARP),
    ins(BPF_LD_W_ABS, 14),
    ...expect(ARP_ETHERNET_IPV4),
    ins(BPF_LD_H_ABS, 18),
    ...expect(ARP_LENGTHS),
    ins(BPF_LD_H_ABS, 20),
    ins(BPF_JEQ_K, 1, 2, 0),
    ins(BPF_JEQ_K, 2, 1, 0),
    accept,
    ins(BPF_LD_B_ABS, 22),
    ins(BPF_JSET_K, 1, 0, 1),
    accept,
    ins(BPF_LD_W_ABS, 22),
    ins(BPF_JEQ_K, 0, 0, 3),
    ins(BPF_LD_H_ABS, 26),
    ins(BPF_JEQ_K, 0, 0, 1),
    accept,
    ins(BPF_LD_W_ABS, 28),
    ...ips.flatMap(acceptIf),
    ins(BPF_LD_W_ABS, 38),
    ...ips.flatMap(acceptIf),
    ins(BPF_RET_K, 0),
  ];
}

/** A program that accepts every frame (more owned IPs than one program can list). */
export const ACCEPT_ALL: BpfInstruction = { code: BPF_RET_K, jt: 0, jf: 0, k: BPF_ACCEPT };
