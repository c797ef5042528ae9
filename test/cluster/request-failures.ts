// Why a request of the client's loop failed, read from the client's own capture (tcpdump -e -tt:
// `<epoch s> <src MAC> > <dst MAC>, ethertype ...: <packet>`). One cause is a known limit of
// layer 2 mode rather than a defect: when a Service IP moves to another node (its gratuitous ARP
// names a new MAC), the connections that were in flight through the old node continue at the
// new one, whose connection tracking has no entry for them, and they are reset. kube-proxy's
// DNAT state lives on the node that saw the SYN, so every node answering an IP in turn resets
// what is in flight at that moment. Every other failure (no ARP answer, a refused connection
// with no move, a timeout) is a defect to report.

/** A gratuitous ARP for the IP, or a TCP reset sent from it: when and from which MAC. */
interface Seen {
  at: number;
  mac: string;
}

function parseFrames(frames: readonly string[], ip: string): { announced: Seen[]; resets: Seen[] } {
  const announced: Seen[] = [];
  const resets: Seen[] = [];
  const dotted = ip.replace(/\./g, '\\.');
  const garp = new RegExp(`(Reply ${dotted} is-at |Request who-has ${dotted} tell ${dotted},)`);
  const reset = new RegExp(`: ${dotted}\\.\\d+ > \\S+: Flags \\[R`);
  for (const line of frames) {
    const m = /^(\d+\.\d+) ([0-9a-f:]{17}) > /.exec(line);
    if (!m) continue;
    const seen = { at: Number(m[1]), mac: m[2] ?? '' };
    if (garp.test(line)) announced.push(seen);
    else if (reset.test(line)) resets.push(seen);
  }
  return { announced, resets };
}

/** Times the IP's announced MAC changed (gratuitous ARPs, in capture order): its moves. */
export function ipMoves(frames: readonly string[], ip: string): { at: number; from: string; to: string }[] {
  const { announced } = parseFrames(frames, ip);
  const moves: { at: number; from: string; to: string }[] = [];
  for (let i = 1; i < announced.length; i++) {
    const prev = announced[i - 1]!;
    const cur = announced[i]!;
    if (cur.mac !== prev.mac) moves.push({ at: cur.at, from: prev.mac, to: cur.mac });
  }
  return moves;
}

/**
 * Splits the loop's `fail <start> ...` lines into requests reset because the IP moved while
 * they were in flight (a reset from the IP, sent by the MAC the IP moved to, after a move that
 * came after the request started: its SYN went to the old owner) and the others.
 */
export function classifyFailures(
  failed: readonly string[],
  frames: readonly string[],
  ip: string,
  timeoutS = 3,
): { resetByMove: string[]; other: string[] } {
  const { resets } = parseFrames(frames, ip);
  const moves = ipMoves(frames, ip);
  const resetByMove: string[] = [];
  const other: string[] = [];
  for (const line of failed) {
    const start = Number(line.split(' ')[1]);
    const explained = resets.some(
      (r) =>
        r.at >= start &&
        r.at <= start + timeoutS + 0.5 &&
        moves.some((mv) => mv.to === r.mac && mv.at <= r.at && mv.at >= start) &&
        // and the IP did not move again before the reset: the resetting node was its owner
        moves.filter((mv) => mv.at <= r.at).at(-1)?.to === r.mac,
    );
    (explained ? resetByMove : other).push(line);
  }
  return { resetByMove, other };
}
