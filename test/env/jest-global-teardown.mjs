import fs from 'node:fs';

export default async function globalTeardown() {
  const { stateFileEnv, stopTestEnv } = await import('../../dist/test/env/testenv.js');
  const owned = process.env.BEACON_TESTENV_OWNED;
  const stateFile = process.env[stateFileEnv];
  if (!owned || !stateFile) return; // reused someone else's control plane
  await stopTestEnv(stateFile);
  fs.rmSync(owned, { recursive: true, force: true });
  delete process.env[stateFileEnv];
  delete process.env.BEACON_TESTENV_OWNED;
}
