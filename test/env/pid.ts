// Whether a process still exists: signal 0 checks without sending anything (kill(2)).

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
