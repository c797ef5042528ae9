// Reads the test vectors in testdata/: hex text, '#' comment lines, whitespace ignored.
// A "# expect: <reason>" comment names the malformed reason a corpus frame must produce.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export interface HexFile {
  name: string;
  comments: string[];
  bytes: Buffer;
  expect?: string;
}

export function readHexFile(path: string): HexFile {
  const lines = readFileSync(path, 'utf8').split('\n');
  const comments = lines.filter((l) => l.startsWith('#')).map((l) => l.replace(/^#\s*/, ''));
  const hex = lines
    .filter((l) => !l.startsWith('#'))
    .join('')
    .replace(/\s+/g, '');
  if (!/^([0-9a-fA-F]{2})*$/.test(hex)) throw new Error(`${path}: not an even-length hex string`);
  const file: HexFile = { name: path.split('/').pop() ?? path, comments, bytes: Buffer.from(hex, 'hex') };
  const expect = comments.find((c) => c.startsWith('expect:'));
  if (expect) file.expect = expect.slice('expect:'.length).trim();
  return file;
}

export function readHexDir(dir: string): HexFile[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.hex'))
    .sort()
    .map((f) => readHexFile(join(dir, f)));
}

export const TESTDATA = new URL('.', import.meta.url).pathname;

export function capture(name: string): Buffer {
  return readHexFile(join(TESTDATA, 'captures', `${name}.hex`)).bytes;
}
