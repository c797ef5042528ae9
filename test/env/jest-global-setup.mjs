// Jest's global setup for the integration and e2e projects: one real control plane per run,
// supervised so that it stops even if Jest is killed. A running `make testenv-up` is reused
// when BEACON_TESTENV_STATE names its state file. Jest loads this file outside its module
// mapper, so it imports the compiled harness (`make build` runs before the tests).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export default async function globalSetup() {
  const { stateFileEnv, startTestEnv } = await import('../../dist/test/env/testenv.js');
  const existing = process.env[stateFileEnv];
  if (existing && fs.existsSync(existing)) return;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'beacon-jest-'));
  const stateFile = path.join(dir, 'state.json');
  const started = Date.now();
  const state = await startTestEnv({
    stateFile,
    kubeconfig: path.join(dir, 'kubeconfig'),
    owner: process.pid,
  });
  process.env[stateFileEnv] = stateFile;
  process.env.BEACON_TESTENV_OWNED = dir;
  process.stderr.write(
    `\ncontrol plane ready in ${((Date.now() - started) / 1000).toFixed(1)} s (${state.server})\n`,
  );
}
