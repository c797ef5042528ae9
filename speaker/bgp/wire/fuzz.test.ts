// A short run of the fuzz loop from test/fuzz/bgp-fuzz.ts on every test run; the full
// million-input run is `node dist/test/fuzz/bgp-fuzz.js`.

import { runFuzz } from '../../../test/fuzz/bgp-fuzz.js';

describe('BGP codec fuzzing', () => {
  test('20,000 mutated messages through framer, decoder and session raise only typed errors, re-encode cleanly and reset the session correctly', () => {
    const report = runFuzz({ iterations: 20_000, seed: 20240601, slowMs: 100 });
    expect(report.failures.map((f) => `${f.kind} @${f.iteration}: ${f.detail.split('\n')[0]}`)).toEqual([]);
    expect(report.iterations).toBe(20_000);
    // The mutations reach every classification, not just the header checks.
    for (const outcome of [
      'ok',
      'session-reset',
      'treat-as-withdraw',
      'attribute-discard',
      'framer-error',
      'session-checked',
    ])
      expect(report.outcomes[outcome] ?? 0).toBeGreaterThan(0);
  });
});
