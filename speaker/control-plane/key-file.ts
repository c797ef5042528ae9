// The membership key from a file (a hostPath in the static Pod): at least 16 bytes, used as
// they are, the same file on every control-plane node. Errors name the flag and the path.

import fs from 'node:fs';
import { minKeyBytes } from '../layer2/membership/memberlist-key.js';

export type KeyRead = { ok: true; key: Buffer } | { ok: false; reason: string };

export function readKeyFile(file: string | undefined): KeyRead {
  if (file === undefined) return { ok: false, reason: '--key-file is not set' };
  let key: Buffer;
  try {
    key = fs.readFileSync(file);
  } catch (err) {
    return { ok: false, reason: `--key-file ${JSON.stringify(file)}: ${(err as Error).message}` };
  }
  if (key.length < minKeyBytes)
    return {
      ok: false,
      reason: `--key-file ${JSON.stringify(file)}: ${key.length} bytes, at least ${minKeyBytes} needed`,
    };
  return { ok: true, key };
}
