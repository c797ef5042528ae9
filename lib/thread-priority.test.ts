import fs from 'node:fs';
import os from 'node:os';
import { raiseThreadPriority } from './thread-priority.js';

/** The nice value of every thread of this process (field 19 of /proc/self/task/<tid>/stat). */
function threadNices(): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of fs.readdirSync('/proc/self/task')) {
    const stat = fs.readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces: fields are counted after its closing ")".
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out.set(Number(tid), Number(fields[16]));
  }
  return out;
}

describe('raiseThreadPriority', () => {
  it('gives the calling thread the nice value and leaves the other threads of the process alone; without CAP_SYS_NICE it says so and changes nothing', () => {
    const before = os.getPriority(0);
    const others = [...threadNices().keys()].filter((tid) => tid !== process.pid);
    try {
      const raised = raiseThreadPriority(before - 1);
      if (process.getuid?.() === 0) {
        expect(raised).toBe(true);
        expect(os.getPriority(0)).toBe(before - 1);
        // The main thread's task id is the PID; libuv's and V8's threads keep their value.
        const nices = threadNices();
        expect(nices.get(process.pid)).toBe(before - 1);
        expect(others.length).toBeGreaterThan(0);
        for (const tid of others) if (nices.has(tid)) expect(nices.get(tid)).toBe(before);
      } else {
        expect(raised).toBe(false);
        expect(os.getPriority(0)).toBe(before);
      }
    } finally {
      try {
        os.setPriority(0, before);
      } catch {
        // Not root: it never changed.
      }
    }
  });
});
