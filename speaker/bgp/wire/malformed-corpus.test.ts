// Replays testdata/malformed/*.hex: hand-written malformed messages and whatever the fuzzer
// found. Each must be rejected with a typed error or a classified result, quickly, in every
// session context; "# expect:" lines pin the classification for the default context.

import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fromHex } from '../../../test/fuzz/bgp-messages.js';
import { decodeMessage } from './decode.js';
import type { DecodeResult } from './decode-result.js';
import { BgpDecodeError } from './errors.js';
import { BgpFramer } from './framer.js';
import type { CodecContext } from './messages.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), 'testdata', 'malformed');
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.hex'))
  .sort();

const contexts: CodecContext[] = [
  { fourOctetAs: true, maxMessageSize: 4096 },
  { fourOctetAs: false, maxMessageSize: 4096 },
  { fourOctetAs: true, maxMessageSize: 65535, external: true },
  { fourOctetAs: false, maxMessageSize: 65535 },
];

function describeResult(r: DecodeResult): string {
  if (r.action === 'session-reset') return `session-reset ${r.notification.code}/${r.notification.subcode}`;
  return r.action;
}

describe('malformed input corpus', () => {
  test('holds the hand-written cases', () => {
    expect(files.length).toBeGreaterThanOrEqual(20);
  });

  test.each(files)('%s is rejected or classified, never thrown, in every context', (file) => {
    const text = readFileSync(join(dir, file), 'utf8');
    const bytes = fromHex(text);
    expect(text.startsWith('#')).toBe(true); // every case says what is wrong with it
    for (const ctx of contexts) {
      const started = performance.now();
      const result = decodeMessage(bytes, ctx);
      expect(['ok', 'attribute-discard', 'treat-as-withdraw', 'session-reset']).toContain(result.action);
      try {
        for (const frame of new BgpFramer(ctx.maxMessageSize).push(bytes)) decodeMessage(frame, ctx);
      } catch (e) {
        expect(e).toBeInstanceOf(BgpDecodeError);
      }
      expect(performance.now() - started).toBeLessThan(1000);
    }
    const expected = /^# expect: (.+)$/m.exec(text)?.[1];
    if (expected !== undefined)
      expect(describeResult(decodeMessage(bytes, contexts[0]))).toBe(expected.trim());
  });
});
