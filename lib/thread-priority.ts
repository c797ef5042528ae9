// The speaker's timing threads (the BFD worker, the layer 2 membership worker) ask the kernel
// to run ahead of everything else on a busy node. Their work is a few microseconds per packet,
// but it must happen within tens of milliseconds: a BFD session at 100 ms × 3 goes down after
// 300 ms of silence (RFC 5880 §6.8.4), and a layer 2 lease lapses 350 ms after the last
// acknowledged heartbeat, after which the node stops answering ARP/NDP. Beside CPU hogs at the
// default priority such a thread can wait longer than that for a core. On Linux the nice value
// is per thread, and os.setPriority(0, n) changes the calling thread only (getpriority(2),
// "BUGS": threads do not share a nice value), so the rest of the speaker keeps its priority.
// Raising it needs CAP_SYS_NICE; without it the thread keeps the process's priority.
import os from 'node:os';

/** The nice value timing threads ask for. */
export const timingThreadNice = -10;

/** Gives the calling thread `nice`; false (and nothing changed) without CAP_SYS_NICE. */
export function raiseThreadPriority(nice: number = timingThreadNice): boolean {
  try {
    os.setPriority(0, nice);
    return true;
  } catch {
    return false;
  }
}
