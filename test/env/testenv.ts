// Starting and stopping a supervised control plane, and reaching it from tests.
// Used by `make testenv-up`/`testenv-down` (cli.ts) and by Jest's global setup.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { repoRoot, type ControlPlaneState, type TestUser } from './control-plane.js';
import { kubectl } from './install.js';
import { pidAlive } from './pid.js';

export interface TestEnvState extends ControlPlaneState {
  ready: boolean;
  supervisorPid: number;
  kubeconfig: string;
  startMs: number;
  error?: string;
}

const supervisorScript = path.join(repoRoot, 'dist/test/env/supervisor.js');

/** Starts a detached supervisor and waits until its control plane is ready. */
export async function startTestEnv(opts: {
  stateFile: string;
  kubeconfig: string;
  owner?: number;
}): Promise<TestEnvState> {
  if (!fs.existsSync(supervisorScript))
    throw new Error(`${supervisorScript} is missing: run "make build" (make test does it) first`);
  fs.mkdirSync(path.dirname(opts.stateFile), { recursive: true });
  fs.rmSync(opts.stateFile, { force: true });
  const logFile = `${opts.stateFile}.log`;
  const log = fs.openSync(logFile, 'w');
  const args = [supervisorScript, '--state', opts.stateFile, '--kubeconfig', opts.kubeconfig];
  if (opts.owner !== undefined) args.push('--owner', String(opts.owner));
  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', log, log] });
  fs.closeSync(log);
  child.unref();
  // The first run builds the control plane from source: allow for it.
  const deadline = Date.now() + 60 * 60 * 1000;
  while (Date.now() < deadline) {
    if (fs.existsSync(opts.stateFile)) {
      const state = JSON.parse(fs.readFileSync(opts.stateFile, 'utf8')) as TestEnvState;
      if (!state.ready) throw new Error(`control plane failed: ${state.error}\n(see ${logFile})`);
      return state;
    }
    if (child.exitCode !== null)
      throw new Error(
        `control plane supervisor exited early; see ${logFile}:\n${fs.readFileSync(logFile, 'utf8')}`,
      );
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('control plane did not become ready');
}

/** Stops the supervisor by PID and waits until it (and so its control plane) is gone. */
export async function stopTestEnv(stateFile: string): Promise<boolean> {
  if (!fs.existsSync(stateFile)) return false;
  const state = JSON.parse(fs.readFileSync(stateFile, 'utf8')) as TestEnvState;
  const pids = [state.supervisorPid, state.pids?.apiserver, state.pids?.etcd].filter((p): p is number => !!p);
  if (pidAlive(state.supervisorPid)) process.kill(state.supervisorPid, 'SIGTERM');
  const deadline = Date.now() + 30_000;
  while (pids.some(pidAlive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  // Last resort, still by PID: whatever did not stop in time.
  for (const pid of pids.filter(pidAlive)) process.kill(pid, 'SIGKILL');
  if (state.dir) fs.rmSync(state.dir, { recursive: true, force: true });
  fs.rmSync(stateFile, { force: true });
  fs.rmSync(`${stateFile}.log`, { force: true });
  return true;
}

export const stateFileEnv = 'BEACON_TESTENV_STATE';

/** The running test environment (inside Jest tests, or after `make testenv-up`). */
export function testEnv(): TestEnvState & {
  kubeConfig(user?: TestUser): KubeConfig;
  kubectl(args: string[], user?: TestUser): Promise<string>;
} {
  const file = process.env[stateFileEnv] ?? path.join(repoRoot, '.testenv/state.json');
  if (!fs.existsSync(file))
    throw new Error(`no test control plane: ${file} is missing (run make testenv-up)`);
  const state = JSON.parse(fs.readFileSync(file, 'utf8')) as TestEnvState;
  return {
    ...state,
    kubeConfig(user: TestUser = 'admin') {
      const kc = new KubeConfig();
      kc.loadFromFile(state.kubeconfig);
      kc.setCurrentContext(user);
      return kc;
    },
    kubectl: (args, user = 'admin') => kubectl(state.kubeconfig, args, user),
  };
}
