import fs from 'node:fs';
import { stateFileEnv, stopTestEnv } from './testenv.js';

export default async function globalTeardown(): Promise<void> {
  const owned = process.env.BEACON_TESTENV_OWNED;
  const stateFile = process.env[stateFileEnv];
  if (!owned || !stateFile) return; // reused someone else's control plane
  await stopTestEnv(stateFile);
  fs.rmSync(owned, { recursive: true, force: true });
  delete process.env[stateFileEnv];
  delete process.env.BEACON_TESTENV_OWNED;
}
