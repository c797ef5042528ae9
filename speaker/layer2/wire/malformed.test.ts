import { join } from 'node:path';
import { decodeFrame } from './frame.js';
import { TESTDATA, capture, readHexDir } from './testdata/hex-file.js';

const corpus = readHexDir(join(TESTDATA, 'malformed'));

describe('malformed-frame corpus (testdata/malformed)', () => {
  it('holds frames, each described by a first-line comment and an expected reason', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(30);
    for (const file of corpus) {
      expect(file.comments[0]?.length).toBeGreaterThan(10);
      expect(file.expect).toBeDefined();
    }
  });

  it.each(corpus.map((f) => [f.name, f] as const))('%s decodes to its malformed reason', (_name, file) => {
    const result = decodeFrame(file.bytes);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.reason).toBe(file.expect);
      expect(result.detail.length).toBeGreaterThan(0);
    }
  });
});

describe('decoder robustness', () => {
  const seeds = ['arp-request', 'arp-reply', 'ns-multicast', 'na-solicited', 'ns-dad-link-local-with-nonce'];

  it.each(seeds)('never throws on %s cut at every length', (name) => {
    const frame = capture(name);
    for (let n = 0; n < frame.length; n++) {
      const result = decodeFrame(frame.subarray(0, n));
      // A cut frame is malformed, except an ARP body only loses the padding it never had.
      expect(result.ok).toBe(false);
    }
  });

  it('never throws on 20000 frames with random bytes flipped', () => {
    // A fixed-seed generator keeps failures reproducible.
    let state = 0x2545f491;
    const next = (): number => {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return state >>> 0;
    };
    const outcomes = new Set<string>();
    for (let i = 0; i < 20000; i++) {
      const frame = Buffer.from(capture(seeds[next() % seeds.length] ?? 'arp-request'));
      const flips = 1 + (next() % 4);
      for (let f = 0; f < flips; f++) frame[next() % frame.length] = next() & 0xff;
      const result = decodeFrame(frame);
      outcomes.add(result.ok ? 'ok' : result.reason);
    }
    // Both accepted and many distinct rejection reasons were exercised.
    expect(outcomes.has('ok')).toBe(true);
    expect(outcomes.size).toBeGreaterThan(10);
  });
});
