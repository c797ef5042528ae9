#!/usr/bin/env node
// Fuzzes Beacon's BGP codec and session: valid messages are generated, mutated (bit flips,
// truncation, length-field edits, splicing, random bytes) and fed through the framer, the
// decoder and then the session state machine (in OpenSent, OpenConfirm or Established).
// A failure is any exception other than BgpDecodeError, a decode or FSM step slower than
// 100 ms, a decoded message that does not survive re-encoding, or a session that answers a
// malformed message with anything but the decoder's NOTIFICATION and a return to Idle. Failing inputs are written to
// speaker/bgp/wire/testdata/malformed/fuzz-<hash>.hex, where the unit tests replay them forever.
//
//   node dist/test/fuzz/bgp-fuzz.js [count=1000000] [seed=1]

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { decodeMessage } from '../../speaker/bgp/wire/decode.js';
import { encodeMessage } from '../../speaker/bgp/wire/encode.js';
import { BgpDecodeError } from '../../speaker/bgp/wire/errors.js';
import { BgpFramer } from '../../speaker/bgp/wire/framer.js';
import { eventFromDecode } from '../../speaker/bgp/fsm/decode-event.js';
import { BgpFsm } from '../../speaker/bgp/fsm/fsm.js';
import type { ConnId, FsmAction, State } from '../../speaker/bgp/fsm/types.js';
import type { DecodeResult } from '../../speaker/bgp/wire/decode-result.js';
import type { CodecContext } from '../../speaker/bgp/wire/messages.js';
import { buildOpen } from '../../speaker/bgp/wire/open.js';
import { Rng, randomContext, randomMessage } from './bgp-messages.js';

export interface FuzzFailure {
  kind: 'exception' | 'slow' | 'reencode' | 'session';
  iteration: number;
  input: Buffer;
  context: CodecContext;
  detail: string;
}

export interface FuzzReport {
  iterations: number;
  failures: FuzzFailure[];
  /** How the decoder classified the mutated frames (ok, session-reset, ...), plus framer rejections. */
  outcomes: Record<string, number>;
  elapsedMs: number;
}

export interface FuzzOptions {
  iterations: number;
  seed: number;
  slowMs?: number;
  /** Stop after this many failures (default 10). */
  maxFailures?: number;
}

const interesting16 = [0, 1, 2, 3, 18, 19, 20, 22, 23, 28, 29, 255, 256, 4095, 4096, 4097, 0x7fff, 0xffff];

/** One to three mutations of `input`; `other` is material for splicing. */
export function mutate(rng: Rng, input: Buffer, other: Buffer): Buffer {
  let b = Buffer.from(input);
  for (let k = rng.int(1, 3); k > 0; k--) {
    const at = rng.int(0, Math.max(0, b.length - 1));
    switch (rng.int(0, 8)) {
      case 0: // bit flip
        if (b.length) b[at]! ^= 1 << rng.int(0, 7);
        break;
      case 1: // random byte
        if (b.length) b[at] = rng.int(0, 255);
        break;
      case 2: // truncate
        b = b.subarray(0, rng.int(0, b.length));
        break;
      case 3: // append random bytes
        b = Buffer.concat([b, rng.bytes(rng.int(1, 40))]);
        break;
      case 4: // a 2-octet field (a length, most likely) set to an interesting value or nudged
        if (b.length >= 2) {
          const pos = rng.bool(0.3) ? 16 : rng.int(19, Math.max(19, b.length - 2));
          if (pos + 2 <= b.length)
            b.writeUInt16BE(
              rng.bool() ? rng.pick(interesting16) : (b.readUInt16BE(pos) + rng.int(-3, 3)) & 0xffff,
              pos,
            );
        }
        break;
      case 5: // a 1-octet length nudged
        if (b.length > 19) {
          const pos = rng.int(19, b.length - 1);
          b[pos] = (b[pos]! + rng.pick([-2, -1, 1, 2, 128])) & 0xff;
        }
        break;
      case 6: {
        // splice: our head with the other message's tail
        const cut = rng.int(19, Math.max(19, other.length));
        b = Buffer.concat([b.subarray(0, rng.int(0, b.length)), other.subarray(cut)]);
        break;
      }
      case 7: {
        // duplicate a slice (repeats attributes, prefixes, capabilities)
        const from = rng.int(19, Math.max(19, b.length));
        const to = rng.int(from, Math.min(b.length, from + 40));
        b = Buffer.concat([b.subarray(0, to), b.subarray(from, to), b.subarray(to)]);
        break;
      }
      default: // random body behind a valid header
        b = Buffer.concat([b.subarray(0, 19), rng.bytes(rng.int(0, 100))]);
    }
  }
  // Usually make the header agree with the new size, so the mutation reaches the body decoders.
  if (rng.bool(0.8) && b.length >= 18) {
    b.fill(0xff, 0, 16);
    b.writeUInt16BE(Math.min(b.length, 0xffff), 16);
  }
  return b;
}

/**
 * How long `run` takes, in ms: timed once and, only when that exceeds `slowMs`, the best of
 * five more runs, so that a pause of a busy machine (GC, another process) is not a hang.
 */
function bestOf(run: () => unknown, slowMs: number): number {
  let best = Infinity;
  for (let i = 0; i < 6 && best > slowMs; i++) {
    const t0 = performance.now();
    run();
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

const sessionStates = ['OpenSent', 'OpenConfirm', 'Established'] as const;

/** A session on connection `conn`, driven by valid events to `target`. */
function sessionIn(target: (typeof sessionStates)[number], now: number): { fsm: BgpFsm; conn: ConnId } {
  const fsm = new BgpFsm({ localAsn: 64512, peerAsn: 64500, routerId: '10.0.0.11', holdTime: 9 });
  const connect = fsm.step({ type: 'ManualStart' }, now).find((a) => a.type === 'connect');
  if (connect?.type !== 'connect') throw new Error('the FSM did not connect on ManualStart');
  const conn = connect.conn;
  fsm.step({ type: 'Tcp_CR_Acked', conn }, now);
  if (target === 'OpenSent') return { fsm, conn };
  const open = buildOpen({ asn: 64500, holdTime: 9, bgpId: '10.0.0.1', capabilities: [] });
  fsm.step({ type: 'BGPOpen', conn, open }, now);
  if (target === 'OpenConfirm') return { fsm, conn };
  fsm.step({ type: 'KeepAliveMsg', conn }, now);
  return { fsm, conn };
}

/**
 * Feeds one decoded frame to a session in `state`. Returns why the session misbehaved, or
 * undefined. RFC 4271 §6: a message error is answered with the decoder's NOTIFICATION and
 * the connection closes (Idle); RFC 7606's lighter outcomes keep an Established session up.
 */
export function sessionCheck(
  r: DecodeResult,
  state: (typeof sessionStates)[number],
  slowMs: number,
): string | undefined {
  const { fsm, conn } = sessionIn(state, 0);
  if (fsm.state !== state) return `the valid handshake reached ${fsm.state}, not ${state}`;
  const ev = eventFromDecode(conn, r);
  if (ev === undefined) return `no FSM event for a ${r.action} result`;
  const out: FsmAction[] = fsm.step(ev, 1000);
  const ms = bestOf(() => sessionIn(state, 0).fsm.step(ev, 1000), slowMs);
  if (ms > slowMs) return `the FSM step took ${ms.toFixed(1)} ms`;
  // Read again: the step changed it (TypeScript still narrows the getter from the check above).
  const after = fsm.state as State;
  if (r.action === 'session-reset') {
    const sent = out.find((a) => a.type === 'send' && a.message.type === 'notification');
    if (sent?.type !== 'send' || sent.message.type !== 'notification')
      return `a malformed message in ${state} sent no NOTIFICATION`;
    if (sent.message.code !== r.notification.code || sent.message.subcode !== r.notification.subcode)
      return `in ${state} the session sent ${sent.message.code}/${sent.message.subcode}, the decoder asked for ${r.notification.code}/${r.notification.subcode}`;
    if (after !== 'Idle') return `a malformed message in ${state} left the session in ${after}`;
  } else if (
    state === 'Established' &&
    (r.action === 'treat-as-withdraw' || r.action === 'attribute-discard')
  ) {
    if (after !== 'Established') return `an RFC 7606 ${r.action} UPDATE took the session down`;
  }
  return undefined;
}

/** The core loop; pure apart from the clock. */
export function runFuzz(opts: FuzzOptions): FuzzReport {
  const rng = new Rng(opts.seed);
  const slowMs = opts.slowMs ?? 100;
  const maxFailures = opts.maxFailures ?? 10;
  const failures: FuzzFailure[] = [];
  const outcomes: Record<string, number> = {};
  const count = (k: string) => (outcomes[k] = (outcomes[k] ?? 0) + 1);
  const started = performance.now();
  let previous = encodeMessage({ type: 'keepalive' });
  let i = 0;
  for (; i < opts.iterations && failures.length < maxFailures; i++) {
    const ctx = randomContext(rng);
    let valid: Buffer;
    try {
      valid = encodeMessage(randomMessage(rng, ctx), ctx);
    } catch {
      continue; // a generated OPEN with too many capabilities for 4096 octets
    }
    const input = mutate(rng, valid, previous);
    previous = valid;
    const fail = (kind: FuzzFailure['kind'], detail: string) =>
      failures.push({ kind, iteration: i, input, context: ctx, detail });
    try {
      // Through the framer, in random chunks, as a socket would deliver it.
      const framer = new BgpFramer(ctx.maxMessageSize);
      const frames: Buffer[] = [];
      try {
        for (let off = 0; off < input.length;) {
          const n = rng.int(1, input.length);
          frames.push(...framer.push(input.subarray(off, off + n)));
          off += n;
        }
      } catch (e) {
        if (!(e instanceof BgpDecodeError)) throw e;
        count('framer-error');
      }
      // And straight into the decoder, whatever the header says.
      if (frames.length === 0) frames.push(input);
      for (const frame of frames) {
        const r = decodeMessage(frame, ctx);
        const ms = bestOf(() => decodeMessage(frame, ctx), slowMs);
        if (ms > slowMs) fail('slow', `decode took ${ms.toFixed(1)} ms`);
        count(r.action);
        try {
          const why = sessionCheck(r, rng.pick(sessionStates), slowMs);
          if (why !== undefined) fail('session', why);
          else count('session-checked');
        } catch (e) {
          fail('session', `the FSM threw ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
        }
        if (r.action === 'ok' || r.action === 'attribute-discard') {
          // What we accepted must be representable: re-encode and decode to the same object.
          let again;
          try {
            again = decodeMessage(encodeMessage(r.message, ctx), ctx);
          } catch (e) {
            fail('reencode', `re-encoding a decoded ${r.message.type} threw ${String(e)}`);
            continue;
          }
          if (again.action !== 'ok' || !isDeepStrictEqual(again.message, r.message))
            fail('reencode', `a decoded ${r.message.type} did not survive re-encoding (${again.action})`);
        }
      }
    } catch (e) {
      fail('exception', e instanceof Error ? (e.stack ?? e.message) : String(e));
    }
  }
  return { iterations: i, failures, outcomes, elapsedMs: performance.now() - started };
}

/** The repository root: the nearest ancestor with package.json and speaker/bgp (from src or dist/). */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  const isRoot = (d: string) => existsSync(join(d, 'package.json')) && existsSync(join(d, 'speaker', 'bgp'));
  while (!isRoot(dir) && dirname(dir) !== dir) dir = dirname(dir);
  return isRoot(dir) ? dir : process.cwd();
}

export function saveFailure(f: FuzzFailure, seed: number): string {
  const dir = join(repoRoot(), 'speaker', 'bgp', 'wire', 'testdata', 'malformed');
  mkdirSync(dir, { recursive: true });
  const hash = createHash('sha256').update(f.input).digest('hex').slice(0, 12);
  const file = join(dir, `fuzz-${hash}.hex`);
  const firstLine = f.detail.split('\n')[0];
  const hex = f.input.toString('hex').replace(/(.{64})/g, '$1\n');
  writeFileSync(
    file,
    `# found by bgp-fuzz (seed ${seed}, iteration ${f.iteration}): ${f.kind}: ${firstLine}\n` +
      `# context: fourOctetAs=${f.context.fourOctetAs} maxMessageSize=${f.context.maxMessageSize} external=${f.context.external ?? false}\n` +
      `${hex}\n`,
  );
  return file;
}

function main(): void {
  const iterations = Number(process.argv[2] ?? 1_000_000);
  const seed = Number(process.argv[3] ?? 1);
  if (!Number.isInteger(iterations) || iterations < 1 || !Number.isInteger(seed)) {
    console.error('usage: bgp-fuzz.js [count, a positive integer] [seed, an integer]');
    process.exit(2);
  }
  const report = runFuzz({ iterations, seed });
  const summary = {
    iterations: report.iterations,
    seed,
    seconds: Number((report.elapsedMs / 1000).toFixed(1)),
    failures: report.failures.length,
    outcomes: report.outcomes,
  };
  console.log(JSON.stringify(summary));
  for (const f of report.failures)
    console.error(`${f.kind} at iteration ${f.iteration}: ${f.detail}\n  saved ${saveFailure(f, seed)}`);
  process.exit(report.failures.length > 0 ? 1 : 0);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
