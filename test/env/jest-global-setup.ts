// Jest's global setup for the integration and e2e projects: one real control plane per run,
// supervised so that it stops even if Jest is killed. A running `make testenv-up` is reused.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stateFileEnv, startTestEnv } from './testenv.js';

export default async function globalSetup(): Promise<void> {
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
