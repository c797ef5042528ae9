// Why a request of the client's loop failed, read from the client's own capture (tcpdump -e -tt:
// `<epoch s> <src MAC> > <dst MAC>, ethertype ...: <packet>`). One cause is a known limit of
// layer 2 mode rather than a defect: when a Service IP moves to another node (its gratuitous ARP
// names a new MAC), the connections that were in flight through the old node continue at the
// new one, whose connection tracking has no entry for them, and they are reset. kube-proxy's
// DNAT state lives on the node that saw the SYN, so every node answering an IP in turn resets
// what is in flight at that moment. Every other failure (no ARP answer, a refused connection
// with no move, a timeout) is a defect to report.

import { parseGratuitousLine } from '../demo/probes.js';

/** What the client's capture says about one IP: when it moved, and the resets sent from it. */
export interface Capture {
  /** The changes of the MAC its gratuitous ARPs name, in capture order (epoch s). */
  moves: { at: number; from: string; to: string }[];
  /** TCP resets sent from the IP: when (epoch s) and from which MAC. */
  resets: { at: number; mac: string }[];
}

export function parseCapture(frames: readonly string[], ip: string): Capture {
  const moves: Capture['moves'] = [];
  const resets: Capture['resets'] = [];
  const reset = new RegExp(
    `^(\\d+\\.\\d+) ([0-9a-f:]{17}) > .*: ${ip.replace(/\./g, '\\.')}\\.\\d+ > \\S+: Flags \\[R`,
  );
  let owner: string | undefined;
  for (const line of frames) {
    const g = parseGratuitousLine(line);
    if (g?.ip === ip) {
      if (owner !== undefined && g.mac !== owner) moves.push({ at: g.at / 1000, from: owner, to: g.mac });
      owner = g.mac;
      continue;
    }
    const r = reset.exec(line);
    if (r?.[1] && r[2]) resets.push({ at: Number(r[1]), mac: r[2] });
  }
  return { moves, resets };
}

/**
 * Splits the loop's `fail <start> ...` lines into requests reset because the IP moved while
 * they were in flight (a reset from the IP, sent by the MAC it last moved to, in a move that came
 * after the request started: its SYN went to the old owner) and the others.
 */
export function classifyFailures(
  failed: readonly string[],
  capture: Capture,
  timeoutS = 3,
): { resetByMove: string[]; other: string[] } {
  const resetByMove: string[] = [];
  const other: string[] = [];
  for (const line of failed) {
    const start = Number(line.split(' ')[1]);
    const explained = capture.resets.some((r) => {
      if (r.at < start || r.at > start + timeoutS + 0.5) return false;
      const last = capture.moves.filter((mv) => mv.at <= r.at).at(-1);
      return last !== undefined && last.to === r.mac && last.at >= start;
    });
    (explained ? resetByMove : other).push(line);
  }
  return { resetByMove, other };
}
