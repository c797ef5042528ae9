import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { summarizeHeapSnapshot } from '../bench/heap-summary.js';

// A small process of its own makes the snapshot: this one's heap holds the whole test runner,
// whose snapshot takes half a minute to write. It makes many of one class, which must show
// among the largest holders.
const makeSnapshot = (file: string): void =>
  void execFileSync(process.execPath, [
    '-e',
    `class HeapSummaryProbe { constructor() { this.values = [1, 2, 3]; } }
     globalThis.kept = Array.from({ length: 100000 }, () => new HeapSummaryProbe());
     require('node:v8').writeHeapSnapshot(${JSON.stringify(file)});`,
  ]);

describe('summarizeHeapSnapshot', () => {
  it('names the constructor that holds the most, with its count, read from a real snapshot', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'beacon-heap-'));
    try {
      const file = path.join(dir, 'test.heapsnapshot');
      makeSnapshot(file);
      const top = await summarizeHeapSnapshot(file, 15);
      const probe = top.find((h) => h.name === 'HeapSummaryProbe');
      expect(probe?.count).toBeGreaterThanOrEqual(100_000);
      expect(probe!.selfBytes).toBeGreaterThanOrEqual(100_000 * 12);
      // Largest first, and other node types summed under their type.
      for (let i = 1; i < top.length; i++)
        expect(top[i - 1]!.selfBytes).toBeGreaterThanOrEqual(top[i]!.selfBytes);
      expect(top.some((h) => h.name === '(array)' || h.name === '(string)')).toBe(true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says so when the file is not a complete snapshot', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'beacon-heap-'));
    try {
      const file = path.join(dir, 'cut.heapsnapshot');
      fs.writeFileSync(file, '{"snapshot":{"meta":{"node_fields":["type","name","id","self_size"]');
      await expect(summarizeHeapSnapshot(file)).rejects.toThrow(/not a complete heap snapshot/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
