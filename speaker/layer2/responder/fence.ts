// The clock of the answer fence (Responder.setAnswerDeadline): CLOCK_MONOTONIC. The native
// answer thread reads it with clock_gettime(CLOCK_MONOTONIC); process.hrtime reads uv_hrtime,
// which on Linux is the same clock (libuv src/unix/linux.c, uv__hrtime), so a deadline
// computed here means the same instant on both sides. performance.now() counts from the
// process start instead, and Date.now() follows wall-clock steps: neither will do.
//
// The deadline can also live in a cell of shared memory (createAnswerDeadlineCell) that the
// lease's worker thread writes directly: a lease renewed every ~100 ms cannot travel through
// a main thread that lags for seconds under load without arriving already expired. This
// module imports nothing, so a worker_threads Worker can load it.

/** CLOCK_MONOTONIC in milliseconds. */
export function monotonicNowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Checks a deadline given to setAnswerDeadline: a number (any, NaN excepted) or undefined. */
export function checkDeadline(deadlineMs: number | undefined): number | undefined {
  if (deadlineMs === undefined) return undefined;
  if (typeof deadlineMs !== 'number' || Number.isNaN(deadlineMs))
    throw new TypeError(`setAnswerDeadline: deadlineMs ${String(deadlineMs)} is not a number`);
  return deadlineMs;
}

/**
 * A deadline cell: 8 bytes of shared memory holding one Float64, the absolute deadline in
 * monotonicNowMs() milliseconds; NaN or -Infinity fences, +Infinity removes the fence. Starts
 * fenced (NaN): nothing is answered until the lease says so. Hand the same buffer to the
 * worker (workerData or postMessage) and write it with writeAnswerDeadline.
 */
export function createAnswerDeadlineCell(): SharedArrayBuffer {
  const cell = new SharedArrayBuffer(8);
  new Float64Array(cell)[0] = Number.NaN;
  return cell;
}

/** Stores `deadlineMs` in a cell (an aligned 8-byte store: readers see the old or the new value). */
export function writeAnswerDeadline(cell: SharedArrayBuffer, deadlineMs: number): void {
  new Float64Array(cell)[0] = deadlineMs;
}

/** Whether a deadline value (setAnswerDeadline's or a cell's) fences at `now`. */
export function isFenced(deadlineMs: number | undefined, now: number): boolean {
  if (deadlineMs === undefined) return false;
  if (Number.isNaN(deadlineMs)) return true;
  return now >= deadlineMs;
}
